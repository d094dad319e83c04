"""Every role against every route, and every route with an id against objects out of scope.

The table below is the test's own statement of who may call what. It must name every route of
the app (a new route without a row fails here, and without a rule in access.py the app does not
even build), and it must agree with collector/web/access.py (changing a rule means changing
this table too, on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.web.access import PUBLIC, RULES
from collector.web.app import route_table
from tests.collector.attachments.samples import pdf_bytes
from tests.collector.web.world import CONTRACT_SHA256, ON_BOTH_REGISTRIES, World

pytestmark = ON_BOTH_REGISTRIES

ALL = frozenset({"admin", "platform", "reviewer", "observer"})
NOT_PLATFORM = frozenset({"admin", "reviewer", "observer"})
RUNNERS = frozenset({"admin", "reviewer", "platform"})
ATTACHERS = frozenset({"admin", "platform"})
USERS = {
    "admin": "admin",
    "eng-a": "platform",
    "rev-nb": "reviewer",
    "rev-cn": "reviewer",
    "obs-nb": "observer",
}


@dataclass(frozen=True)
class Call:
    """A request to a route: method, path in plat-a / 330200, and (for BOLA) out of scope."""

    roles: frozenset[str]
    method: str
    path: str
    #: The same route on plat-b's objects (out of eng-a's scope), on plat-c / 440300 (out of
    #: rev-nb's scope); None for routes without an id.
    other_platform: str | None = None
    other_province: str | None = None
    json: bool = False
    form: bool = False
    #: The caller's own account forms: without their fields (or a password) the handler
    #: answers 422; what is checked here is only that the role gate lets the role through.
    gate_only: bool = False
    #: A document upload: the body is a PDF (the API's raw body, or the page's multipart form).
    upload: bool = False


def _calls(world: World) -> dict[str, Call]:
    e01, b01, c01 = (world.bundles[k].bundle_id for k in ("e01", "b01", "c01"))
    ent = "/api/v1/enterprises/"
    return {
        "api.me": Call(ALL, "GET", "/api/v1/me"),
        "api.provinces.list": Call(NOT_PLATFORM, "GET", "/api/v1/provinces"),
        "api.provinces.get": Call(
            NOT_PLATFORM,
            "GET",
            "/api/v1/provinces/330200",
            "/api/v1/provinces/330200",
            "/api/v1/provinces/440300",
        ),
        "api.platforms.list": Call(ALL, "GET", "/api/v1/platforms"),
        "api.platforms.get": Call(
            ALL,
            "GET",
            "/api/v1/platforms/plat-a",
            "/api/v1/platforms/plat-b",
            "/api/v1/platforms/plat-c",
        ),
        "api.platforms.rollup": Call(
            ALL,
            "GET",
            "/api/v1/platforms/plat-a/rollup",
            "/api/v1/platforms/plat-b/rollup",
            "/api/v1/platforms/plat-c/rollup",
        ),
        "api.provinces.export": Call(
            NOT_PLATFORM,
            "GET",
            "/api/v1/provinces/330200/export",
            "/api/v1/provinces/330200/export",
            "/api/v1/provinces/440300/export",
        ),
        "api.platforms.export": Call(
            ALL,
            "GET",
            "/api/v1/platforms/plat-a/export",
            "/api/v1/platforms/plat-b/export",
            "/api/v1/platforms/plat-c/export",
        ),
        "api.enterprises.export": Call(
            ALL, "GET", ent + "e01/export", ent + "b01/export", ent + "c01/export"
        ),
        "api.enterprises.list": Call(ALL, "GET", "/api/v1/enterprises"),
        "api.enterprises.get": Call(ALL, "GET", ent + "e01", ent + "b01", ent + "c01"),
        "api.enterprises.coverage": Call(
            ALL, "GET", ent + "e01/coverage", ent + "b01/coverage", ent + "c01/coverage"
        ),
        "api.enterprises.kpi_series": Call(
            ALL, "GET", ent + "e01/kpis/oee", ent + "b01/kpis/oee", ent + "c01/kpis/oee"
        ),
        "api.evidence.list": Call(
            ALL, "GET", ent + "e01/evidence", ent + "b01/evidence", ent + "c01/evidence"
        ),
        "api.evidence.run": Call(
            RUNNERS,
            "POST",
            ent + "e03/evidence",
            ent + "b03/evidence",
            ent + "c03/evidence",
            json=True,
        ),
        "api.evidence.get": Call(
            ALL,
            "GET",
            f"{ent}e01/evidence/{e01}",
            f"{ent}b01/evidence/{b01}",
            f"{ent}c01/evidence/{c01}",
        ),
        "api.evidence.files": Call(
            ALL,
            "GET",
            f"{ent}e01/evidence/{e01}/files",
            f"{ent}b01/evidence/{b01}/files",
            f"{ent}c01/evidence/{c01}/files",
        ),
        "api.evidence.file": Call(
            ALL,
            "GET",
            f"{ent}e01/evidence/{e01}/files/evidence.json",
            f"{ent}b01/evidence/{b01}/files/evidence.json",
            f"{ent}c01/evidence/{c01}/files/evidence.json",
        ),
        "api.decisions.list": Call(
            ALL, "GET", ent + "e01/decisions", ent + "b01/decisions", ent + "c01/decisions"
        ),
        "api.decisions.record": Call(
            frozenset({"reviewer"}),
            "POST",
            ent + "e01/decisions",
            ent + "b01/decisions",
            ent + "c01/decisions",
            json=True,
        ),
        "api.rectifications.list": Call(
            ALL,
            "GET",
            ent + "e01/rectifications",
            ent + "b01/rectifications",
            ent + "c01/rectifications",
        ),
        "api.attachments.list": Call(
            ALL, "GET", ent + "e01/attachments", ent + "b01/attachments", ent + "c01/attachments"
        ),
        "api.attachments.add": Call(
            ATTACHERS,
            "POST",
            ent + "e04/attachments?kind=contract&name=c.pdf",
            ent + "b04/attachments?kind=contract&name=c.pdf",
            ent + "c04/attachments?kind=contract&name=c.pdf",
            upload=True,
        ),
        # No document 00..0 is in force anywhere: an allowed role reaches the handler (404),
        # and nothing of the shared world is withdrawn.
        "api.attachments.withdraw": Call(
            ATTACHERS,
            "POST",
            f"{ent}e01/attachments/{'0' * 64}/withdraw",
            f"{ent}b01/attachments/{'0' * 64}/withdraw",
            f"{ent}c01/attachments/{'0' * 64}/withdraw",
            json=True,
            gate_only=True,
        ),
        "api.attachments.get": Call(
            ALL,
            "GET",
            f"{ent}e01/attachments/{CONTRACT_SHA256}",
            f"{ent}b01/attachments/{CONTRACT_SHA256}",
            f"{ent}c01/attachments/{CONTRACT_SHA256}",
        ),
        "api.fleet.list": Call(ALL, "GET", "/api/v1/fleet"),
        "api.agents.get": Call(
            ALL, "GET", "/api/v1/agents/e01-gw", "/api/v1/agents/b01-gw", "/api/v1/agents/c01-gw"
        ),
        "api.quarantine.list": Call(ALL, "GET", "/api/v1/quarantine"),
        "api.quarantine.get": Call(
            ALL, "GET", "/api/v1/quarantine/1", "/api/v1/quarantine/2", "/api/v1/quarantine/3"
        ),
        "api.audit.list": Call(ALL, "GET", "/api/v1/audit"),
        "api.users.list": Call(frozenset({"admin"}), "GET", "/api/v1/users"),
        "page.home": Call(ALL, "GET", "/"),
        "page.province": Call(
            NOT_PLATFORM, "GET", "/provinces/330200", "/provinces/330200", "/provinces/440300"
        ),
        "page.platform": Call(
            ALL, "GET", "/platforms/plat-a", "/platforms/plat-b", "/platforms/plat-c"
        ),
        "page.enterprise": Call(
            ALL, "GET", "/enterprises/e01", "/enterprises/b01", "/enterprises/c01"
        ),
        "page.bundle_file": Call(
            ALL,
            "GET",
            f"/enterprises/e01/bundles/{e01}/evidence.json",
            f"/enterprises/b01/bundles/{b01}/evidence.json",
            f"/enterprises/c01/bundles/{c01}/evidence.json",
        ),
        "page.decide": Call(
            frozenset({"reviewer"}),
            "POST",
            "/enterprises/e01/decisions",
            "/enterprises/b01/decisions",
            "/enterprises/c01/decisions",
            form=True,
        ),
        "page.run_evidence": Call(
            RUNNERS,
            "POST",
            "/enterprises/e03/evidence",
            "/enterprises/b03/evidence",
            "/enterprises/c03/evidence",
        ),
        "page.attach": Call(
            ATTACHERS,
            "POST",
            "/enterprises/e04/attachments",
            "/enterprises/b04/attachments",
            "/enterprises/c04/attachments",
            upload=True,
        ),
        "page.withdraw_attachment": Call(
            ATTACHERS,
            "POST",
            f"/enterprises/e01/attachments/{'0' * 64}/withdraw",
            f"/enterprises/b01/attachments/{'0' * 64}/withdraw",
            f"/enterprises/c01/attachments/{'0' * 64}/withdraw",
            form=True,
            gate_only=True,
        ),
        "page.attachment": Call(
            ALL,
            "GET",
            f"/enterprises/e01/attachments/{CONTRACT_SHA256}",
            f"/enterprises/b01/attachments/{CONTRACT_SHA256}",
            f"/enterprises/c01/attachments/{CONTRACT_SHA256}",
        ),
        "page.fleet": Call(ALL, "GET", "/fleet"),
        "page.quarantine": Call(ALL, "GET", "/quarantine"),
        "page.audit": Call(ALL, "GET", "/audit"),
        "page.account": Call(ALL, "GET", "/account"),
        "page.account_password": Call(ALL, "POST", "/account/password", gate_only=True),
        "page.totp_start": Call(ALL, "POST", "/account/totp/start", gate_only=True),
        "page.totp_enrol": Call(ALL, "POST", "/account/totp", gate_only=True),
        "page.totp_remove": Call(ALL, "POST", "/account/totp/remove", gate_only=True),
        # The day seals' checks (#17): the enterprise page's readers, in the same scope.
        "api.enterprises.day_checks": Call(
            ALL, "GET", ent + "e01/day-checks", ent + "b01/day-checks", ent + "c01/day-checks"
        ),
    }


def _send(client: TestClient, world: World, user: str, call: Call, path: str) -> Any:
    enterprise = path.split("/enterprises/")[-1].split("/")[0] if "/enterprises/" in path else ""
    bundle = world.bundles.get(enterprise)
    body = {
        "bundle_id": bundle.bundle_id if bundle else "0" * 64,
        "outcome": "pass",
        "comment": f"access test by {user}",
    }
    kwargs: dict[str, Any] = {"headers": world.headers(user), "follow_redirects": False}
    if call.json and call.method == "POST" and path.endswith("/decisions"):
        kwargs["json"] = body
    elif path.endswith("/withdraw"):
        kwargs["json" if call.json else "data"] = {"reason": f"access test by {user}"}
    elif call.form:
        kwargs["data"] = body
    elif call.upload and path.startswith("/api/"):
        kwargs["content"] = pdf_bytes(f"access test by {user}")
    elif call.upload:
        document = ("c.pdf", pdf_bytes(f"page access test by {user}"), "application/pdf")
        kwargs["files"] = {"document": document}
        kwargs["data"] = {"kind": "contract"}
    return client.request(call.method, path, **kwargs)


def _allowed(response: Any, call: Call) -> bool:
    if call.gate_only:
        return response.status_code not in (401, 403)
    return bool(response.status_code < 400)


def test_every_route_has_a_row_here_and_the_same_rule_in_access_py(
    client: TestClient, world: World
) -> None:
    names = {name for name, _, _ in route_table(client.app)} - PUBLIC  # type: ignore[arg-type]
    calls = _calls(world)
    assert names == set(calls), "routes without a row in this table, or rows without a route"
    assert {name: RULES[name] for name in calls} == {name: c.roles for name, c in calls.items()}


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_role_against_every_route(client: TestClient, world: World, user: str) -> None:
    wrong = {}
    for name, call in _calls(world).items():
        response = _send(client, world, user, call, call.path)
        allowed = USERS[user] in call.roles
        if allowed and not _allowed(response, call):
            wrong[name] = f"{response.status_code}, expected success: {response.text[:200]}"
        if not allowed and response.status_code != 403:
            wrong[name] = f"{response.status_code}, expected 403"
    assert wrong == {}


@pytest.mark.parametrize(
    "user,attr",
    [("eng-a", "other_platform"), ("rev-nb", "other_province"), ("obs-nb", "other_province")],
)
def test_objects_out_of_scope_are_404_on_every_route_with_an_id(
    client: TestClient, world: World, user: str, attr: str
) -> None:
    wrong = {}
    for name, call in _calls(world).items():
        path = getattr(call, attr)
        if path is None:
            continue
        response = _send(client, world, user, call, path)
        expected = 404 if USERS[user] in call.roles else 403
        if path == call.path:  # the platform role never sees a province: 403 by role first
            expected = 403
        if response.status_code != expected:
            wrong[name] = f"{path}: {response.status_code}, expected {expected}"
    assert wrong == {}


def test_lists_hold_only_what_the_caller_sees(client: TestClient, world: World) -> None:
    def ids(user: str, path: str, key: str = "id") -> set[str]:
        body = client.get(path, params={"limit": 200}, headers=world.headers(user)).json()
        return {item[key] for item in body["items"]}

    assert ids("eng-a", "/api/v1/platforms") == {"plat-a"}
    assert {i[0] for i in ids("eng-a", "/api/v1/enterprises")} == {"e"}
    assert ids("rev-nb", "/api/v1/platforms") == {"plat-a", "plat-b"}
    assert ids("rev-cn", "/api/v1/platforms") == {"plat-a", "plat-b", "plat-c"}
    assert {i.split("-")[0][0] for i in ids("eng-b", "/api/v1/fleet", "agent_id")} == {"b"}
    assert ids("eng-a", "/api/v1/quarantine", "topic") == {"rv/v1/plat-a/e01/e01-gw/windows"}
    assert "garbage/topic" not in ids("rev-nb", "/api/v1/quarantine", "topic")
    assert "garbage/topic" in ids("admin", "/api/v1/quarantine", "topic")
    subjects = ids("eng-b", "/api/v1/audit", "subject")
    assert subjects and all(s.startswith(("b", "plat-b/", "user:eng-b")) for s in subjects)
