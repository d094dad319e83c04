"""Which days count as evidence for a KPI, and whether a period has enough (method §2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np

from collector.evidence.daily import (
    KPI_INPUTS,
    MIN_COVERAGE,
    EnterpriseDay,
    FloatArray,
    kpi_values,
)
from collector.plan import MIN_DATA_DAYS

__all__ = [
    "MAX_REPORTING_IMPORTED_SHARE",
    "MIN_COVERAGE",
    "KpiSeries",
    "PeriodRole",
    "Sufficiency",
    "is_usable",
    "period_series",
]

#: Largest share of the reporting period's scheduled time that may come from imported files:
#: after go-live the agent measures, so a reporting period resting on imports is not evidence.
MAX_REPORTING_IMPORTED_SHARE = 0.50

PeriodRole = Literal["baseline", "reporting"]


@dataclass(frozen=True, slots=True)
class KpiSeries:
    """A KPI's usable days in one period: dates, input sums per day (columns = ``fields``)."""

    kpi: str
    role: PeriodRole
    days: tuple[date, ...]
    fields: tuple[str, ...]
    sums: FloatArray

    @property
    def n(self) -> int:
        """Number of usable days."""
        return len(self.days)

    def column(self, name: str) -> FloatArray:
        """One input's daily sums."""
        return self.sums[:, self.fields.index(name)]

    @property
    def daily_values(self) -> FloatArray:
        """The KPI per day (ratios of that day's sums)."""
        return kpi_values(self.kpi, {name: self.column(name) for name in self.fields})

    @property
    def value(self) -> float | None:
        """The period's value: the KPI over the period's sums; None when undefined."""
        totals = {name: np.array([self.column(name).sum()]) for name in self.fields}
        value = float(kpi_values(self.kpi, totals)[0])
        return None if np.isnan(value) else value


@dataclass(frozen=True, slots=True)
class Sufficiency:
    """Whether one period holds enough evidence for one KPI, and why not.

    Shares are 0..1 over the period's scheduled days; ``coverage`` and the shares are None when
    nothing was scheduled.
    """

    kpi: str
    role: PeriodRole
    start: date
    end: date
    calendar_days: int
    scheduled_days: int
    usable_days: int
    min_days: int
    coverage: float | None
    imported_share: float | None
    comm_loss_share: float | None
    reasons: tuple[str, ...]

    @property
    def sufficient(self) -> bool:
        """True when no reason speaks against the period."""
        return not self.reasons


def is_usable(day: EnterpriseDay, kpi: str) -> bool:
    """Whether the day counts as evidence for the KPI: scheduled, coverage ≥ MIN_COVERAGE, and
    the KPI defined that day (method §2)."""
    coverage = day.coverage
    return coverage is not None and coverage >= MIN_COVERAGE and day.value(kpi) is not None


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def period_series(
    days: Sequence[EnterpriseDay], kpi: str, role: PeriodRole, start: date, end: date
) -> tuple[KpiSeries, Sufficiency]:
    """The KPI's usable days between ``start`` and ``end`` (both included) and their sufficiency.

    KeyError for a KPI without a minimum in ``MIN_DATA_DAYS``.
    """
    in_period = [day for day in days if start <= day.day <= end]
    scheduled = [day for day in in_period if day.scheduled_s > 0]
    usable = [day for day in scheduled if is_usable(day, kpi)]
    fields = KPI_INPUTS[kpi]
    sums = np.array(
        [[day.kpi_sums[kpi][name] for name in fields] for day in usable], dtype=np.float64
    ).reshape(len(usable), len(fields))
    series = KpiSeries(kpi, role, tuple(day.day for day in usable), fields, sums)
    scheduled_s = sum(day.scheduled_s for day in scheduled)
    usable_scheduled_s = sum(day.scheduled_s for day in usable)
    imported_share = _share(sum(day.imported_scheduled_s for day in usable), usable_scheduled_s)
    min_days = MIN_DATA_DAYS[kpi]
    reasons = []
    if not usable:
        # Not one day measured because device-days were left out (downtime_not_measured: their
        # states were inferred): the period's value is "not measured", never 0 (docs/kpi.md).
        reasons += sorted({why for day in scheduled for _, why in day.left_out.get(kpi, ())})
    if len(usable) < min_days:
        reasons.append("too_few_usable_days")
    if (
        role == "reporting"
        and imported_share is not None
        and imported_share > MAX_REPORTING_IMPORTED_SHARE
    ):
        reasons.append("reporting_mostly_imported")
    comm_loss = sum(day.scheduled_comm_loss_s for day in scheduled)
    coverage_share = _share(comm_loss, scheduled_s)
    sufficiency = Sufficiency(
        kpi=kpi,
        role=role,
        start=start,
        end=end,
        calendar_days=(end - start).days + 1,
        scheduled_days=len(scheduled),
        usable_days=len(usable),
        min_days=min_days,
        coverage=None if coverage_share is None else 1.0 - coverage_share,
        imported_share=imported_share,
        comm_loss_share=coverage_share,
        reasons=tuple(reasons),
    )
    return series, sufficiency
