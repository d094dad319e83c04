"""``registry migrate --to URL``: a SQLite registry filled through the real repositories, copied
into a real PostgreSQL (the session's cluster, tests/collector/registry_backends.py), checked,
refused a second time or into a registry that holds something else, and resumed after a kill."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from collector.attachments import checked_upload
from collector.cli import app
from collector.plan import load_plan
from collector.registry import DayCheck, Registry, SealDifference, ThrottleLimits
from collector.registry.sql import tables
from collector.registry.sqlite.schema import SQLITE
from collector.registry.transfer import TABLE_GROUPS
from contract import wire
from stack.ports import free_port
from tests.collector.attachments.samples import pdf_bytes, png_bytes
from tests.collector.config_helpers import write_collector_config
from tests.collector.faults.harness import window
from tests.collector.registry_backends import RAW_ERRORS, RegistryCluster, raw_execute, raw_rows
from tests.collector.seal_helpers import SealChain

VALID = Path(__file__).parent / "plan_cases" / "valid_minimal" / "plan.yaml"
T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
_serial = itertools.count()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _fill(registry: Registry, quarantined: int = 5) -> None:
    """Something in every table, written the way the collector writes it."""
    registry.load_plan(load_plan(VALID), by="alice", now=T0)
    key = wire.public_key_text(Ed25519PrivateKey.generate().public_key())
    registry.add_agent(
        "plat-a-e01-gw2", platform="plat-a", enterprise="plat-a-e01", public_key=key,
        devices=["press-2"], by="alice", now=T0,
    )  # fmt: skip
    registry.revoke_agent("plat-a-e02-gw", by="alice", reason="gateway replaced", now=T0)
    for seq in (1, 2, 5, 3):
        registry.record_seq("plat-a-e01-gw", seq, _sha(f"s{seq}"), received_at=T0)
    registry.record_seq("plat-a-e01-gw", 2, _sha("s2"), received_at=T0)  # duplicate
    registry.record_seq("plat-a-e01-gw", 3, _sha("other"), received_at=T0)  # replay
    registry.update_status(
        "plat-a-e01-gw", last_seen=T0, version="1.0", config_digest="c" * 64, outbox_depth=3,
        state="running", now=T0,
    )  # fmt: skip
    registry.mark_days_dirty(
        [("plat-a-e01", "press-1", dt.date(2026, 6, 1), "Asia/Shanghai", 1_780_272_000_000)]
    )
    for n in range(quarantined):
        registry.quarantine_add(
            b"\x00\xff" + bytes([n]) * 700, f"rv/v1/plat-a/plat-a-e01/plat-a-e01-gw/w{n}",
            T0 + dt.timedelta(seconds=n), "bad_signature", f"detail\x00 {n} 名", "plat-a-e01-gw",
        )  # fmt: skip
    for content, kind, amount in (
        (pdf_bytes(), "invoice", "1000.50"),
        (png_bytes(), "contract", None),
    ):
        upload = checked_upload(content, kind=kind, name="文件", amount=amount, max_bytes=1 << 20)
        registry.attach("plat-a-e01", upload, by="eng", now=T0)
    registry.add_user("li", display_name="李审核", role="reviewer", province="330200", by="ops")
    issued = registry.issue_token("li", label="laptop", by="ops", now=T0)
    registry.open_session(issued.entry, ttl_s=3600, now=T0)
    first = registry.record_decision(
        platform="plat-a", enterprise="plat-a-e01", bundle_sha256="a" * 64,
        evidence_status="fail", outcome="rectify", comment="整改后复核", by="li", now=T0,
        documents=[a.sha256 for a in registry.attachments("plat-a", "plat-a-e01")],
    )  # fmt: skip
    registry.record_decision(
        platform="plat-a", enterprise="plat-a-e01", bundle_sha256="b" * 64,
        evidence_status="pass", outcome="pass", comment=f"supersedes {first.id}", by="li", now=T0,
    )  # fmt: skip
    registry.claim_run_slot(
        user="li", platform="plat-a", enterprise="plat-a-e01", holder="web-1", per_user=2,
        per_enterprise=1, queue=3, lease_s=60.0, now=T0,
    )  # fmt: skip
    registry.record_login_failure(
        ["addr:192.0.2.7"], limits=ThrottleLimits(limit=3, window_s=300, lockout_s=600),
        subject="login:192.0.2.7", detail={"address": "192.0.2.7"}, now=T0,
    )  # fmt: skip
    _fill_day_seals(registry)


def _fill_day_seals(registry: Registry) -> None:
    chain = SealChain(
        Ed25519PrivateKey.generate(), "plat-a", "plat-a-e01", "plat-a-e01-gw", "press-1"
    )
    raw = chain.seal(dt.date(2026, 6, 1), [(1, window("press-1", T0))], seq=2)
    stored = registry.add_day_seal(wire.decode_day_seal(raw), raw, received_at=T0)
    registry.put_day_checks([
        DayCheck(
            agent_id="plat-a-e01-gw", device="press-1", provenance="measured",
            day=dt.date(2026, 6, 1), platform="plat-a", enterprise="plat-a-e01",
            outcome="sealed_different", seal_sha256=stored.seal_sha256,
            differences=(SealDifference("run_s", 49.5, 50.0),), root_checked=True,
            checked_at=T0, checked_by="refresh",
        )
    ])  # fmt: skip


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "registry.sqlite"
    with Registry(path) as registry:
        _fill(registry)
    return path


@pytest.fixture
def target(registry_cluster: RegistryCluster) -> str:
    """An empty PostgreSQL database (no schema: migrate creates it)."""
    name = f"migrate_{next(_serial)}"
    registry_cluster.server.create_database(name)
    return registry_cluster.server.url(name)


def migrate(config: Path, target: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["registry", "migrate", "--to", target, "--by", "ops", "-c", str(config)]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def every_table() -> list[str]:
    return re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", "\n".join(tables(SQLITE)))


def test_the_groups_hold_every_table_once() -> None:
    grouped = [table for _, group in TABLE_GROUPS for table in group]
    assert sorted(grouped) == sorted(every_table()) and len(grouped) == len(set(grouped))


def test_migrate_copies_every_table_and_checks_the_copy(
    source: Path, target: str, tmp_path: Path
) -> None:
    code, output = migrate(write_collector_config(tmp_path, source), target)
    assert code == 0, output
    for table in every_table():
        assert re.search(rf"^{table}\s+(\d+)\s+\1\s+[0-9a-f]{{16}}\s+equal$", output, re.M), table
    assert "DIFFERS" not in output and "every count and digest equal" in output
    with Registry(source) as old, Registry(target) as new:
        assert new.agents() == old.agents()
        assert new.seq_summaries() == old.seq_summaries()
        assert new.seq_gaps("plat-a-e01-gw", include_closed=True) == old.seq_gaps(
            "plat-a-e01-gw", include_closed=True
        )
        assert new.agent_statuses() == old.agent_statuses()
        assert new.users() == old.users() and new.tokens() == old.tokens()
        assert new.decisions("plat-a", "plat-a-e01") == old.decisions("plat-a", "plat-a-e01")
        documents = old.attachments("plat-a", "plat-a-e01")
        assert len(documents) == 2 and new.attachments("plat-a", "plat-a-e01") == documents
        cited = new.decisions("plat-a", "plat-a-e01")[0].documents
        assert cited == tuple(sorted(d.sha256 for d in documents))
        for item in documents:
            assert new.attachment("plat-a", "plat-a-e01", item.sha256) == old.attachment(
                "plat-a", "plat-a-e01", item.sha256
            )
        assert new.quarantine_counts_for("plat-a", "plat-a-e01") == {
            "plat-a-e01-gw": {"bad_signature": 5}
        }
        for entry in old.quarantine_list():
            assert new.quarantine_get(entry.id) == old.quarantine_get(entry.id)
        assert new.dirty_days() == old.dirty_days()
        assert new.day_seal_chain("plat-a-e01-gw", "press-1") == old.day_seal_chain(
            "plat-a-e01-gw", "press-1"
        )
        june = dt.date(2026, 6, 1)
        assert new.day_checks("plat-a-e01", june, june) == old.day_checks("plat-a-e01", june, june)
        assert len(new.day_checks("plat-a-e01", june, june)) == 1
        assert new.run_slots(now=T0) == old.run_slots(now=T0)
        copied_audit = new.audit()
        assert copied_audit[-1].action == "registry.migrate"  # oldest first: the copy, then it
        assert copied_audit[:-1] == old.audit()
        # The identities go on past the copied ids; the append-only triggers still hold.
        next_id = new.quarantine_add(b"x", "rv/v1/x", T0, "not_json", "after")
        assert next_id == max(e.id for e in old.quarantine_list()) + 1
    with pytest.raises(RAW_ERRORS, match="append-only"):
        raw_execute(target, "UPDATE audit SET actor = 'mallory'")


def test_a_second_run_and_a_foreign_target_are_refused(
    source: Path, target: str, tmp_path: Path, registry_cluster: RegistryCluster
) -> None:
    config = write_collector_config(tmp_path, source)
    assert migrate(config, target)[0] == 0
    rows = raw_rows(target, "SELECT count(*) FROM audit")
    code, output = migrate(config, target)
    assert code == 1 and "already migrated from" in output and "registry.migrate" in output
    assert raw_rows(target, "SELECT count(*) FROM audit") == rows
    foreign = registry_cluster.fresh()  # holds the schema, and one user
    with Registry(foreign) as registry:
        registry.add_user("wang", display_name="王", role="observer", by="ops")
    code, output = migrate(config, foreign)
    assert code == 1 and "is not empty and differs" in output and "users 1 rows" in output
    assert raw_rows(foreign, "SELECT count(*) FROM plan_versions") == [(0,)]


def test_a_killed_run_is_resumed_by_running_it_again(
    tmp_path: Path, target: str, registry_cluster: RegistryCluster
) -> None:
    source = tmp_path / "registry.sqlite"
    with Registry(source) as registry:
        _fill(registry, quarantined=50)
    config = write_collector_config(tmp_path, source)
    argv = [sys.executable, "-c", "from collector.cli import main; main()"]
    # Hold the target's quarantine table in SHARE mode (reads pass, writes wait): the run
    # checks the target, commits its first groups, then waits at the quarantine's COPY.
    with Registry(target):
        pass
    with psycopg.connect(target) as holder:
        holder.execute("LOCK TABLE quarantine IN SHARE MODE")
        run = subprocess.Popen(
            [*argv, "registry", "migrate", "--to", target, "--by", "ops", "-c", str(config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not _waits_for_a_lock(target) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _waits_for_a_lock(target), "the run never reached the quarantine"
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait(timeout=30)
            if run.stdout is not None:
                printed = run.stdout.read().decode()
                run.stdout.close()
        holder.rollback()
    assert "copied   plans and agents" in printed, printed
    assert raw_rows(target, "SELECT count(*) FROM agents") == [(11,)]
    assert raw_rows(target, "SELECT count(*) FROM quarantine") == [(0,)]
    code, output = migrate(config, target)
    assert code == 0, output
    assert "skipped  plans and agents: already in the target" in output
    assert "copied   quarantine: quarantine 50" in output
    assert "every count and digest equal" in output


def _waits_for_a_lock(url: str) -> bool:
    rows = raw_rows(
        url,
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'quarantine'::regclass "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    return int(str(rows[0][0])) > 0


def test_what_migrate_cannot_use_is_a_clear_error_with_its_exit_code(
    source: Path, tmp_path: Path
) -> None:
    config = write_collector_config(tmp_path, source)
    unreachable = f"postgresql://rv@127.0.0.1:{free_port()}/registry"
    code, output = migrate(config, unreachable)
    assert code == 4 and f"registry {unreachable}" in output and "Traceback" not in output
    code, output = migrate(config, str(tmp_path / "elsewhere.sqlite"))
    assert code == 2 and "expected a postgresql:// URL" in output
    (tmp_path / "missing").mkdir()
    missing = write_collector_config(tmp_path / "missing", tmp_path / "missing" / "r.sqlite")
    code, output = migrate(missing, unreachable)
    assert code == 2 and "no such file" in output
    (tmp_path / "pg").mkdir()
    already = write_collector_config(tmp_path / "pg", unreachable)
    code, output = migrate(already, unreachable)
    assert code == 1 and "already PostgreSQL" in output
