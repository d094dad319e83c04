"""A plan of another province cannot take over platforms and enterprises by reusing their ids.

The attack (issue 14, finding 1): a plan ``110000-2026``, whose key sorts before
``330200-2026``, lists ``plat-a`` and its enterprises ``e01``..``e10`` under new agent ids. The
registry must refuse it, and every route that takes a platform, enterprise or agent id must
then answer the rightful province's reviewer (plat-a's engineer for the routes a reviewer may
not call: attaching and withdrawing documents) and give the other province's reviewer nothing.
The routes are read from the app's own route table, so a new id-taking route is covered here
without a new line.

The world here is this module's own (a copy of the shared one, in its own folder), so a
regression that lets the plan in cannot spoil the other web tests' registry.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from collector.attachments import checked_upload
from collector.errors import ConflictError
from collector.plan import parse_plan
from collector.web.access import RULES
from collector.web.app import create_app, route_table
from tests.collector.attachments.samples import pdf_bytes
from tests.collector.test_registry_plan_ids import insert_version_directly
from tests.collector.web.world import T0, World, build_world, plan_text

#: Path parameters that name a platform, an enterprise or an agent of a plan.
ID_PARAMETERS = frozenset({"platform_id", "enterprise_id", "agent_id"})
ATTACKER = "rev-bj"
RIGHTFUL = "rev-nb"
#: The rightful caller of the routes a reviewer may not call: plat-a's engineer (e03 is hers).
RIGHTFUL_ENGINEER = "eng-a"
#: A document of e03's file (一企一档), for the routes that name one.
DOCUMENT = pdf_bytes("plan ids test contract")


def attacker_plan_text() -> str:
    """Province 110000's plan reusing plat-a and e01..e10; its agents have ids of their own,
    so nothing but the platform and enterprise ids collides."""
    plan = yaml.safe_load(plan_text("110000", "北京市", {"plat-a": "e"}))
    for enterprise in plan["platforms"][0]["enterprises"]:
        for agent in enterprise["agents"]:
            agent["id"] = "bj-" + agent["id"]
    return yaml.safe_dump(plan, allow_unicode=True, sort_keys=False)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory, world: World) -> Iterator[World]:
    """The shared world's plans, users and bundles, after 110000's plan was offered.

    Depends on ``world`` only so that the shared influxd holds its data (read, not written).
    """
    built = build_world(tmp_path_factory.mktemp("attacked"), None)
    built.read_influx_of(world)
    # Refused is what the fix does; the routes below must behave either way.
    with contextlib.suppress(ConflictError):
        built.registry.load_plan(parse_plan(attacker_plan_text(), "110000.yaml"), by="北京", now=T0)
    built.registry.add_user(
        ATTACKER, display_name="北京审核", role="reviewer", province="110000", by="setup", now=T0
    )
    built.tokens[ATTACKER] = built.registry.issue_token(
        ATTACKER, label="tests", by="setup", now=T0
    ).text
    try:
        yield built
    finally:
        built.registry.close()


@pytest.fixture(scope="module")
def attacked_client(attacked: World) -> Iterator[TestClient]:
    app = create_app(attacked.settings, attacked.registry, attacked.influx_opener())
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def test_the_other_provinces_plan_is_refused_and_names_both_plans(tmp_path: Path) -> None:
    world = build_world(tmp_path, None)
    try:
        with pytest.raises(ConflictError) as refused:
            world.registry.load_plan(
                parse_plan(attacker_plan_text(), "110000.yaml"), by="北京", now=T0
            )
        message = str(refused.value)
        assert "110000-2026" in message and "330200-2026" in message
        assert "platform plat-a" in message and "enterprise e01" in message
        assert world.registry.plan_keys() == ["330200-2026", "440300-2026"]
        assert [a.agent_id for a in world.registry.agents() if a.agent_id.startswith("bj-")] == []
    finally:
        world.registry.close()


def _id_routes(client: TestClient) -> list[tuple[str, str, str]]:
    """(name, method, path template) of every route with a platform, enterprise or agent id."""
    found: list[tuple[str, str, str]] = []
    for name, path, methods in route_table(client.app):  # type: ignore[arg-type]
        if ID_PARAMETERS & set(re.findall(r"{(\w+)}", path)):
            found.extend((name, method, path) for method in sorted(methods - {"HEAD"}))
    return found


def _path(template: str, world: World) -> str:
    # e03: a bundle on disk and no data in InfluxDB, so an evidence run is quick.
    values = {
        "platform_id": "plat-a",
        "enterprise_id": "e03",
        "agent_id": "e03-gw",
        "bundle_id": world.bundles["e03"].bundle_id,
        "name": "evidence.json",
        "kpi": "oee",
        "sha256": hashlib.sha256(DOCUMENT).hexdigest(),
    }
    missing = set(re.findall(r"{(\w+)}", template)) - set(values)
    assert not missing, f"{template}: give this test a value for {sorted(missing)}"
    return template.format(**values)


def _send(client: TestClient, world: World, user: str, method: str, path: str) -> Any:
    kwargs: dict[str, Any] = {"headers": world.headers(user), "follow_redirects": False}
    if method == "POST" and path.endswith("/decisions"):
        body = {
            "bundle_id": world.bundles["e03"].bundle_id,
            "outcome": "rectify",
            "comment": f"plan ids test by {user}",
        }
        kwargs["json" if path.startswith("/api/") else "data"] = body
    if method == "POST" and path.endswith("/attachments"):
        content = pdf_bytes(f"plan ids test by {user}")
        if path.startswith("/api/"):
            kwargs |= {"params": {"kind": "contract", "name": "c.pdf"}, "content": content}
        else:
            kwargs |= {"data": {"kind": "contract"}, "files": {"document": ("c.pdf", content)}}
    if method == "POST" and path.endswith("/withdraw"):
        kwargs["json" if path.startswith("/api/") else "data"] = {"reason": f"by {user}"}
    return client.request(method, path, **kwargs)


def _document_in_force(world: World) -> None:
    """DOCUMENT in e03's file, in force (again, after a withdrawal route withdrew it)."""
    upload = checked_upload(
        DOCUMENT, kind="contract", name="合同.pdf", amount=None, max_bytes=1 << 20
    )
    world.registry.attach("e03", upload, by="setup")


