"""The dashboard feed, fleet part: the registry's view of the gateways written to InfluxDB.

Grafana reads only InfluxDB, but the fleet's state (last status, outbox depth, seqs,
quarantine) is in the registry, so this module copies it into the ``fleet_*`` measurements of
:mod:`collector.dashboards.schema` through the store's typed line encoder. Verdicts and plan
dates are :mod:`collector.dashboards.evidence_feed`'s: kept apart so that the ingest, which
runs this module, never imports the evidence engine (numpy, scipy, statsmodels).

- :func:`write_fleet_snapshot` runs every ``fleet_snapshot_s`` inside ``retrofit-collector
  ingest`` (and on demand: ``retrofit-collector dashboards snapshot``); the day-seal points
  (``fleet_day_seals``, ``fleet_day_seal_difference``) at most every
  :data:`DEFAULT_DAY_SEALS_EVERY_S`. Its timestamp is the
  snapshot time floored to the interval, so two ingest replicas writing the same snapshot land
  on the same points instead of doubling them.

The line building is pure (:func:`fleet_lines`); the rest is I/O.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from collector.dashboards.day_seals import tally_checks
from collector.dashboards.schema import (
    FLEET_AGENT,
    FLEET_AGENT_FIELDS,
    FLEET_DAY_SEAL_DIFFERENCE,
    FLEET_DAY_SEAL_DIFFERENCE_FIELDS,
    FLEET_DAY_SEALS,
    FLEET_DAY_SEALS_FIELDS,
    FLEET_QUARANTINE,
    FLEET_QUARANTINE_FIELDS,
    FLEET_RETENTION,
    FLEET_SUMMARY,
    FLEET_SUMMARY_FIELDS,
)
from collector.errors import CollectorError, NotFoundError
from collector.registry import AgentEntry, AgentStatus, DayCheck, Registry, SeqSummary
from collector.store import InfluxStore, StoreError
from collector.store.influxql import quote_identifier
from collector.store.lines import FieldValue, encode_line
from collector.store.records import to_ms
from collector.store.retention import create_statement
from contract import wire

__all__ = [
    "DEFAULT_DAY_SEALS_EVERY_S",
    "DEFAULT_FLEET_SNAPSHOT_S",
    "DEFAULT_STALE_AFTER_S",
    "KNOWN_QUARANTINE_REASONS",
    "EnterpriseChecks",
    "FleetSnapshot",
    "day_seal_lines",
    "ensure_fleet_retention",
    "fleet_lines",
    "run_fleet_feed",
    "write_fleet_snapshot",
]

log = logging.getLogger(__name__)

#: Snapshot interval inside ingest, s.
DEFAULT_FLEET_SNAPSHOT_S = 60.0
#: An agent publishes its status every 30 s while connected; four missed means "stale".
DEFAULT_STALE_AFTER_S = 120.0

#: The day-seal points go out with a snapshot at most this often, s: they read every checked
#: row of every enterprise (there is no count query; bench/fleet_day_seals.py measured 0.7 s for
#: 10,950 rows under load), and outcomes change only when a refresh or evidence run checks.
DEFAULT_DAY_SEALS_EVERY_S = 900.0

#: Every reason code the collector quarantines with: the wire contract's (contract/wire.py) and
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
class EnterpriseChecks:
    """An enterprise's day-seal outcomes as the registry holds them, with its zone."""

    platform: str
    enterprise: str
    tz: str
    checks: list[DayCheck]


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """What the registry holds about the fleet at one moment (read in one go)."""

    at: dt.datetime
    agents: list[AgentEntry]
    statuses: Mapping[str, AgentStatus]
    seqs: Mapping[str, SeqSummary]
    quarantine_total: Mapping[str, int]
    quarantine_last_hour: Mapping[str, int]
    #: Day-seal outcomes of each enterprise with agents (collector.dashboards.day_seals).
    day_checks: list[EnterpriseChecks] = field(default_factory=list)


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
    return lines + day_seal_lines(snapshot.day_checks, snapshot.at)


