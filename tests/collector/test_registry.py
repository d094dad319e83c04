"""The registry database: versions, agents, audit, quarantine, seqs, status, two processes.

Every test taking ``registry`` runs on both backends (SQLite and PostgreSQL,
tests/collector/registry_backends.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.errors import ConflictError, NotFoundError, RegistryError
from collector.plan import load_plan, parse_plan
from collector.registry import QUARANTINE_RAW_LIMIT, Registry
from collector.registry.records import format_time, parse_time
from contract import wire
from tests.collector.registry_backends import RAW_ERRORS, is_postgres, raw_execute

ROOT = Path(__file__).parents[2]
VALID = Path(__file__).parent / "plan_cases" / "valid_minimal" / "plan.yaml"
T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def _key() -> str:
    return wire.public_key_text(Ed25519PrivateKey.generate().public_key())


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def registry(registry_location: Path | str) -> Iterator[Registry]:
    with Registry(registry_location) as opened:
        opened.load_plan(load_plan(VALID), by="alice", now=T0)
        yield opened


# --- plan versions ------------------------------------------------------------------------


def test_loading_the_same_plan_twice_keeps_one_version(registry: Registry) -> None:
    again = registry.load_plan(load_plan(VALID), by="bob", now=T0 + dt.timedelta(hours=1))
    assert (again.created, again.version, again.agents_added) == (False, 1, ())
    assert [info.version for info in registry.plan_history("330200-2026")] == [1]
    assert [entry.action for entry in registry.audit()].count("plan.load") == 1


def test_changing_a_target_adds_a_version_and_keeps_the_old(registry: Registry) -> None:
    text = VALID.read_text().replace("size: 5, unit: pp", "size: 7, unit: pp")
    later = T0 + dt.timedelta(days=3)
    result = registry.load_plan(parse_plan(text, "plan-v2.yaml"), by="bob", now=later)
    assert (result.created, result.version) == (True, 2)
    assert "platforms[plat-a].enterprises[plat-a-e01].targets.oee.size: 5.0 -> 7.0" in (
        result.changes
    )
    history = registry.plan_history("330200-2026")
    assert [(h.version, h.loaded_by, h.loaded_at) for h in history] == [
        (1, "alice", T0),
        (2, "bob", later),
    ]
    first = registry.plan_version("330200-2026", 1)
    latest = registry.plan_version("330200-2026")
    assert first.plan.platforms[0].enterprises[0].targets["oee"].size == 5
    assert latest.plan.platforms[0].enterprises[0].targets["oee"].size == 7
    assert latest.source_text == text
    with pytest.raises(NotFoundError):
        registry.plan_version("330200-2026", 3)


def test_a_rectification_is_a_new_version_and_both_periods_are_kept(registry: Registry) -> None:
    rectified = VALID.parent.parent / "valid_with_rectification" / "plan.yaml"
    result = registry.load_plan(load_plan(rectified), by="bob", now=T0 + dt.timedelta(days=90))
    assert (result.created, result.version) == (True, 2)
    assert len(result.changes) == 1
    assert result.changes[0].startswith(
        "platforms[plat-a].enterprises[plat-a-e04].rectifications: added"
    )
    found = registry.find_enterprise("plat-a", "plat-a-e04")
    assert found is not None and found[0].version == 2
    enterprise = found[2]
    assert [(p.start, p.end) for p in enterprise.reporting_periods] == [
        (dt.date(2026, 6, 1), dt.date(2026, 8, 30)),
        (dt.date(2026, 9, 14), dt.date(2026, 10, 31)),
        (dt.date(2026, 11, 23), dt.date(2027, 1, 10)),
    ]
    assert (
        registry.plan_version("330200-2026", 1).plan.platforms[0].enterprises[3].rectifications
        == ()
    )


def test_versions_and_audit_cannot_be_rewritten(
    registry: Registry, registry_location: Path | str
) -> None:
    statements = [
        "UPDATE plan_versions SET loaded_by = 'mallory'",
        "DELETE FROM plan_versions",
        "UPDATE audit SET actor = 'mallory'",
        "DELETE FROM audit",
    ]
    if is_postgres(registry_location):  # SQLite has no TRUNCATE
        statements += ["TRUNCATE plan_versions", "TRUNCATE audit"]
    for statement in statements:
        with pytest.raises(RAW_ERRORS, match="append-only"):
            raw_execute(registry_location, statement)
    assert [e.action for e in registry.audit()].count("plan.load") == 1


def test_no_code_updates_or_deletes_the_audit_or_versions() -> None:
    pattern = re.compile(r"(UPDATE\s+(audit|plan_versions)|DELETE\s+FROM\s+(audit|plan_versions))")
    for path in (ROOT / "collector").rglob("*.py"):
        assert not pattern.search(path.read_text().replace("BEFORE UPDATE ON", "")), path


def test_a_plan_that_moves_an_agent_key_is_refused_whole(registry: Registry) -> None:
    old_key = registry.agent_identity("plat-a-e01-gw")
    assert old_key is not None
    text = VALID.read_text().replace(old_key.public_key, _key())
    text = text.replace("size: 5, unit: pp", "size: 9, unit: pp")
    with pytest.raises(ConflictError, match="another public key"):
        registry.load_plan(parse_plan(text, "p.yaml"), by="bob")
    assert len(registry.plan_history("330200-2026")) == 1


def test_find_enterprise_reads_the_latest_version(registry: Registry) -> None:
    found = registry.find_enterprise("plat-a", "plat-a-e04")
    assert found is not None
    info, platform, enterprise = found
    assert (info.version, platform.sub_industry, enterprise.go_live) == (
        1,
        "auto-parts",
        dt.date(2026, 5, 6),
    )
    assert registry.find_enterprise("plat-a", "nobody") is None


# --- agents -------------------------------------------------------------------------------


def test_plan_agents_are_registered_with_their_devices(registry: Registry) -> None:
    entry = registry.agent_identity("plat-a-e02-gw")
    assert entry is not None
    assert (entry.platform, entry.enterprise, entry.devices) == (
        "plat-a",
        "plat-a-e02",
        ("press-1", "meter-1"),
    )
    assert not entry.revoked
    assert registry.agent_by_key(entry.public_key) == entry
    assert registry.agent_identity("nobody") is None


def test_add_then_revoke_an_agent(registry: Registry) -> None:
    key = _key()
    added = registry.add_agent(
        "gw-extra", platform="plat-a", enterprise="plat-a-e03", public_key=key,
        devices=["press-9"], by="carol", now=T0,
    )  # fmt: skip
    assert added.public_key == key and added.plan_key == "330200-2026"
    revoked_at = T0 + dt.timedelta(days=30)
    registry.revoke_agent("gw-extra", by="dave", reason="gateway stolen", now=revoked_at)
    entry = registry.agent_identity("gw-extra")
    assert entry is not None and entry.revoked
    assert (entry.revoked_at, entry.revoked_by, entry.revoke_reason) == (
        revoked_at,
        "dave",
        "gateway stolen",
    )
    assert entry.revoked_as_of(revoked_at) and not entry.revoked_as_of(T0)
    with pytest.raises(ConflictError, match="already revoked"):
        registry.revoke_agent("gw-extra", by="dave", reason="again")
    with pytest.raises(ConflictError, match="never reused"):
        registry.add_agent(
            "gw-extra", platform="plat-a", enterprise="plat-a-e03", public_key=_key(),
            devices=["press-9"], by="carol",
        )  # fmt: skip
    actions = [(e.action, e.subject, e.actor) for e in registry.audit(subject="gw-extra")]
    assert actions == [("agent.add", "gw-extra", "carol"), ("agent.revoke", "gw-extra", "dave")]


def test_agent_add_refusals(registry: Registry) -> None:
    taken = registry.agent_identity("plat-a-e01-gw")
    assert taken is not None
    with pytest.raises(NotFoundError, match="load the plan first"):
        registry.add_agent(
            "gw-x", platform="plat-a", enterprise="elsewhere", public_key=_key(),
            devices=["d"], by="carol",
        )  # fmt: skip
    with pytest.raises(ConflictError, match="already registered to agent plat-a-e01-gw"):
        registry.add_agent(
            "gw-x", platform="plat-a", enterprise="plat-a-e01", public_key=taken.public_key,
            devices=["d"], by="carol",
        )  # fmt: skip
    with pytest.raises(ValueError, match="3 bytes, expected 32"):
        registry.add_agent(
            "gw-x", platform="plat-a", enterprise="plat-a-e01", public_key="ed25519:AAAA",
            devices=["d"], by="carol",
        )  # fmt: skip
    with pytest.raises(ValueError, match="who makes the change"):
        registry.revoke_agent("plat-a-e01-gw", by=" ", reason="r")
    with pytest.raises(NotFoundError):
        registry.revoke_agent("nobody", by="dave", reason="r")


_VANISH_SQLITE = (
    "CREATE TRIGGER vanish_added AFTER INSERT ON agents WHEN NEW.agent_id = 'gw-gone' "
    "BEGIN DELETE FROM agents WHERE agent_id = NEW.agent_id; END;"
    "CREATE TRIGGER vanish_revoked AFTER UPDATE ON agents WHEN NEW.agent_id = 'plat-a-e01-gw' "
    "BEGIN DELETE FROM agents WHERE agent_id = NEW.agent_id; END;"
)
_VANISH_POSTGRES = (
    "CREATE FUNCTION vanish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM agents WHERE agent_id = NEW.agent_id; RETURN NULL; END $$",
    "CREATE TRIGGER vanish_added AFTER INSERT ON agents FOR EACH ROW "
    "WHEN (NEW.agent_id = 'gw-gone') EXECUTE FUNCTION vanish()",
    "CREATE TRIGGER vanish_revoked AFTER UPDATE ON agents FOR EACH ROW "
    "WHEN (NEW.agent_id = 'plat-a-e01-gw') EXECUTE FUNCTION vanish()",
)


def test_an_agent_row_gone_before_it_is_read_back_is_an_error_and_writes_nothing(
    registry: Registry, registry_location: Path | str
) -> None:
    # A real trigger, not a mock: something outside the collector deletes the row the
    # registry has just written, inside the same transaction.
    if is_postgres(registry_location):
        raw_execute(registry_location, *_VANISH_POSTGRES)
    else:
        raw_execute(registry_location, _VANISH_SQLITE)
    audited = len(registry.audit())
    with pytest.raises(RegistryError, match="agent gw-gone was written and cannot be read back"):
        registry.add_agent(
            "gw-gone", platform="plat-a", enterprise="plat-a-e03", public_key=_key(),
            devices=["press-9"], by="carol",
        )  # fmt: skip
    with pytest.raises(RegistryError, match="agent plat-a-e01-gw was written"):
        registry.revoke_agent("plat-a-e01-gw", by="dave", reason="stolen")
    entry = registry.agent_identity("plat-a-e01-gw")
    assert entry is not None and not entry.revoked
    assert len(registry.audit()) == audited


# --- quarantine ---------------------------------------------------------------------------


def test_quarantine_keeps_hostile_payloads_bounded(registry: Registry, tmp_path: Path) -> None:
    huge = bytes(range(256)) * 8192  # 2 MiB of every byte value, NULs included
    hostile_topic = "rv/v1/\x1b[31mred\udcff/\u202e/windows"
    first = registry.quarantine_add(
        huge, topic=hostile_topic, received_at=T0, reason_code="too_large",
        detail="\x00" * 5000, agent_id="plat-a-e01-gw",
    )  # fmt: skip
    second = registry.quarantine_add(
        "{\"v\":1,\"名\":\"值\"}".encode(), topic="rv/v1/a/b/c/windows",
        received_at=T0 + dt.timedelta(minutes=1), reason_code="bad_signature", detail="sig",
    )  # fmt: skip
    entry = registry.quarantine_get(first)
    assert entry is not None
    assert len(entry.raw) == QUARANTINE_RAW_LIMIT and entry.raw == huge[:QUARANTINE_RAW_LIMIT]
    assert entry.raw_length == len(huge) and entry.truncated
    assert entry.raw_sha256 == hashlib.sha256(huge).hexdigest()
    assert "\\udcff" in entry.topic and len(entry.detail) == 2000
    assert [e.id for e in registry.quarantine_list()] == [second, first]
    assert [e.id for e in registry.quarantine_list(reason="too_large")] == [first]
    assert [e.id for e in registry.quarantine_list(since=T0 + dt.timedelta(seconds=30))] == [second]
    assert registry.quarantine_counts() == {"too_large": 1, "bad_signature": 1}
    out = tmp_path / "q.jsonl"
    with out.open("w", encoding="utf-8") as stream:
        assert registry.quarantine_export(stream) == 2
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["raw_truncated"] is True and lines[0]["raw_utf8"] is None
    assert lines[1]["raw_utf8"] == '{"v":1,"名":"值"}'
    with pytest.raises(ValueError, match="reason code"):
        registry.quarantine_add(b"", topic="t", received_at=T0, reason_code="Bad Code", detail="")


def test_quarantine_counts_of_one_enterprise(registry: Registry) -> None:
    for topic, reason, agent in [
        ("rv/v1/plat-a/plat-a-e01/plat-a-e01-gw/windows", "bad_signature", None),
        ("rv/v1/plat-a/plat-a-e01/plat-a-e01-gw/windows", "bad_signature", None),
        ("rv/v1/plat-a/plat-a-e01/plat-a-e01-gw/status", "replay", None),
        ("rv/v1/plat-a/plat-a-e01/intruder/windows", "unknown_agent", None),
        ("rv/v1/plat-a/plat-a-e011/x/windows", "unknown_agent", None),  # another enterprise
        ("rv/v1/plat-a/plat-a-e02/plat-a-e02-gw/windows", "bad_signature", None),
        ("garbage", "bad_topic", "plat-a-e01-gw"),
    ]:
        registry.quarantine_add(
            b"x", topic=topic, received_at=T0, reason_code=reason, detail="", agent_id=agent
        )
    counts = registry.quarantine_counts_for("plat-a", "plat-a-e01", ["plat-a-e01-gw"])
    assert counts == {
        "plat-a-e01-gw": {"bad_signature": 2, "replay": 1, "bad_topic": 1},
        "intruder": {"unknown_agent": 1},
    }
    assert registry.quarantine_counts_for("plat-a", "plat-a-e03") == {}


# --- sequence numbers ---------------------------------------------------------------------


def test_seq_new_duplicate_replay(registry: Registry) -> None:
    assert registry.record_seq("gw", 1, _sha("a")) == "new"
    assert registry.record_seq("gw", 1, _sha("a")) == "duplicate"
    assert registry.record_seq("gw", 1, _sha("forged")) == "replay"
    assert registry.record_seq("gw", 1, _sha("a")) == "duplicate"  # the first content is kept
    assert registry.record_seq("other", 1, _sha("forged")) == "new"  # seqs are per agent
    with pytest.raises(ValueError, match=r"expected 1\.\."):
        registry.record_seq("gw", 0, _sha("a"))
    with pytest.raises(ValueError, match="64 lowercase hex"):
        registry.record_seq("gw", 2, "abc")


def test_seq_gaps_open_split_and_close(registry: Registry) -> None:
    at = [T0 + dt.timedelta(minutes=m) for m in range(10)]
    assert registry.record_seq("gw", 5, _sha("5"), received_at=at[0]) == "new"
    assert registry.record_seq("gw", 8, _sha("8"), received_at=at[1]) == "new"
    gaps = registry.seq_gaps("gw")
    assert [(g.first_seq, g.last_seq, g.opened_at) for g in gaps] == [(1, 4, at[0]), (6, 7, at[1])]
    registry.record_seq("gw", 2, _sha("2"), received_at=at[2])  # splits 1..4
    assert [(g.first_seq, g.last_seq) for g in registry.seq_gaps("gw")] == [(1, 1), (3, 4), (6, 7)]
    outcomes = registry.record_seqs(
        [("gw", s, _sha(str(s))) for s in (1, 3, 4, 6, 7)], received_at=at[3]
    )
    assert outcomes == ["new"] * 5
    assert registry.seq_gaps("gw") == []
    closed = registry.seq_gaps("gw", include_closed=True)
    assert {(g.first_seq, g.last_seq) for g in closed} == {(1, 1), (4, 4), (7, 7)}
    assert all(g.closed_at == at[3] and g.opened_at in (at[0], at[1]) for g in closed)
    assert registry.highest_seq("gw") == 8


# --- status -------------------------------------------------------------------------------


def test_status_moves_forward_only(registry: Registry) -> None:
    digest = "sha256:" + "0" * 64
    assert registry.update_status(
        "plat-a-e01-gw", last_seen=T0, version="0.1.0", config_digest=digest,
        outbox_depth=3, state="online",
    )  # fmt: skip
    assert not registry.update_status(
        "plat-a-e01-gw", last_seen=T0 - dt.timedelta(minutes=1), version="0.0.9",
        config_digest=digest, outbox_depth=99, state="offline",
    )  # fmt: skip
    status = registry.agent_status("plat-a-e01-gw")
    assert status is not None
    assert (status.last_seen, status.agent_version, status.outbox_depth, status.state) == (
        T0,
        "0.1.0",
        3,
        "online",
    )


# --- two processes ------------------------------------------------------------------------

WRITER = """
import datetime as dt, hashlib, sys
from pathlib import Path
from collector.registry import Registry
with Registry(sys.argv[1]) as registry:
    for seq in range(1, 301):
        sha = hashlib.sha256(str(seq).encode()).hexdigest()
        assert registry.record_seq("writer", seq, sha) == "new"
        if seq % 10 == 0:
            registry.quarantine_add(b"x" * seq, topic="t", reason_code="invalid",
                                    received_at=dt.datetime.now(dt.UTC), detail=str(seq))