def test_every_id_route_answers_the_rightful_province_only(
    attacked_client: TestClient, attacked: World
) -> None:
    routes = _id_routes(attacked_client)
    names = {name for name, _, _ in routes}
    assert {"api.enterprises.get", "api.decisions.record", "page.enterprise"} <= names
    assert {"api.platforms.get", "api.agents.get", "page.platform"} <= names
    wrong = {}
    _document_in_force(attacked)
    for name, method, template in routes:  # the attacker first: nothing may be written
        path = _path(template, attacked)
        response = _send(attacked_client, attacked, ATTACKER, method, path)
        if response.status_code not in (403, 404):
            wrong[f"{ATTACKER} {method} {name}"] = f"{response.status_code}, expected 403/404"
    for name, method, template in routes:
        path = _path(template, attacked)
        caller = RIGHTFUL if "reviewer" in RULES[name] else RIGHTFUL_ENGINEER
        _document_in_force(attacked)
        response = _send(attacked_client, attacked, caller, method, path)
        if response.status_code >= 400:
            wrong[f"{caller} {method} {name}"] = (
                f"{response.status_code}, expected success: {response.text[:200]}"
            )
    assert wrong == {}


def test_the_other_provinces_reviewer_lists_nothing_of_the_plan(
    attacked_client: TestClient, attacked: World
) -> None:
    for path in ("/api/v1/platforms", "/api/v1/enterprises", "/api/v1/fleet"):
        response = attacked_client.get(
            path, params={"limit": 200}, headers=attacked.headers(ATTACKER)
        )
        assert response.status_code == 200, response.text
        assert response.json()["items"] == [], path
    rightful = attacked_client.get(
        "/api/v1/enterprises",
        params={"platform": "plat-a", "limit": 200},
        headers=attacked.headers(RIGHTFUL),
    )
    assert len(rightful.json()["items"]) == 10
    deciders = {d.decided_by for d in attacked.registry.decisions("plat-a", "e03")}
    assert ATTACKER not in deciders


def test_a_collision_written_by_an_older_loader_is_a_503_never_a_choice(tmp_path: Path) -> None:
    world = build_world(tmp_path, None)
    try:
        # As an older collector's plan load did: its plan_versions row, by sqlite3, because
        # today's load_plan refuses it.
        insert_version_directly(
            world.registry.path, parse_plan(attacker_plan_text(), "110000.yaml")
        )
        app = create_app(world.settings, world.registry, None)
        with TestClient(app, base_url="http://testserver") as client:
            for path in ("/api/v1/enterprises/e01", "/enterprises/e01", "/platforms/plat-b"):
                response = client.get(path, headers=world.headers(RIGHTFUL))
                assert response.status_code == 503, (path, response.text[:300])
                assert "more than one plan claims" in response.text
                assert "330200-2026" not in response.text  # the ids and plans go to the log
            api = client.get("/api/v1/platforms", headers=world.headers("admin"))
            assert api.json()["type"].endswith("/id-collision")
    finally:
        world.registry.close()
