"""The registry's shared limits (collector/registry/sql/run_slots.py, login_failures.py) and
schema 3. The tests taking ``registry`` run on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.registry import Registry, SlotClaim, ThrottleLimits
from collector.registry.sql import tables as schema_tables
from collector.registry.sqlite.schema import SQLITE

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _claim(
    registry: Registry, user: str, enterprise: str, now: dt.datetime | None = T0, holder: str = "r"
) -> SlotClaim:
    return registry.claim_run_slot(
        user=user,
        platform="p",
        enterprise=enterprise,
        holder=holder,
        per_user=2,
        per_enterprise=1,
        queue=3,
        lease_s=60.0,
        now=now,
    )


@pytest.fixture
def registry(registry_location: Path | str) -> Iterator[Registry]:
    with Registry(registry_location) as opened:
        yield opened


def test_slots_are_limited_per_enterprise_user_and_queue(registry: Registry) -> None:
    first = _claim(registry, "a", "e1", T0)
    assert first.ok
    same = _claim(registry, "b", "e1", T0)
    assert (same.refused, same.held, same.limit) == ("enterprise", 1, 1)
    assert _claim(registry, "a", "e2", T0).ok
    mine = _claim(registry, "a", "e3", T0)
    assert (mine.refused, mine.held, mine.limit) == ("user", 2, 2)
    assert _claim(registry, "b", "e3", T0).ok
    full = _claim(registry, "c", "e4", T0)
    assert (full.refused, full.held, full.limit) == ("queue", 3, 3)
    assert first.slot is not None
    registry.release_run_slot(first.slot.slot_id)
    assert _claim(registry, "c", "e4", T0).ok


def test_a_renewed_lease_holds_and_an_expired_one_is_reclaimed(registry: Registry) -> None:
    held = _claim(registry, "a", "e1", T0, holder="dead")
    assert held.slot is not None
    later = T0 + dt.timedelta(seconds=50)
    assert registry.renew_run_slot(held.slot.slot_id, lease_s=60, state="running", now=later)
    still = T0 + dt.timedelta(seconds=100)  # past the first lease, inside the renewed one
    assert _claim(registry, "b", "e1", still).refused == "enterprise"
    assert [s.state for s in registry.run_slots(now=still)] == ["running"]
    gone = T0 + dt.timedelta(seconds=111)  # the holder stopped renewing: it crashed
    assert registry.run_slots(now=gone) == []
    taken = _claim(registry, "b", "e1", gone)
    assert taken.ok
    assert not registry.renew_run_slot(held.slot.slot_id, lease_s=60, now=gone)


def test_the_nth_failure_locks_the_key_and_the_audit_stays_bounded(registry: Registry) -> None:
    limits = ThrottleLimits(limit=3, window_s=300, lockout_s=600)
    outcomes = [
        registry.record_login_failure(
            ["addr:192.0.2.7"],
            limits=limits,
            subject="login:192.0.2.7",
            detail={"address": "192.0.2.7"},
            now=T0 + dt.timedelta(seconds=n),
        )
        for n in range(6)
    ]
    assert [o.newly_locked for o in outcomes] == [(), (), ("addr:192.0.2.7",), (), (), ()]
    assert [o.audited for o in outcomes] == [True, True, True, False, False, False]
    actions = [e.action for e in registry.audit(subject="login:192.0.2.7")]
    assert actions == ["auth.failure", "auth.failure", "auth.lock"]
    assert registry.login_locks(["addr:192.0.2.7"], now=T0 + dt.timedelta(seconds=603)) == {}
    assert registry.login_locks(["addr:192.0.2.7"], now=T0 + dt.timedelta(seconds=599))


def test_failures_outside_the_window_do_not_add_up(registry: Registry) -> None:
    limits = ThrottleLimits(limit=2, window_s=60, lockout_s=600)
    for minutes in (0, 2, 4):
        outcome = registry.record_login_failure(
            ["addr:x"],
            limits=limits,
            subject="login:x",
            detail={},
            now=T0 + dt.timedelta(minutes=minutes),
        )
        assert outcome.newly_locked == ()


def test_a_version_2_registry_is_upgraded_to_3_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in schema_tables(SQLITE, upto=2):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO users (user_id, display_name, role, created_at, created_by) "
        "VALUES ('ops', '运维', 'admin', '2026-06-01T08:00:00.000000Z', 'setup')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    with Registry(path) as upgraded:
        assert [u.user_id for u in upgraded.users()] == ["ops"]
        assert _claim(upgraded, "ops", "e1", None).ok
        assert upgraded.run_slots()[0].user_id == "ops"
    check = sqlite3.connect(path)
    # ... and on to the newest (4: people's logins, issue 21).
    assert check.execute("PRAGMA user_version").fetchone()[0] >= 3
    tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master")}
    assert {"evidence_slots", "login_failures", "users", "review_decisions"} <= tables
    check.close()
