"""The Grafana-facing measurements the feed writes beside the windows: names, tags, field types.

Grafana reads only InfluxDB, but the fleet's state lives in the registry (SQLite) and verdicts
and subsidies in evidence documents, so :mod:`collector.dashboards.feed` copies them into these
measurements. As in :mod:`collector.store.schema`, a field's type never changes (InfluxDB
refuses a batch whose field type conflicts with a shard's): each field is written as declared
here, and ``docs/storage.md`` ("Dashboard feed") is the prose twin of this module.

Flags that panels add up or colour by threshold are integers 0/1 (``online``, ``passed``):
InfluxQL cannot SUM a boolean.
"""

from __future__ import annotations

from collector.store.retention import RetentionPolicySpec
from collector.store.schema import FieldKind

__all__ = [
    "EVIDENCE_ENTERPRISE",
    "EVIDENCE_ENTERPRISE_FIELDS",
    "EVIDENCE_EVENT",
    "EVIDENCE_EVENT_FIELDS",
    "EVIDENCE_FLAG",
    "EVIDENCE_FLAG_FIELDS",
    "EVIDENCE_KPI",
    "EVIDENCE_KPI_FIELDS",
    "EVIDENCE_PLATFORM",
    "EVIDENCE_PLATFORM_FIELDS",
    "FLEET_AGENT",
    "FLEET_AGENT_FIELDS",
    "FLEET_DAY_SEALS",
    "FLEET_DAY_SEALS_FIELDS",
    "FLEET_DAY_SEAL_DIFFERENCE",
    "FLEET_DAY_SEAL_DIFFERENCE_FIELDS",
    "FLEET_QUARANTINE",
    "FLEET_QUARANTINE_FIELDS",
    "FLEET_RETENTION",
    "FLEET_SUMMARY",
    "FLEET_SUMMARY_FIELDS",
]

_F, _I, _B, _S = FieldKind.FLOAT, FieldKind.INTEGER, FieldKind.BOOLEAN, FieldKind.STRING

#: Fleet snapshots are operational, not evidence: a minute's resolution for 90 days is plenty
#: to see when a gateway went quiet, and 1,000 agents x 1,440 snapshots a day would otherwise
#: sit in the five-year raw policy. One shard group a day keeps the expiry step small.
FLEET_RETENTION = RetentionPolicySpec("fleet", 90, 1, False)

#: One point per registered agent per snapshot; tags platform, enterprise, agent.
FLEET_AGENT = "fleet_agent"
FLEET_AGENT_FIELDS: dict[str, FieldKind] = {
    "state": _S,  # online, stale, offline, never_seen, revoked
    "online": _I,  # 1 when state is online
    "last_seen_age_s": _F,  # since its last status message reached the collector
    "outbox_depth": _I,  # windows waiting in its outbox, as its last status said
    "agent_version": _S,
    "highest_seq": _I,
    "last_batch_age_s": _F,  # since its newest batch (highest seq) reached the collector
    "open_seq_gaps": _I,
    "missing_seqs": _I,
}

#: One point per platform per snapshot; tag platform.
FLEET_SUMMARY = "fleet_summary"
FLEET_SUMMARY_FIELDS: dict[str, FieldKind] = {
    "agents": _I,  # registered, revoked included
    "online": _I,
    "stale": _I,
    "offline": _I,
    "never_seen": _I,
    "revoked": _I,
    "outbox_depth_total": _I,
    "outbox_depth_max": _I,
    "open_seq_gaps": _I,
    "missing_seqs": _I,
    "last_batch_age_s_min": _F,  # the freshest batch of the platform: its age
}

#: One point per quarantine reason per snapshot (every known reason, 0 included); tag reason.
FLEET_QUARANTINE = "fleet_quarantine"
FLEET_QUARANTINE_FIELDS: dict[str, FieldKind] = {
    "total": _I,  # quarantined since the registry began
    "last_hour": _I,  # received in the hour before the snapshot
}

#: One point per enterprise with agents per snapshot: its ``kpi_daily`` rows by day-seal outcome
#: (collector.dashboards.day_seals: a row per agent, device, provenance and local day; an
#: unsealed row is overdue a day after its day's end); tags platform, enterprise.
FLEET_DAY_SEALS = "fleet_day_seals"
FLEET_DAY_SEALS_FIELDS: dict[str, FieldKind] = {
    "equal": _I,  # sealed_equal rows
    "different": _I,  # sealed_different rows
    "unsealed_overdue": _I,  # unsealed rows whose day ended more than a day ago
    "unsealed_recent": _I,  # unsealed rows of younger days (grace, outbox, broker outage)
}

#: One point per figure of each sealed_different row per snapshot; tags platform, enterprise,
#: agent, device, provenance, day (the local date), field. ``day`` is a tag, not a field, so
#: two days' differences of one device and field are two series instead of one point
#: overwriting the other at the snapshot's timestamp.
FLEET_DAY_SEAL_DIFFERENCE = "fleet_day_seal_difference"
FLEET_DAY_SEAL_DIFFERENCE_FIELDS: dict[str, FieldKind] = {
    "stored": _S,  # the stored figure as JSON text (null: no stored value)
    "sealed": _S,  # the agent's sealed figure as JSON text
}

#: One point per enterprise per evidence run; tags platform, enterprise.
EVIDENCE_ENTERPRISE = "evidence_enterprise"
EVIDENCE_ENTERPRISE_FIELDS: dict[str, FieldKind] = {
    "status": _S,  # pass, fail, insufficient_data
    "passed": _I,
    "attempts": _I,
    "flags": _I,
    "serious_flags": _I,
    "cost_fen": _I,
    "share_fen": _I,
    "subsidy_fen": _I,
    "capped": _B,
}

#: One point per KPI of the enterprise's last attempt per run; tags platform, enterprise, kpi.
EVIDENCE_KPI = "evidence_kpi"
EVIDENCE_KPI_FIELDS: dict[str, FieldKind] = {
    "status": _S,
    "passed": _I,
    "required": _B,
    "attempt": _I,
    "unit": _S,  # pp or %: the unit of change, interval and target
    "target_size": _F,
    "baseline_value": _F,
    "reporting_value": _F,
    "change": _F,
    "interval_low": _F,
    "interval_high": _F,
    "mde": _F,
}

#: One point per (check, severity) of the enterprise's flags per run; tags platform,
#: enterprise, check, severity.
EVIDENCE_FLAG = "evidence_flag"
EVIDENCE_FLAG_FIELDS: dict[str, FieldKind] = {
    "count": _I,  # flags of this check and severity
    "days": _I,  # distinct days they name
}

#: One point per platform roll-up per run; tag platform.
EVIDENCE_PLATFORM = "evidence_platform"
EVIDENCE_PLATFORM_FIELDS: dict[str, FieldKind] = {
    "batch_year": _I,
    "enterprises": _I,
    "passed_count": _I,
    "minimum": _I,  # the programme's minimum of passed enterprises per platform (10)
    "minimum_met": _I,
    "uncapped_total_fen": _I,
    "total_fen": _I,
    "platform_capped": _B,
}

#: The plan's dates as points, for annotations: timestamp = the local midnight the event
#: starts (a period's end: the midnight after its last day); tags platform, enterprise,
#: event, attempt.
EVIDENCE_EVENT = "evidence_event"
EVIDENCE_EVENT_FIELDS: dict[str, FieldKind] = {
    "text": _S,  # bilingual label, e.g. "上线 go-live 2026-05-01"
    "day": _S,  # the local date, YYYY-MM-DD
}