print("done")
"""


@pytest.mark.timeout(60)
def test_two_processes_share_the_registry(
    registry: Registry, registry_location: Path | str
) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(registry_location)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Writes and reads here interleave with the writer's; neither side may see "database is
    # locked" (SQLite: busy_timeout and BEGIN IMMEDIATE make each wait its turn).
    for seq in range(1, 301):
        assert registry.record_seq("reader", seq, _sha(str(seq))) == "new"
        registry.highest_seq("writer")
        registry.quarantine_list(limit=5)
    out, err = writer.communicate(timeout=50)
    assert writer.returncode == 0, err
    assert out.strip() == "done"
    assert registry.highest_seq("writer") == 300 and registry.highest_seq("reader") == 300
    assert registry.seq_gaps("writer") == [] and registry.seq_gaps("reader") == []
    assert registry.quarantine_counts() == {"invalid": 30}


def test_enterprise_zone_and_status_message(registry: Registry) -> None:
    assert registry.enterprise_zone("plat-a-e05") == "Asia/Shanghai"
    with pytest.raises(NotFoundError):
        registry.enterprise_zone("nobody")
    key = Ed25519PrivateKey.generate()
    status = wire.seal_status(
        platform="plat-a", enterprise="plat-a-e01", agent="plat-a-e01-gw", state="online",
        agent_version="0.1.0", config_digest="sha256:" + "1" * 64, outbox_depth=7,
        sent=T0 - dt.timedelta(days=365), key=key,
    )  # fmt: skip
    assert registry.record_status(status, T0)
    stored = registry.agent_status("plat-a-e01-gw")
    assert stored is not None and (stored.last_seen, stored.outbox_depth) == (T0, 7)


def test_a_time_past_what_utc_can_hold_is_a_value_error_not_an_overflow() -> None:
    for moment in (
        dt.datetime(
            9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(-dt.timedelta(hours=23, minutes=59))
        ),
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=23, minutes=59))),
    ):
        with pytest.raises(ValueError, match="outside the years 1-9999 in UTC"):
            format_time(moment)


def test_a_stored_time_reads_back_exactly_and_no_other_shape_is_read() -> None:
    for moment in (
        dt.datetime(2026, 3, 4, 5, 6, 7, 8, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(1000, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 6, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    ):
        read = parse_time(format_time(moment))
        assert read == moment and read.tzinfo is dt.UTC
    for text in (
        "2026-01-01T00:00:00Z",
        "2026-01-01 00:00:00.000000Z",
        "2026-01-01T00:00:00.000000+00",
        "2026-01-01T00:00:00,000000Z",
        "2026-13-01T00:00:00.000000Z",
        "\uff12026-01-01T00:00:00.000000Z",
        "2026-01-01T00:00:00.000000Z ",
    ):
        with pytest.raises(ValueError):
            parse_time(text)
