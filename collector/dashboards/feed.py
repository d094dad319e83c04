"""The dashboard feed: registry state and evidence verdicts written to InfluxDB for Grafana.

Grafana reads only InfluxDB. The fleet's state (last status, outbox depth, seqs, quarantine)
is in the registry and verdicts are in evidence documents, so this module copies both into the
measurements of :mod:`collector.dashboards.schema`, through the store's typed line encoder.

- :func:`write_fleet_snapshot` runs every ``fleet_snapshot_s`` inside ``retrofit-collector
  ingest`` (and on demand: ``retrofit-collector dashboards snapshot``). Its timestamp is the
  snapshot time floored to the interval, so two ingest replicas writing the same snapshot land
  on the same points instead of doubling them.
- :func:`write_evidence_summary` takes an :class:`EnterpriseEvidence` or a
  :class:`PlatformRollup` after an evidence run. Verdict points carry the run's time; the plan's
  dates (baseline, go-live, reporting) are points at those dates, for annotations.

The line building is pure (:func:`fleet_lines`, :func:`evidence_lines`); the rest is I/O.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from agent import wire
from collector.dashboards.schema import (
    EVIDENCE_ENTERPRISE,
    EVIDENCE_ENTERPRISE_FIELDS,
    EVIDENCE_EVENT,
    EVIDENCE_EVENT_FIELDS,
    EVIDENCE_FLAG,
    EVIDENCE_FLAG_FIELDS,
    EVIDENCE_KPI,
    EVIDENCE_KPI_FIELDS,
    EVIDENCE_PLATFORM,
    EVIDENCE_PLATFORM_FIELDS,
    FLEET_AGENT,
    FLEET_AGENT_FIELDS,
    FLEET_QUARANTINE,
    FLEET_QUARANTINE_FIELDS,
    FLEET_RETENTION,
    FLEET_SUMMARY,
    FLEET_SUMMARY_FIELDS,
)
from collector.errors import CollectorError
from collector.evidence.document import (
    EnterpriseDoc,
    EnterpriseEvidence,
    KpiDoc,
    PlatformRollup,
    SubsidyDoc,
)
from collector.registry import AgentEntry, AgentStatus, Registry, SeqSummary
from collector.store import InfluxStore, StoreError, day_bounds
from collector.store.influxql import quote_identifier
from collector.store.lines import FieldValue, encode_line
from collector.store.records import to_ms
from collector.store.retention import create_statement
from collector.store.rollup import zone

__all__ = [
    "DEFAULT_FLEET_SNAPSHOT_S",
    "DEFAULT_STALE_AFTER_S",
    "KNOWN_QUARANTINE_REASONS",
    "FleetSnapshot",
    "ensure_fleet_retention",
    "evidence_lines",
    "fleet_lines",
    "run_fleet_feed",
    "write_evidence_summary",
    "write_fleet_snapshot",
]

log = logging.getLogger(__name__)

#: Snapshot interval inside ingest, s.
DEFAULT_FLEET_SNAPSHOT_S = 60.0
#: An agent publishes its status every 30 s while connected; four missed means "stale".
DEFAULT_STALE_AFTER_S = 120.0

#: Every reason code the collector quarantines with: the wire contract's (agent/wire.py) and
#: the ingest's own (docs/wire-contract.md). Each gets a point every snapshot, 0 included, so
#: the quarantine panels show "none" as a zero rather than as an empty panel.
KNOWN_QUARANTINE_REASONS: tuple[str, ...] = (
    *sorted(cls.code for cls in wire.WireError.__subclasses__()),
    "identity_mismatch",
    "unknown_agent",
    "unknown_device",
    "revoked_key",
    "replay",
    "store_rejected",
)


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """What the registry holds about the fleet at one moment (read in one go)."""

    at: dt.datetime
    agents: list[AgentEntry]
    statuses: Mapping[str, AgentStatus]
    seqs: Mapping[str, SeqSummary]
    quarantine_total: Mapping[str, int]
    quarantine_last_hour: Mapping[str, int]


# --- fleet --------------------------------------------------------------------------------


def agent_state(
    entry: AgentEntry, status: AgentStatus | None, now: dt.datetime, stale_after_s: float
) -> str:
    """online, stale (said online, silent for longer than ``stale_after_s``), offline (its
    Last Will or a clean stop), never_seen, or revoked."""
    if entry.revoked_as_of(now):
        return "revoked"
    if status is None:
        return "never_seen"
    if status.state != "online":
        return "offline"
    if (now - status.last_seen).total_seconds() > stale_after_s:
        return "stale"
    return "online"


def _age_s(now: dt.datetime, then: dt.datetime | None) -> float | None:
    return None if then is None else (now - then).total_seconds()


def _agent_fields(
    entry: AgentEntry, snapshot: FleetSnapshot, state: str
) -> dict[str, FieldValue | None]:
    status = snapshot.statuses.get(entry.agent_id)
    seq = snapshot.seqs.get(entry.agent_id)
    return {
        "state": state,
        "online": int(state == "online"),
        "last_seen_age_s": _age_s(snapshot.at, status.last_seen if status else None),
        "outbox_depth": status.outbox_depth if status else None,
        "agent_version": status.agent_version if status else None,
        "highest_seq": seq.highest_seq if seq else None,
        "last_batch_age_s": _age_s(snapshot.at, seq.last_received_at if seq else None),
        "open_seq_gaps": seq.open_gaps if seq else 0,
        "missing_seqs": seq.missing_seqs if seq else 0,
    }


def _platform_fields(
    rows: list[dict[str, FieldValue | None]],
) -> dict[str, FieldValue | None]:
    states = Counter(str(row["state"]) for row in rows)
    depths = [int(row["outbox_depth"]) for row in rows if isinstance(row["outbox_depth"], int)]
    ages = [float(a) for row in rows if isinstance(a := row["last_batch_age_s"], float)]
    return {
        "agents": len(rows),
        **{name: states[name] for name in ("online", "stale", "offline", "never_seen", "revoked")},
        "outbox_depth_total": sum(depths),
        "outbox_depth_max": max(depths, default=0),
        "open_seq_gaps": sum(int(row["open_seq_gaps"] or 0) for row in rows),
        "missing_seqs": sum(int(row["missing_seqs"] or 0) for row in rows),
        "last_batch_age_s_min": min(ages, default=None),
    }


def fleet_lines(
    snapshot: FleetSnapshot, *, stale_after_s: float = DEFAULT_STALE_AFTER_S
) -> list[str]:
    """Line protocol for one snapshot: an agent point each, a platform summary each, and a
    quarantine point for every known reason and every reason the registry holds."""
    time_ms = to_ms(snapshot.at)
    lines = []
    by_platform: dict[str, list[dict[str, FieldValue | None]]] = {}
    for entry in snapshot.agents:
        state = agent_state(
            entry, snapshot.statuses.get(entry.agent_id), snapshot.at, stale_after_s
        )
        fields = _agent_fields(entry, snapshot, state)
        by_platform.setdefault(entry.platform, []).append(fields)
        tags = {"platform": entry.platform, "enterprise": entry.enterprise, "agent": entry.agent_id}
        lines.append(encode_line(FLEET_AGENT, tags, fields, time_ms, FLEET_AGENT_FIELDS))
    for platform, rows in sorted(by_platform.items()):
        fields = _platform_fields(rows)
        lines.append(
            encode_line(
                FLEET_SUMMARY, {"platform": platform}, fields, time_ms, FLEET_SUMMARY_FIELDS
            )
        )
    reasons = sorted({*KNOWN_QUARANTINE_REASONS, *snapshot.quarantine_total})
    for reason in reasons:
        fields = {
            "total": snapshot.quarantine_total.get(reason, 0),
            "last_hour": snapshot.quarantine_last_hour.get(reason, 0),
        }
        lines.append(
            encode_line(
                FLEET_QUARANTINE, {"reason": reason}, fields, time_ms, FLEET_QUARANTINE_FIELDS
            )
        )
    return lines


def read_fleet(registry: Registry, at: dt.datetime) -> FleetSnapshot:
    """The registry's fleet state at ``at`` (blocking: call it in a thread)."""
    return FleetSnapshot(
        at=at,
        agents=registry.agents(),
        statuses=registry.agent_statuses(),
        seqs=registry.seq_summaries(),
        quarantine_total=registry.quarantine_counts(),
        quarantine_last_hour=registry.quarantine_counts_since(at - dt.timedelta(hours=1)),
    )


