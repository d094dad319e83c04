"""Platform, enterprise and agent ids are unique across every plan in the registry (#14)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.errors import IdCollision, IdCollisionError
from collector.plan import LoadedPlan, parse_plan, plan_content
from collector.registry import Registry
from collector.registry.records import format_time
from collector.web.directory import DirectoryCache
from contract import wire
from tests.collector.registry_backends import raw_execute
from tests.collector.web.world import plan_text

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
NINGBO = ("330200", "浙江省宁波市")
BEIJING = ("110000", "北京市")


def plan(
    province: tuple[str, str],
    platforms: dict[str, str],
    *,
    agent_prefix: str = "",
    batch_year: int = 2026,
) -> LoadedPlan:
    """A valid plan: ten enterprises ``<prefix>01..10`` per platform, agents ``<prefix>NN-gw``
    (``agent_prefix`` in front, to keep the agents apart when only other ids should collide)."""
    data: dict[str, Any] = yaml.safe_load(plan_text(*province, platforms))
    data["batch_year"] = batch_year
    for platform in data["platforms"]:
        for enterprise in platform["enterprises"]:
            for agent in enterprise["agents"]:
                agent["id"] = agent_prefix + agent["id"]
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return parse_plan(text, f"{province[0]}-{batch_year}.yaml")


@pytest.fixture
def registry(registry_location: Path | str) -> Iterator[Registry]:
    """A registry holding Ningbo's plan 330200-2026: plat-a with e01..e10 (on each backend)."""
    with Registry(registry_location) as opened:
        opened.load_plan(plan(NINGBO, {"plat-a": "e"}), by="宁波", now=T0)
        yield opened


def _refused(registry: Registry, loaded: LoadedPlan) -> IdCollisionError:
    audit_before = len(registry.audit())
    agents_before = len(registry.agents())
    with pytest.raises(IdCollisionError) as refused:
        registry.load_plan(loaded, by="北京", now=T0)
    assert registry.plan_keys() == ["330200-2026"], "nothing of the refused plan is stored"
    assert (len(registry.audit()), len(registry.agents())) == (audit_before, agents_before)
    return refused.value


def test_a_plan_reusing_a_platform_and_its_enterprises_is_refused(registry: Registry) -> None:
    error = _refused(registry, plan(BEIJING, {"plat-a": "e"}, agent_prefix="bj-"))
    assert error.plan_key == "110000-2026"
    assert error.collisions[0] == IdCollision("platform", "plat-a", ("110000-2026", "330200-2026"))
    assert [c.id for c in error.collisions] == ["plat-a", *(f"e{n:02d}" for n in range(1, 11))]
    message = str(error)
    assert message.startswith("plan 110000-2026 (110000-2026.yaml) lists 11 ids")
    assert "platform plat-a (held by plan 330200-2026)" in message
    assert "enterprise e01 (held by plan 330200-2026)" in message
    assert "Nothing was written." in message


def test_an_enterprise_id_alone_under_another_platform_is_refused(registry: Registry) -> None:
    error = _refused(registry, plan(BEIJING, {"plat-bj": "e"}, agent_prefix="bj-"))
    assert {c.kind for c in error.collisions} == {"enterprise"}


def test_an_agent_id_alone_is_refused_and_named_as_an_agent(registry: Registry) -> None:
    loaded = plan(BEIJING, {"plat-bj": "bj"})
    text = loaded.text.replace("id: bj01-gw", "id: e01-gw")
    error = _refused(registry, parse_plan(text, "110000-2026.yaml"))
    assert error.collisions == (IdCollision("agent", "e01-gw", ("110000-2026", "330200-2026")),)
    assert "agent e01-gw (held by plan 330200-2026)" in str(error)


def test_an_agent_added_outside_any_plan_file_holds_its_id(registry: Registry) -> None:
    key = wire.public_key_text(Ed25519PrivateKey.generate().public_key())
    registry.add_agent(
        "spare-gw", platform="plat-a", enterprise="e02", public_key=key, devices=["x"], by="ops"
    )
    loaded = plan(BEIJING, {"plat-bj": "bj"})
    text = loaded.text.replace("id: bj01-gw", "id: spare-gw")
    error = _refused(registry, parse_plan(text, "110000-2026.yaml"))
    assert [(c.kind, c.id) for c in error.collisions] == [("agent", "spare-gw")]


def test_an_id_only_an_older_version_listed_stays_with_its_plan(registry: Registry) -> None:
    data = yaml.safe_load(registry.plan_version("330200-2026").source_text)
    last = data["platforms"][0]["enterprises"][9]
    last["id"] = "e11"
    last["agents"] = [
        {
            "id": "e11-gw",
            "public_key": wire.public_key_text(Ed25519PrivateKey.generate().public_key()),
            "devices": ["press-1"],
        }
    ]
    renamed = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    assert registry.load_plan(parse_plan(renamed, "v2.yaml"), by="宁波").version == 2
    loaded = plan(BEIJING, {"plat-bj": "bj"}, agent_prefix="bj-")
    text = loaded.text.replace("id: bj10\n", "id: e10\n")
    error = _refused(registry, parse_plan(text, "110000-2026.yaml"))
    assert [(c.kind, c.id) for c in error.collisions] == [("enterprise", "e10")]


