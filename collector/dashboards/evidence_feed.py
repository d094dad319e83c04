"""The dashboard feed, evidence part: verdicts, subsidies and plan dates for Grafana.

:func:`write_evidence_summary` takes an :class:`EnterpriseEvidence` or a :class:`PlatformRollup`
(collector/evidence/document.py) after an evidence run and writes the ``evidence_*``
measurements of :mod:`collector.dashboards.schema` to the rollup retention policy. Verdict
points carry the run's time (each run adds a point; panels show the latest); the plan's dates
(baseline, go-live, reporting, rectification) are points at those dates, for annotations.
:func:`evidence_lines` is the pure part.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping

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
)
from collector.evidence.document import (
    EnterpriseDoc,
    EnterpriseEvidence,
    KpiDoc,
    PlatformRollup,
    SubsidyDoc,
)
from collector.store import InfluxStore, day_bounds
from collector.store.lines import FieldValue, encode_line
from collector.store.records import to_ms
from collector.store.rollup import zone

__all__ = ["evidence_lines", "write_evidence_summary"]


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
