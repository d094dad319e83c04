"""Checks on what changes between the periods besides the shop floor itself.

A retrofit changes how machines run; it must not change how they are measured. The ideal
cycle time, the agent's configuration and the set of devices should be the same before and
after go-live, the reporting period should be measured (not imported), and the days around
go-live should not be the ones with data missing. Thresholds: docs/evidence-method.md §10.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from collector.evidence.daily import (
    DOWNTIME,
    DOWNTIME_NOT_MEASURED,
    MIN_STATE_CODE_SHARE,
    left_out_reason,
)
from collector.evidence.document import FlagDoc, Severity
from collector.evidence.inputs import DailySums
from collector.evidence.plausibility.common import (
    Figure,
    FlagInputs,
    flag,
    in_period,
    rows_by_device,
)
from collector.plan import Period

__all__ = [
    "EDGE_DAYS",
    "EDGE_MIN_COMM_LOSS_SHARE",
    "EDGE_MIN_MISSING_SHARE",
    "EDGE_RATIO",
    "IDEAL_CYCLE_TOLERANCE",
    "IMPORTED_SERIOUS_SHARE",
    "IMPORTED_WARNING_SHARE",
    "comm_loss_around_go_live",
    "config_changes",
    "device_set_changes",
    "downtime_not_measured",
    "ideal_cycle_changes",
    "reporting_imported",
]

#: A device's ideal cycle range after the baseline that differs from the baseline's by more
#: than this (relative) is a changed setting, not rounding.
IDEAL_CYCLE_TOLERANCE = 0.01
#: A change this close to go-live (days) is "at go-live".
GO_LIVE_NEAR_DAYS = 7
#: Imported share of a reporting period's scheduled time: at least this much is a warning,
#: more than the serious share is serious (the verdict is then insufficient data anyway).
IMPORTED_WARNING_SHARE = 0.10
IMPORTED_SERIOUS_SHARE = 0.50
#: Days at each side of go-live that make its "edges": the last two weeks of the baseline and
#: the first two weeks of the reporting period.
EDGE_DAYS = 14
#: Scheduled comm-loss share of the edges that is large: a fifth, the share that makes a single
#: day unusable (method §2 MIN_COVERAGE) ...
EDGE_MIN_COMM_LOSS_SHARE = 0.20
#: ... or a quarter of the edge days without any data ...
EDGE_MIN_MISSING_SHARE = 0.25
#: ... and at least twice the rest of both periods: loss concentrated at the go-live.
EDGE_RATIO = 2.0


# --- ideal cycle time -----------------------------------------------------------------------


def _cycle_range(rows: Sequence[DailySums]) -> tuple[float, float] | None:
    lows = [row.ideal_cycle_s_min for row in rows if row.ideal_cycle_s_min is not None]
    highs = [row.ideal_cycle_s_max for row in rows if row.ideal_cycle_s_max is not None]
    return (min(lows), max(highs)) if lows and highs else None


def _differs(value: float, reference: float) -> bool:
    return abs(value - reference) > IDEAL_CYCLE_TOLERANCE * reference


def _first_changed_day(
    rows: Sequence[DailySums], after: date, reference: tuple[float, float]
) -> date | None:
    for row in rows:
        if row.day <= after or row.ideal_cycle_s_min is None or row.ideal_cycle_s_max is None:
            continue
        if _differs(row.ideal_cycle_s_min, reference[0]) or _differs(
            row.ideal_cycle_s_max, reference[1]
        ):
            return row.day
    return None


def ideal_cycle_changes(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``ideal_cycle_changed``: a device's ideal cycle time after the baseline is not the
    baseline's. A longer ideal cycle raises performance and OEE by itself (serious)."""
    baseline = inputs.enterprise.baseline
    go_live = inputs.enterprise.go_live
    for device, rows in sorted(rows_by_device(inputs.rows).items()):
        before = _cycle_range([row for row in rows if in_period(row.day, baseline)])
        after_rows = [
            row for row in rows if any(in_period(row.day, p) for p in inputs.reporting_periods)
        ]
        after = _cycle_range(after_rows)
        if before is None or after is None:
            continue
        if not (_differs(after[0], before[0]) or _differs(after[1], before[1])):
            continue
        changed = _first_changed_day(rows, baseline.end, before)
        ratio = after[1] / before[1]
        figures: dict[str, Figure] = {
            "baseline_min_s": before[0],
            "baseline_max_s": before[1],
            "reporting_min_s": after[0],
            "reporting_max_s": after[1],
            "ratio": ratio,
            "first_changed_day": None if changed is None else changed.isoformat(),
            "days_from_go_live": None if changed is None else (changed - go_live).days,
        }
        yield flag(
            "ideal_cycle_changed",
            "serious" if ratio > 1 + IDEAL_CYCLE_TOLERANCE else "warning",
            figures,
            device=device,
            days=[] if changed is None else [changed],
        )


