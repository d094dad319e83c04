"""Checks on what was produced: counts against the ideal cycle, energy against output, copies.

Thresholds and their reasons: docs/evidence-method.md §10.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date

import numpy as np

from collector.evidence.daily import FloatArray
from collector.evidence.document import FlagDoc
from collector.evidence.inputs import DailySums
from collector.evidence.plausibility.common import Figure, FlagInputs, flag, in_period
from collector.plan import Period

__all__ = [
    "COPY_MIN_TOTAL_COUNT",
    "ENERGY_MIN_DAYS",
    "ENERGY_MIN_OUTPUT_CV",
    "ENERGY_MIN_R",
    "ENERGY_PROPORTIONAL_MAX_CV",
    "PERFORMANCE_LIMIT",
    "PERFORMANCE_MIN_IDEAL_S",
    "PERFORMANCE_SERIOUS",
    "counts_faster_than_ideal",
    "energy_not_following_output",
    "identical_days",
]

#: A device-day whose performance against its run time and the run time its polls may have
#: missed (Σideal × count / (Σrun + Σunsampled_run)) exceeds this made parts faster than its
#: ideal cycle allows; 5 % above 1 absorbs rounded nameplate cycle times.
PERFORMANCE_LIMIT = 1.05
#: Performance above this (or the limit broken on 3 days or more) is serious.
PERFORMANCE_SERIOUS = 1.20
PERFORMANCE_SERIOUS_DAYS = 3
#: Days with less ideal production time than this (s) are not judged: at a shift's edge a
#: part counted in a window whose run seconds fell in the window before can push a short
#: day's ratio far past 1.
PERFORMANCE_MIN_IDEAL_S = 600.0

#: Days with output and energy a period needs before energy is compared with output.
ENERGY_MIN_DAYS = 14
#: Output must vary this much day to day (coefficient of variation) for a relation to show.
ENERGY_MIN_OUTPUT_CV = 0.10
#: Below this correlation, output explains under 9 % (r²) of energy's daily variation.
ENERGY_MIN_R = 0.30
#: Energy per part this constant (CV) while output varies: energy computed from the counts,
#: with no base load and no noise, as no meter measures it.
ENERGY_PROPORTIONAL_MAX_CV = 0.001

#: A device-day is compared with others for copies only with at least this many parts: with
#: a few parts a day, equal counts on two days happen by chance.
COPY_MIN_TOTAL_COUNT = 100
_COPY_FIELDS = (
    "scheduled_s",
    "planned_s",
    "run_s",
    "idle_s",
    "down_s",
    "total_count",
    "good_count",
    "reject_count",
    "energy_kwh",
)


# --- counts faster than the ideal cycle -----------------------------------------------------


def _performance(row: DailySums) -> float | None:
    """The device-day's performance against the most run time honest polls allow: run_s plus
    the run time the polls may have missed (``unsampled_run_s``: sample and hold counts a
    machine that ran between two idle polls as idle). inf for parts without either; None when
    not judged. Days whose windows predate ``unsampled_run_s`` are judged on run_s alone."""
    if row.run_s is None or row.ideal_count_s is None or row.total_count is None:
        return None
    if row.ideal_count_s < PERFORMANCE_MIN_IDEAL_S:
        return None
    possible_run_s = row.run_s + (row.unsampled_run_s or 0.0)
    return float("inf") if possible_run_s <= 0 else row.ideal_count_s / possible_run_s


def counts_faster_than_ideal(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``count_faster_than_ideal``: per device, the days its counts beat its ideal cycle."""
    flagged: dict[str, list[tuple[DailySums, float]]] = defaultdict(list)
    for row in inputs.rows:
        performance = _performance(row)
        if performance is not None and performance > PERFORMANCE_LIMIT:
            flagged[row.device].append((row, performance))
    for device, found in sorted(flagged.items()):
        worst = max(performance for _, performance in found)
        days = {row.day for row, _ in found}
        serious = worst > PERFORMANCE_SERIOUS or len(days) >= PERFORMANCE_SERIOUS_DAYS
        cycles = [c for row, _ in found for c in (row.ideal_cycle_s_min, row.ideal_cycle_s_max)]
        known = [c for c in cycles if c is not None]
        figures: dict[str, Figure] = {
            "days": len(days),
            # inf has no JSON: a day with parts and no run time is counted separately.
            "max_performance": worst if worst != float("inf") else None,
            "days_without_run_time": sum(1 for _, p in found if p == float("inf")),
            "limit": PERFORMANCE_LIMIT,
            "ideal_cycle_s_min": min(known) if known else None,
            "ideal_cycle_s_max": max(known) if known else None,
            "total_count": sum(row.total_count or 0 for row, _ in found),
            # The flagged days' run time and the run time their polls may have missed: the
            # bound the counts broke (max_performance is against their sum).
            "run_s": sum(row.run_s or 0.0 for row, _ in found),
            "unsampled_run_s": sum(row.unsampled_run_s or 0.0 for row, _ in found),
        }
        yield flag(
            "count_faster_than_ideal",
            "serious" if serious else "warning",
            figures,
            device=device,
            days=days,
        )