def test_a_new_version_of_the_same_plan_keeps_its_ids(registry: Registry) -> None:
    changed = registry.plan_version("330200-2026").source_text.replace("size: 5", "size: 6")
    result = registry.load_plan(parse_plan(changed, "v2.yaml"), by="宁波")
    assert (result.plan_key, result.version, result.created) == ("330200-2026", 2, True)
    assert registry.id_collisions() == ()


def test_plans_with_their_own_ids_load_side_by_side(registry: Registry) -> None:
    registry.load_plan(plan(BEIJING, {"plat-bj": "bj"}), by="北京")
    assert registry.plan_keys() == ["110000-2026", "330200-2026"]
    registry.require_unique_ids()  # nothing to say


def test_two_concurrent_loads_of_colliding_plans_cannot_both_pass(
    registry_location: Path | str,
) -> None:
    path = registry_location
    Registry(path).close()
    plans = [
        plan(BEIJING, {"plat-x": "x"}, agent_prefix="bj-"),
        plan(("120000", "天津市"), {"plat-x": "x"}, agent_prefix="tj-"),
    ]
    start = threading.Barrier(len(plans))
    outcomes: list[str] = []

    def load(loaded: LoadedPlan) -> None:
        # Each thread is a process of its own as far as the database is concerned: its own
        # Registry, its own connection; the lock is the file's (SQLite) or the plans'
        # advisory lock (PostgreSQL).
        with Registry(path) as own:
            start.wait()
            try:
                own.load_plan(loaded, by="loader")
            except IdCollisionError:
                outcomes.append("refused")
            else:
                outcomes.append("loaded")

    threads = [threading.Thread(target=load, args=(loaded,)) for loaded in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["loaded", "refused"]
    with Registry(path) as reader:
        assert len(reader.plan_keys()) == 1
        assert reader.id_collisions() == ()


def insert_version_directly(path: Path | str, loaded: LoadedPlan) -> None:
    """Store ``loaded`` as a plan version the way the loader did before ids were checked
    across plans: a plan_versions row, written with raw SQL because today's load_plan refuses
    it (which is the point). Its agents are left out: the platform and enterprise ids are
    the collision under test."""
    raw_execute(
        path,
        "INSERT INTO plan_versions (plan_key, version, digest, content, source_name, "
        "source_text, loaded_at, loaded_by, changes) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)",
        params=(
            loaded.plan.key,
            loaded.digest,
            plan_content(loaded.plan),
            loaded.source,
            loaded.text,
            format_time(T0),
            "older collector",
            json.dumps(["(first version)"]),
        ),
    )


def test_a_collision_already_in_the_registry_is_named_never_resolved(
    registry: Registry, registry_location: Path | str
) -> None:
    insert_version_directly(registry_location, plan(BEIJING, {"plat-a": "e"}, agent_prefix="bj-"))
    both = ("110000-2026", "330200-2026")
    assert registry.id_collisions()[0] == IdCollision("platform", "plat-a", both)
    with pytest.raises(IdCollisionError) as refused:
        registry.require_unique_ids()
    assert "platform plat-a (plans 110000-2026, 330200-2026)" in str(refused.value)
    assert "docs/operations.md" in str(refused.value)
    with pytest.raises(IdCollisionError):
        registry.find_enterprise(None, "e01")
    with pytest.raises(IdCollisionError):
        registry.find_enterprise("plat-a", "e01")
    with pytest.raises(IdCollisionError):
        DirectoryCache(registry).current()


def insert_agent_directly(path: Path | str, agent_id: str, plan_key: str, enterprise: str) -> None:
    """Register an agent of ``plan_key`` under plat-a's ``enterprise`` as an older loader
    could (today's load_plan refuses the plan that would bring it)."""
    key = wire.public_key_text(Ed25519PrivateKey.generate().public_key())
    raw_execute(
        path,
        "INSERT INTO agents (agent_id, plan_key, platform, enterprise, public_key, devices, "
        "added_at, added_by) VALUES (?, ?, 'plat-a', ?, ?, '[\"press-1\"]', ?, ?)",
        params=(agent_id, plan_key, enterprise, key, format_time(T0), "older collector"),
    )


def test_a_collision_in_the_registry_is_resolved_by_a_new_version_of_the_wrong_plan(
    registry: Registry, registry_location: Path | str
) -> None:
    insert_version_directly(registry_location, plan(BEIJING, {"plat-a": "e"}, agent_prefix="bj-"))
    insert_agent_directly(registry_location, "bj-e01-gw", "110000-2026", "e01")
    # The rightful plan keeps its ids: a new version of it still loads.
    changed = registry.plan_version("330200-2026").source_text.replace("size: 5", "size: 6")
    assert registry.load_plan(parse_plan(changed, "v2.yaml"), by="宁波").version == 2
    # The wrong plan gets ids of its own; its stray agent under e01 still claims plat-a/e01.
    registry.load_plan(plan(BEIJING, {"plat-bj": "bj"}), by="北京")
    left = registry.id_collisions()
    assert [(c.kind, c.id) for c in left] == [("platform", "plat-a"), ("enterprise", "e01")]
    registry.revoke_agent("bj-e01-gw", by="ops", reason="registered under another plan")
    assert registry.id_collisions() == ()
    registry.require_unique_ids()
    directory = DirectoryCache(registry).current()
    assert directory.enterprises["e01"].province_code == "330200"
    assert directory.platforms["plat-bj"].province.code == "110000"