# --- agent configuration --------------------------------------------------------------------


def _digest_changes(rows: Sequence[DailySums]) -> list[tuple[date, date]]:
    """(day, previous day with a digest) of each change of the device's configuration digest:
    within a day (several digests), or from one day's last window to the next day's first."""
    changes = []
    previous: tuple[date, str] | None = None
    for row in rows:
        first, last = row.config_digest_first, row.config_digest_last
        if first is None or last is None:
            previous = None
            continue
        if row.config_digests > 1:
            changes.append((row.day, row.day))
        elif previous is not None and first != previous[1]:
            changes.append((row.day, previous[0]))
        previous = (row.day, last)
    return changes


def _digests(rows: Sequence[DailySums], period: Period) -> set[str]:
    return {
        digest
        for row in rows
        if in_period(row.day, period)
        for digest in (row.config_digest_first, row.config_digest_last)
        if digest is not None
    }


def config_changes(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """Changes of a device's agent configuration (digest), measured rows only.

    ``config_changed_at_go_live`` (warning): the reporting period runs on a configuration the
    baseline never used. ``config_changed_in_period`` (info): a change inside a period, so the
    period was measured two ways.
    """
    baseline = inputs.enterprise.baseline
    periods = [baseline, *inputs.reporting_periods]
    measured = [row for row in inputs.rows if row.provenance == "measured"]
    for device, rows in sorted(rows_by_device(measured).items()):
        changes = _digest_changes(rows)
        # A change inside a period: the digest before it was also the period's.
        inside = [
            day
            for day, before in changes
            if any(in_period(day, p) and in_period(before, p) for p in periods)
        ]
        if inside:
            yield flag(
                "config_changed_in_period",
                "info",
                {"changes": len(inside)},
                device=device,
                days=inside,
            )
        before = _digests(rows, baseline)
        for number, period in enumerate(inputs.reporting_periods, start=1):
            new = _digests(rows, period) - before
            if not before or not new:
                continue
            between = [day for day, _ in changes if baseline.end < day <= period.end]
            yield flag(
                "config_changed_at_go_live",
                "warning",
                {
                    "attempt": number,
                    "baseline_digests": len(before),
                    "new_digests": len(new),
                    "new_digest": sorted(new)[0],
                    "first_change_day": between[0].isoformat() if between else None,
                    "days_from_go_live": (
                        (between[0] - inputs.enterprise.go_live).days if between else None
                    ),
                },
                device=device,
                days=between[:1],
            )


# --- devices --------------------------------------------------------------------------------


def _producing_devices(rows: Sequence[DailySums], period: Period) -> set[str]:
    return {row.device for row in rows if in_period(row.day, period) and row.planned_s > 0}


def device_set_changes(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``device_only_in_one_period``: a device with planned time in only one of the periods.

    The enterprise's KPIs are sums over its devices, so adding an efficient machine after
    go-live, or dropping the worst one, moves them without any machine improving.
    """
    baseline = inputs.enterprise.baseline
    before = _producing_devices(inputs.rows, baseline)
    for number, period in enumerate(inputs.reporting_periods, start=1):
        after = _producing_devices(inputs.rows, period)
        for device in sorted(before ^ after):
            present = "baseline" if device in before else "reporting"
            yield flag(
                "device_only_in_one_period",
                "warning",
                {"attempt": number, "present_in": present},
                device=device,
            )


# --- downtime not measured (state inferred) -------------------------------------------------


def _left_out_days(rows: Sequence[DailySums], period: Period) -> tuple[list[DailySums], int]:
    """(the rows left out of unplanned downtime, the days measured for it) in ``period``."""
    rows = [row for row in rows if in_period(row.day, period) and row.down_s is not None]
    left = [row for row in rows if left_out_reason(row, DOWNTIME) is not None]
    return left, len({row.day for row in rows} - {row.day for row in left})


def downtime_not_measured(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``downtime_not_measured``: a device's days left out of unplanned downtime per planned
    hour because a state code measured less than MIN_STATE_CODE_SHARE of their planned time.

    A warning when a period has such days and the other has none: the device's downtime is then
    measured in one period only, so before and after compare different machines for it (as
    ``device_only_in_one_period``); info when both periods leave it out alike.
    """
    baseline = inputs.enterprise.baseline
    for device, rows in rows_by_device(inputs.rows).items():
        base_left, base_measured = _left_out_days(rows, baseline)
        for number, period in enumerate(inputs.reporting_periods, start=1):
            report_left, report_measured = _left_out_days(rows, period)
            left = base_left + report_left
            if not left:
                continue
            planned_s = sum(row.planned_s for row in left)
            inferred_s = sum(row.inferred_planned_s or 0.0 for row in left)
            one_sided = (not base_left and base_measured) or (not report_left and report_measured)
            figures: dict[str, Figure] = {
                "attempt": number,
                "baseline_days": len({row.day for row in base_left}),
                "reporting_days": len({row.day for row in report_left}),
                "baseline_measured_days": base_measured,
                "reporting_measured_days": report_measured,
                "state_code_share": 1.0 - inferred_s / planned_s if planned_s > 0 else None,
                "min_state_code_share": MIN_STATE_CODE_SHARE,
            }
            yield flag(
                DOWNTIME_NOT_MEASURED,
                "warning" if one_sided else "info",
                figures,
                device=device,
                days=(row.day for row in left),
            )


# --- imported reporting data ----------------------------------------------------------------


def _imported_severity(share: float) -> Severity:
    if share > IMPORTED_SERIOUS_SHARE:
        return "serious"
    return "warning" if share >= IMPORTED_WARNING_SHARE else "info"


def reporting_imported(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``reporting_imported``: imported rows in a reporting period, with their share."""
    for number, period in enumerate(inputs.reporting_periods, start=1):
        rows = [row for row in inputs.rows if in_period(row.day, period)]
        imported = [row for row in rows if row.provenance == "imported"]
        if not imported:
            continue
        scheduled = sum(row.scheduled_s for row in rows)
        share = sum(row.scheduled_s for row in imported) / scheduled if scheduled > 0 else 1.0
        yield flag(
            "reporting_imported",
            _imported_severity(share),
            {
                "attempt": number,
                "imported_share": share,
                "imported_device_days": len(imported),
                "devices": ",".join(sorted({row.device for row in imported})),
            },
            days=[row.day for row in imported],
        )


# --- comm loss around go-live ---------------------------------------------------------------


def _loss(
    rows: Sequence[DailySums], days: Sequence[date]
) -> tuple[float | None, float, list[date]]:
    """(scheduled comm-loss share, share of days without rows, the bad days) over ``days``."""
    wanted = set(days)
    present = {row.day for row in rows if row.day in wanted}
    scheduled = sum(row.scheduled_s for row in rows if row.day in wanted)
    lost = sum(row.scheduled_comm_loss_s for row in rows if row.day in wanted)
    per_day: dict[date, list[float]] = {}
    for row in rows:
        if row.day in wanted:
            sums = per_day.setdefault(row.day, [0.0, 0.0])
            sums[0] += row.scheduled_s
            sums[1] += row.scheduled_comm_loss_s
    bad = [day for day, (s, c) in per_day.items() if s > 0 and c / s > EDGE_MIN_COMM_LOSS_SHARE]
    missing = sorted(wanted - present)
    share = lost / scheduled if scheduled > 0 else None
    return share, len(missing) / len(wanted) if wanted else 0.0, sorted(bad + missing)


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def comm_loss_around_go_live(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``comm_loss_around_go_live``: data lost in the two weeks either side of go-live far
    more than in the rest of the baseline and the (original) reporting period."""
    baseline, reporting = inputs.enterprise.baseline, inputs.enterprise.reporting
    edge_before = _span(
        max(baseline.start, baseline.end - timedelta(days=EDGE_DAYS - 1)), baseline.end
    )
    edge_after = _span(
        reporting.start, min(reporting.end, reporting.start + timedelta(days=EDGE_DAYS - 1))
    )
    edges = edge_before + edge_after
    rest = [
        day
        for day in _span(baseline.start, baseline.end) + _span(reporting.start, reporting.end)
        if day not in set(edges)
    ]
    edge_share, edge_missing, bad_days = _loss(inputs.rows, edges)
    rest_share, rest_missing, _ = _loss(inputs.rows, rest)
    lossy = (
        edge_share is not None
        and edge_share >= EDGE_MIN_COMM_LOSS_SHARE
        and (edge_share >= EDGE_RATIO * (rest_share or 0.0))
    )
    gappy = edge_missing >= EDGE_MIN_MISSING_SHARE and edge_missing >= EDGE_RATIO * rest_missing
    if not (lossy or gappy):
        return
    yield flag(
        "comm_loss_around_go_live",
        "warning",
        {
            "edge_days": len(edges),
            "edge_comm_loss_share": edge_share,
            "rest_comm_loss_share": rest_share,
            "edge_missing_share": edge_missing,
            "rest_missing_share": rest_missing,
        },
        days=bad_days,
    )