# --- energy against output ------------------------------------------------------------------


def _period_totals(
    rows: Sequence[DailySums], period: Period
) -> tuple[list[date], FloatArray, FloatArray]:
    """Per day of the period with energy and output: Σ energy (kWh) and Σ good count."""
    energy: dict[date, float] = defaultdict(float)
    output: dict[date, float] = defaultdict(float)
    for row in rows:
        if not in_period(row.day, period) or row.scheduled_s <= 0:
            continue
        if row.energy_kwh is not None:
            energy[row.day] += row.energy_kwh
        if row.good_count is not None:
            output[row.day] += row.good_count
    days = sorted(day for day in set(energy) & set(output) if output[day] > 0)
    return (
        days,
        np.array([energy[day] for day in days], dtype=np.float64),
        np.array([output[day] for day in days], dtype=np.float64),
    )


def _cv(values: FloatArray) -> float:
    mean = float(values.mean())
    return float(values.std(ddof=1)) / mean if mean > 0 else 0.0


def _energy_flag(role: str, period: Period, rows: Sequence[DailySums]) -> FlagDoc | None:
    days, energy, output = _period_totals(rows, period)
    if len(days) < ENERGY_MIN_DAYS or _cv(output) < ENERGY_MIN_OUTPUT_CV:
        return None
    figures: dict[str, Figure] = {
        "period": role,
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "days_compared": len(days),
        "output_cv": _cv(output),
        "energy_cv": _cv(energy),
    }
    per_part = energy / output
    # Flat energy has no correlation with anything (corrcoef would divide by zero): 0.
    flat = float(energy.std()) == 0.0
    correlation = 0.0 if flat else float(np.corrcoef(energy, output)[0, 1])
    figures["correlation"] = correlation
    if _cv(per_part) <= ENERGY_PROPORTIONAL_MAX_CV and float(energy.mean()) > 0:
        figures["energy_per_part_cv"] = _cv(per_part)
        return flag("energy_proportional_to_output", "serious", figures, days=days)
    if correlation < ENERGY_MIN_R:
        figures["limit"] = ENERGY_MIN_R
        return flag("energy_not_following_output", "warning", figures, days=days)
    return None


def energy_not_following_output(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``energy_not_following_output`` and ``energy_proportional_to_output``, per period.

    Enterprise totals per day: energy of every metered device against the good output of
    every counting device (a main meter and the presses behind it are the usual set-up).
    """
    periods = [("baseline", inputs.enterprise.baseline)]
    periods += [
        ("reporting" if n == 0 else f"rectification_{n}", period)
        for n, period in enumerate(inputs.reporting_periods)
    ]
    for role, period in periods:
        found = _energy_flag(role, period, inputs.rows)
        if found is not None:
            yield found


# --- identical days -------------------------------------------------------------------------


def _copy_key(row: DailySums) -> tuple[Figure, ...] | None:
    if row.total_count is None or row.total_count < COPY_MIN_TOTAL_COUNT or not row.run_s:
        return None
    values = [getattr(row, name) for name in _COPY_FIELDS]
    # Six decimals: sums of the same windows agree to far less, different days never do.
    return tuple(round(v, 6) if isinstance(v, float) else v for v in values)


def identical_days(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``identical_days``: device-days whose every quantity equals another device-day's.

    Within a device (a day copied to another day), across devices (one machine's day given
    to another) and across provenances (a measured day imported again). Across enterprises is
    out of scope here.
    """
    groups: dict[tuple[Figure, ...], list[DailySums]] = defaultdict(list)
    for row in inputs.rows:
        key = _copy_key(row)
        if key is not None:
            groups[key].append(row)
    for key, rows in sorted(groups.items(), key=lambda item: repr(item[0])):
        if len(rows) < 2:
            continue
        devices = sorted({row.device for row in rows})
        figures: dict[str, Figure] = dict(zip(_COPY_FIELDS, key, strict=True))
        figures |= {
            "copies": len(rows),
            "devices": ",".join(devices),
            "provenances": ",".join(sorted({row.provenance for row in rows})),
        }
        yield flag(
            "identical_days",
            "serious",
            figures,
            device=devices[0] if len(devices) == 1 else None,
            days=[row.day for row in rows],
        )