async def ensure_fleet_retention(store: InfluxStore) -> None:
    """Create the ``fleet`` retention policy if missing (InfluxDB 1.x; never altered here)."""
    rows = await store.query(f"SHOW RETENTION POLICIES ON {quote_identifier(store.database)}")
    if FLEET_RETENTION.name not in {str(row["name"]) for row in rows}:
        await store.query(create_statement(store.database, FLEET_RETENTION))
        log.info("created retention policy %s on %s", FLEET_RETENTION.name, store.database)


def _aligned(now: dt.datetime, align_s: float) -> dt.datetime:
    if align_s <= 0:
        return now
    ms = to_ms(now)
    step = int(align_s * 1000)
    return dt.datetime.fromtimestamp((ms - ms % step) / 1000, dt.UTC)


async def write_fleet_snapshot(
    registry: Registry,
    store: InfluxStore,
    *,
    now: dt.datetime | None = None,
    align_s: float = DEFAULT_FLEET_SNAPSHOT_S,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> int:
    """Write one fleet snapshot (``fleet`` retention policy); return the points written.

    The timestamp is ``now`` floored to ``align_s`` (replicas overwrite each other's snapshot).
    Raises what the registry (RegistryUnavailable) and the store (StoreError) raise.
    """
    at = _aligned(now or dt.datetime.now(dt.UTC), align_s)
    snapshot = await asyncio.to_thread(read_fleet, registry, at)
    lines = fleet_lines(snapshot, stale_after_s=stale_after_s)
    await store.write_lines(lines, retention_policy=FLEET_RETENTION.name)
    log.debug("fleet snapshot at %s: %d points", at.isoformat(), len(lines))
    return len(lines)


async def run_fleet_feed(
    registry: Registry,
    store: InfluxStore,
    *,
    every_s: float = DEFAULT_FLEET_SNAPSHOT_S,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> None:
    """Write a fleet snapshot now and every ``every_s`` until cancelled.

    A failure is logged and tried again next round: dashboards lag, ingest goes on.
    """
    created = False
    while True:
        try:
            if not created:
                await ensure_fleet_retention(store)
                created = True
            await write_fleet_snapshot(
                registry, store, align_s=every_s, stale_after_s=stale_after_s
            )
        except (StoreError, CollectorError) as exc:
            log.warning("fleet snapshot not written (%s); next try in %g s", exc, every_s)
        await asyncio.sleep(every_s)


# --- evidence -----------------------------------------------------------------------------


def _subsidy_fields(subsidy: SubsidyDoc) -> dict[str, FieldValue | None]:
    return {
        "passed": int(subsidy.passed),
        "cost_fen": subsidy.cost_fen,
        "share_fen": subsidy.share_fen,
        "subsidy_fen": subsidy.subsidy_fen,
        "capped": subsidy.capped,
    }


def _kpi_fields(kpi: KpiDoc, attempt: int) -> dict[str, FieldValue | None]:
    change, interval = kpi.change, kpi.interval
    return {
        "status": kpi.status,
        "passed": int(kpi.status == "pass"),
        "required": kpi.target.required,
        "attempt": attempt,
        "unit": kpi.target.unit,
        "target_size": kpi.target.size,
        "baseline_value": kpi.baseline.value,
        "reporting_value": kpi.reporting.value,
        "change": change.change if change else None,
        "interval_low": interval.low if interval else None,
        "interval_high": interval.high if interval else None,
        "mde": change.mde if change else None,
    }


#: Event code -> its bilingual label (Chinese first: most reviewers read only Chinese).
_EVENT_LABELS = {
    "baseline_start": "基线期开始 baseline starts",
    "baseline_end": "基线期结束 baseline ends",
    "go_live": "上线 go-live",
    "reporting_start": "报告期开始 reporting starts",
    "reporting_end": "报告期结束 reporting ends",
    "rectification": "整改 rectification",
}


def _events(doc: EnterpriseEvidence) -> list[tuple[str, int, dt.date, bool]]:
    """(event, attempt, day, at the day's end) for the plan's dates and every attempt."""
    plan: EnterpriseDoc = doc.enterprise
    events = [
        ("baseline_start", 0, plan.baseline.start, False),
        ("baseline_end", 0, plan.baseline.end, True),
        ("go_live", 0, plan.go_live, False),
    ]
    for attempt in doc.attempts:
        events.append(("reporting_start", attempt.number, attempt.reporting.start, False))
        events.append(("reporting_end", attempt.number, attempt.reporting.end, True))
        if attempt.rectification_date is not None:
            events.append(("rectification", attempt.number, attempt.rectification_date, False))
    return events


def _event_lines(doc: EnterpriseEvidence, tags: Mapping[str, str]) -> list[str]:
    tz = zone(doc.enterprise.timezone)
    lines = []
    for event, attempt, day, at_end in _events(doc):
        start, end = day_bounds(day, tz)
        label = _EVENT_LABELS[event] + (f" #{attempt}" if attempt > 1 else "")
        fields = {"text": f"{label} {day.isoformat()}", "day": day.isoformat()}
        event_tags = {**tags, "event": event, "attempt": str(attempt)}
        lines.append(
            encode_line(
                EVIDENCE_EVENT, event_tags, fields, to_ms(end if at_end else start),
                EVIDENCE_EVENT_FIELDS,
            )
        )  # fmt: skip
    return lines


def _enterprise_lines(doc: EnterpriseEvidence, time_ms: int) -> list[str]:
    tags = {"platform": doc.platform.id, "enterprise": doc.enterprise.id}
    serious = sum(1 for flag in doc.flags if flag.severity == "serious")
    fields: dict[str, FieldValue | None] = {
        "status": doc.status,
        "attempts": len(doc.attempts),
        "flags": len(doc.flags),
        "serious_flags": serious,
        **_subsidy_fields(doc.subsidy),
    }
    lines = [encode_line(EVIDENCE_ENTERPRISE, tags, fields, time_ms, EVIDENCE_ENTERPRISE_FIELDS)]
    if doc.attempts:
        last = doc.attempts[-1]
        for kpi in last.kpis:
            lines.append(
                encode_line(
                    EVIDENCE_KPI, {**tags, "kpi": kpi.kpi}, _kpi_fields(kpi, last.number),
                    time_ms, EVIDENCE_KPI_FIELDS,
                )
            )  # fmt: skip
    flags: Counter[tuple[str, str]] = Counter()
    flag_days: dict[tuple[str, str], set[dt.date]] = {}
    for flag in doc.flags:
        key = (flag.check, flag.severity)
        flags[key] += 1
        flag_days.setdefault(key, set()).update(flag.days)
    for (check, severity), count in sorted(flags.items()):
        fields = {"count": count, "days": len(flag_days[(check, severity)])}
        flag_tags = {**tags, "check": check, "severity": severity}
        lines.append(encode_line(EVIDENCE_FLAG, flag_tags, fields, time_ms, EVIDENCE_FLAG_FIELDS))
    return lines + _event_lines(doc, tags)


def _platform_lines(doc: PlatformRollup, time_ms: int) -> list[str]:
    fields: dict[str, FieldValue | None] = {
        "batch_year": doc.batch_year,
        "enterprises": len(doc.enterprises),
        "passed_count": doc.passed_count,
        "minimum": doc.minimum,
        "minimum_met": int(doc.minimum_met),
        "uncapped_total_fen": doc.uncapped_total_fen,
        "total_fen": doc.total_fen,
        "platform_capped": doc.platform_capped,
    }
    tags = {"platform": doc.platform.id}
    lines = [encode_line(EVIDENCE_PLATFORM, tags, fields, time_ms, EVIDENCE_PLATFORM_FIELDS)]
    for line in doc.enterprises:
        enterprise_fields: dict[str, FieldValue | None] = {
            "status": line.status,
            "attempts": line.attempts,
            "flags": line.flags,
            "serious_flags": line.serious_flags,
            **_subsidy_fields(line.subsidy),
        }
        lines.append(
            encode_line(
                EVIDENCE_ENTERPRISE, {**tags, "enterprise": line.id}, enterprise_fields,
                time_ms, EVIDENCE_ENTERPRISE_FIELDS,
            )
        )  # fmt: skip
    return lines


def evidence_lines(doc: EnterpriseEvidence | PlatformRollup, *, at: dt.datetime) -> list[str]:
    """Line protocol for one evidence document; verdict points at ``at`` (the run's time)."""
    time_ms = to_ms(at)
    if isinstance(doc, EnterpriseEvidence):
        return _enterprise_lines(doc, time_ms)
    return _platform_lines(doc, time_ms)


async def write_evidence_summary(
    store: InfluxStore,
    doc: EnterpriseEvidence | PlatformRollup,
    *,
    at: dt.datetime | None = None,
) -> int:
    """Write an evidence document's summary to the rollup retention policy; return the points.

    ``at`` is the run's time (default now). Raises StoreError as the store does.
    """
    lines = evidence_lines(doc, at=at or dt.datetime.now(dt.UTC))
    await store.write_lines(lines, retention_policy=store.rollup_retention_policy)
    return len(lines)
