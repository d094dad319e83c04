"""The dashboard feed: fleet snapshots from a real registry and evidence summaries as lines."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from collector.dashboards.evidence_feed import evidence_lines
from collector.dashboards.feed import KNOWN_QUARANTINE_REASONS, agent_state, fleet_lines, read_fleet
from collector.registry import Registry
from contract import wire
from tests.collector.dashboards.documents import RUN_AT, enterprise_evidence, platform_rollup
from tests.collector.dashboards.fill import fill_registry

NOW = dt.datetime(2026, 9, 1, 8, 0, 30, tzinfo=dt.UTC)


def lines_of(lines: list[str], measurement: str, tag: str) -> list[str]:
    return [line for line in lines if line.startswith(measurement + ",") and tag in line]


def test_snapshot_reads_state_outbox_seqs_and_quarantine_from_the_registry(
    tmp_path: Path,
) -> None:
    with Registry(tmp_path / "registry.sqlite") as registry:
        fill_registry(registry, NOW)
        registry.revoke_agent("ent-03-gw1", by="test", reason="gateway stolen", now=NOW)
        snapshot = read_fleet(registry, NOW)
    lines = fleet_lines(snapshot)

    (online,) = lines_of(lines, "fleet_agent", "agent=ent-01-gw1")
    assert 'state="online"' in online and "online=1i" in online and "outbox_depth=3i" in online
    assert "open_seq_gaps=1i" in online and "missing_seqs=2i" in online  # seqs 3 and 4
    assert "last_batch_age_s=30.0" in online and "highest_seq=5i" in online
    (offline,) = lines_of(lines, "fleet_agent", "agent=ent-02-gw1")
    assert 'state="offline"' in offline and "online=0i" in offline
    (revoked,) = lines_of(lines, "fleet_agent", "agent=ent-03-gw1")
    assert 'state="revoked"' in revoked
    (never,) = lines_of(lines, "fleet_agent", "agent=ent-04-gw1")
    assert 'state="never_seen"' in never and "outbox_depth" not in never  # not 0: unknown

    (summary,) = lines_of(lines, "fleet_summary", "platform=plat-a")
    agents = len(snapshot.agents)
    assert f"agents={agents}i" in summary and ",online=1i" in summary
    assert "offline=1i" in summary and "revoked=1i" in summary
    assert f"never_seen={agents - 3}i" in summary and "outbox_depth_total=143i" in summary
    quarantine = lines_of(lines, "fleet_quarantine", "reason=")
    assert len(quarantine) == len(KNOWN_QUARANTINE_REASONS)  # zeros included
    (bad,) = lines_of(lines, "fleet_quarantine", "reason=bad_signature")
    assert "total=1i,last_hour=1i" in bad
    assert all(line.endswith(f" {int(NOW.timestamp() * 1000)}") for line in lines)


def test_an_agent_silent_past_the_threshold_is_stale_not_online(tmp_path: Path) -> None:
    with Registry(tmp_path / "registry.sqlite") as registry:
        fill_registry(registry, NOW)
        entry = registry.agent_identity("ent-01-gw1")
        status = registry.agent_statuses()["ent-01-gw1"]
    assert entry is not None
    assert agent_state(entry, status, NOW, stale_after_s=120) == "online"
    later = NOW + dt.timedelta(minutes=3)
    assert agent_state(entry, status, later, stale_after_s=120) == "stale"
    assert agent_state(entry, None, NOW, stale_after_s=120) == "never_seen"


def test_enterprise_evidence_gives_verdict_kpis_flags_and_plan_dates() -> None:
    doc = enterprise_evidence("ent-01", passed=True, flagged=True)
    lines = evidence_lines(doc, at=RUN_AT)
    (enterprise,) = lines_of(lines, "evidence_enterprise", "enterprise=ent-01")
    assert 'status="pass"' in enterprise and "passed=1i" in enterprise
    assert "subsidy_fen=25500000i" in enterprise and "capped=false" in enterprise
    (oee,) = lines_of(lines, "evidence_kpi", "kpi=oee")
    assert "change=8.0" in oee and 'unit="pp"' in oee and "required=true" in oee
    (flag,) = lines_of(lines, "evidence_flag", "check=flat_counter")
    assert "count=1i,days=2i" in flag
    (go_live,) = lines_of(lines, "evidence_event", "event=go_live")
    # Local midnight of 2026-05-06 in Asia/Shanghai is 16:00 UTC the day before.
    midnight = dt.datetime(2026, 5, 5, 16, tzinfo=dt.UTC)
    assert go_live.endswith(f" {int(midnight.timestamp() * 1000)}")
    assert 'text="上线 go-live 2026-05-06"' in go_live
    (baseline_end,) = lines_of(lines, "evidence_event", "event=baseline_end")
    after_last_day = dt.datetime(2026, 3, 29, 16, tzinfo=dt.UTC)  # the midnight after 03-29
    assert baseline_end.endswith(f" {int(after_last_day.timestamp() * 1000)}")


def test_platform_rollup_gives_the_pass_count_and_one_line_per_enterprise() -> None:
    statuses = {f"ent-{n:02d}": "pass" if n <= 10 else "fail" for n in range(1, 13)}
    lines = evidence_lines(platform_rollup(statuses), at=RUN_AT)
    (platform,) = lines_of(lines, "evidence_platform", "platform=plat-a")
    assert "passed_count=10i" in platform and "minimum=10i" in platform
    assert "minimum_met=1i" in platform and "total_fen=150000000i" in platform
    assert len(lines_of(lines, "evidence_enterprise", "enterprise=")) == 12


def test_every_known_reason_is_a_code_the_quarantine_accepts() -> None:
    codes = {cls.code for cls in wire.WireError.__subclasses__()}
    assert codes <= set(KNOWN_QUARANTINE_REASONS)
    assert len(set(KNOWN_QUARANTINE_REASONS)) == len(KNOWN_QUARANTINE_REASONS)


def test_the_ingest_side_of_the_feed_does_not_import_the_evidence_engine() -> None:
    # The ingest runs the fleet feed; numpy/scipy/statsmodels would cost it seconds and memory.
    code = "import sys, collector.dashboards.feed; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