def _json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def day_seal_lines(enterprises: list[EnterpriseChecks], at: dt.datetime) -> list[str]:
    """A ``fleet_day_seals`` point per enterprise (zeros included) and a
    ``fleet_day_seal_difference`` point per figure of every ``sealed_different`` row."""
    time_ms = to_ms(at)
    lines = []
    for item in enterprises:
        tally = tally_checks(item.checks, item.tz, at)
        fields: dict[str, FieldValue | None] = {
            "equal": tally.equal,
            "different": tally.different,
            "unsealed_overdue": tally.unsealed_overdue,
            "unsealed_recent": tally.unsealed_recent,
        }
        tags = {"platform": item.platform, "enterprise": item.enterprise}
        lines.append(encode_line(FLEET_DAY_SEALS, tags, fields, time_ms, FLEET_DAY_SEALS_FIELDS))
        for check in item.checks:
            if check.outcome != "sealed_different":
                continue
            row_tags = {
                **tags, "agent": check.agent_id, "device": check.device,
                "provenance": check.provenance, "day": check.day.isoformat(),
            }  # fmt: skip
            for difference in check.differences:
                figures: dict[str, FieldValue | None] = {
                    "stored": _json_text(difference.stored),
                    "sealed": _json_text(difference.sealed),
                }
                lines.append(
                    encode_line(
                        FLEET_DAY_SEAL_DIFFERENCE,
                        {**row_tags, "field": difference.field},
                        figures,
                        time_ms,
                        FLEET_DAY_SEAL_DIFFERENCE_FIELDS,
                    )
                )
    return lines


def read_day_checks(registry: Registry, agents: list[AgentEntry]) -> list[EnterpriseChecks]:
    """Every day-seal outcome of each enterprise that has agents (blocking)."""
    found = []
    for platform, enterprise in sorted({(a.platform, a.enterprise) for a in agents}):
        try:
            tz = registry.enterprise_zone(enterprise)
        except NotFoundError:  # agents of an enterprise no loaded plan lists any more
            log.warning("no day-seal counts for %s: no loaded plan lists it", enterprise)
            continue
        checks = registry.day_checks(enterprise, dt.date.min, dt.date.max)
        found.append(EnterpriseChecks(platform, enterprise, tz, checks))
    return found


def read_fleet(registry: Registry, at: dt.datetime, *, day_seals: bool = True) -> FleetSnapshot:
    """The registry's fleet state at ``at`` (blocking: call it in a thread); the day-seal
    outcomes only if ``day_seals``."""
    agents = registry.agents()
    return FleetSnapshot(
        at=at,
        agents=agents,
        statuses=registry.agent_statuses(),
        seqs=registry.seq_summaries(),
        quarantine_total=registry.quarantine_counts(),
        quarantine_last_hour=registry.quarantine_counts_since(at - dt.timedelta(hours=1)),
        day_checks=read_day_checks(registry, agents) if day_seals else [],
    )


async def ensure_fleet_retention(store: InfluxStore) -> None:
    """Create the ``fleet`` retention policy if missing (InfluxDB 1.x; never altered here).

    Does nothing when the store does not manage the schema (``store init`` made it).
    """
    if not store.manage_schema:
        return
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
    day_seals: bool = True,
) -> int:
    """Write one fleet snapshot (``fleet`` retention policy); return the points written.

    The timestamp is ``now`` floored to ``align_s`` (replicas overwrite each other's snapshot).
    ``day_seals`` False leaves out the day-seal points (:data:`DEFAULT_DAY_SEALS_EVERY_S`).
    Raises what the registry (RegistryUnavailable) and the store (StoreError) raise.
    """
    at = _aligned(now or dt.datetime.now(dt.UTC), align_s)
    snapshot = await asyncio.to_thread(read_fleet, registry, at, day_seals=day_seals)
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
    day_seals_every_s: float = DEFAULT_DAY_SEALS_EVERY_S,
) -> None:
    """Write a fleet snapshot now and every ``every_s`` until cancelled, with the day-seal
    points in the first and then at most every ``day_seals_every_s``.

    A failure is logged and tried again next round: dashboards lag, ingest goes on.
    """
    created = False
    loop = asyncio.get_running_loop()
    day_seals_at: float | None = None  # loop time of the last snapshot written with them
    while True:
        try:
            if not created:
                await ensure_fleet_retention(store)
                created = True
            started = loop.time()
            due = day_seals_at is None or started - day_seals_at >= day_seals_every_s
            await write_fleet_snapshot(
                registry, store, align_s=every_s, stale_after_s=stale_after_s, day_seals=due
            )
            if due:
                day_seals_at = started
        except (StoreError, CollectorError) as exc:
            log.warning("fleet snapshot not written (%s); next try in %g s", exc, every_s)
        await asyncio.sleep(every_s)
