"""Whether an energy baseline can judge the reporting period it is projected onto (method §4).

The usable-day count of §2 is necessary, not enough: a fitted baseline model also needs
enough effectively independent days (n′, with the ρ of the savings uncertainty), reporting
drivers inside the range the model was fitted on (IPMVP), and the plant's operating modes
(the day types the reporting period has). A baseline that lacks one gives ``insufficient_data``
with its figures, never a pass or a fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt

from collector.evidence.daily import FloatArray
from collector.evidence.energy import EnergyModel
from collector.evidence.sufficiency import KpiSeries

__all__ = [
    "MAX_OUTSIDE_RANGE_SHARE",
    "MIN_BASELINE_DAYS_PER_TYPE",
    "MIN_EFFECTIVE_BASELINE_DAYS",
    "BaselineCheck",
    "DayType",
    "check_baseline",
    "day_type",
]

#: Fewest effectively independent baseline days n′ = n (1 − ρ)/(1 + ρ), ρ the residuals' lag-1
#: autocorrelation as in the savings uncertainty. Chosen by the simulation of method §6 (the
#: smallest whole number with a null effect passing at most 2.5 % on the whole grid).
MIN_EFFECTIVE_BASELINE_DAYS = 12.0
#: Largest share of reporting days whose drivers (good output, planned hours when a driver) lie
#: outside the baseline's range: IPMVP keeps the model within the independent variables' range;
#: one reporting day in ten may stray (a record day, a short day) without the adjusted baseline
#: resting on extrapolation.
MAX_OUTSIDE_RANGE_SHARE = 0.10
#: Fewest baseline days of a day type the reporting period has: one day can be an exception
#: (an overtime Saturday); two are the fewest that show a mode at all.
MIN_BASELINE_DAYS_PER_TYPE = 2

BoolArray = npt.NDArray[np.bool_]
DayType = Literal["weekday", "saturday", "sunday"]
_DAY_TYPES: tuple[DayType, ...] = ("weekday", "saturday", "sunday")


def day_type(day: date) -> DayType:
    """The operating mode a day stands for: Monday to Friday, Saturday or Sunday."""
    weekday = day.weekday()
    return "weekday" if weekday < 5 else ("saturday" if weekday == 5 else "sunday")


@dataclass(frozen=True, slots=True)
class BaselineCheck:
    """The energy baseline's three checks against one reporting period, with their figures.

    ``outside_days`` counts reporting days with any driver outside the baseline's range (the
    ranges are the model's ``output_range`` and ``hours_range``); ``baseline_day_types`` and
    ``reporting_day_types`` count usable days per day type; ``missing_day_types`` are the
    reporting period's types (each at least ``MAX_OUTSIDE_RANGE_SHARE`` of its days) with
    fewer than ``MIN_BASELINE_DAYS_PER_TYPE`` baseline days.
    """

    n_effective: float
    min_effective_days: float
    reporting_days: int
    outside_days: int
    max_outside_share: float
    baseline_day_types: dict[str, int]
    reporting_day_types: dict[str, int]
    missing_day_types: tuple[str, ...]

    @property
    def outside_share(self) -> float:
        """Share of reporting days with a driver outside the baseline's range (0 … 1)."""
        return self.outside_days / self.reporting_days if self.reporting_days else 0.0

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the baseline cannot judge the period (empty when it can)."""
        reasons = []
        if not self.n_effective >= self.min_effective_days:
            reasons.append("energy_baseline_few_effective_days")
        if self.outside_share > self.max_outside_share:
            reasons.append("energy_reporting_outside_baseline_range")
        if self.missing_day_types:
            reasons.append("energy_baseline_missing_day_types")
        return tuple(reasons)


def _outside(values: FloatArray, bounds: tuple[float, float] | None) -> BoolArray:
    if bounds is None:
        return np.zeros(values.shape, dtype=np.bool_)
    low, high = bounds
    return np.asarray((values < low) | (values > high), dtype=np.bool_)


def _type_counts(days: tuple[date, ...]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(_DAY_TYPES, 0)
    for day in days:
        counts[day_type(day)] += 1
    return counts


def check_baseline(model: EnergyModel, baseline: KpiSeries, reporting: KpiSeries) -> BaselineCheck:
    """The baseline's effective days, driver range and day types against ``reporting``."""
    outside = _outside(reporting.column("good_count"), model.output_range)
    if model.hours_range is not None:
        outside = outside | _outside(reporting.column("planned_s") / 3600.0, model.hours_range)
    base_types, report_types = _type_counts(baseline.days), _type_counts(reporting.days)
    missing = tuple(
        kind
        for kind in _DAY_TYPES
        if report_types[kind] > 0
        and report_types[kind] >= MAX_OUTSIDE_RANGE_SHARE * reporting.n
        and base_types[kind] < MIN_BASELINE_DAYS_PER_TYPE
    )
    return BaselineCheck(
        n_effective=model.n_effective,
        min_effective_days=MIN_EFFECTIVE_BASELINE_DAYS,
        reporting_days=reporting.n,
        outside_days=int(np.sum(outside)),
        max_outside_share=MAX_OUTSIDE_RANGE_SHARE,
        baseline_day_types=base_types,
        reporting_day_types=report_types,
        missing_day_types=missing,
    )
