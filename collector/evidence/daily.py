"""KPI values from summed base quantities, per enterprise-day and period (method §1).

Every KPI is a ratio of SUMS (docs/kpi.md, ISO 22400-2): device-day sums are summed over the
enterprise's devices, then over the period's days, and the ratio is taken last. A device-day
contributes to a KPI only when it measured every input of that KPI.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "KPI_INPUTS",
    "KPI_WEIGHT",
    "DeviceDay",
    "EnterpriseDay",
    "enterprise_days",
    "kpi_value",
    "kpi_values",
]

FloatArray = NDArray[np.float64]

#: The summed base quantities each KPI is computed from (``ideal_count_s`` = Σ ideal × count).
KPI_INPUTS: dict[str, tuple[str, ...]] = {
    "availability": ("run_s", "planned_s"),
    "performance": ("ideal_count_s", "run_s"),
    "quality": ("good_count", "total_count"),
    "oee": ("ideal_count_s", "planned_s", "good_count", "total_count"),
    "output_per_planned_hour": ("good_count", "planned_s"),
    "defect_rate": ("reject_count", "total_count"),
    "unplanned_downtime_per_planned_hour": ("down_s", "planned_s"),
    # Planned time is carried for the energy model's optional second driver (method §4).
    "energy_per_unit": ("energy_kwh", "good_count", "planned_s"),
}

#: The sum that weighs a day in a period's value (the KPI's denominator): the HAC cross-check
#: uses it as the WLS weight so its estimate matches the ratio of sums.
KPI_WEIGHT: dict[str, str] = {
    "availability": "planned_s",
    "performance": "run_s",
    "quality": "total_count",
    "oee": "planned_s",
    "output_per_planned_hour": "planned_s",
    "defect_rate": "total_count",
    "unplanned_downtime_per_planned_hour": "planned_s",
    "energy_per_unit": "good_count",
}

_SECONDS_PER_HOUR = 3600.0


class DeviceDay(Protocol):
    """One device's (and provenance's) day of sums; :class:`collector.store.DailyRow` is one."""

    @property
    def device(self) -> str: ...
    @property
    def provenance(self) -> str: ...
    @property
    def day(self) -> date: ...
    @property
    def scheduled_s(self) -> float: ...
    @property
    def planned_s(self) -> float: ...
    @property
    def run_s(self) -> float | None: ...
    @property
    def down_s(self) -> float | None: ...
    @property
    def total_count(self) -> float | None: ...
    @property
    def good_count(self) -> float | None: ...
    @property
    def reject_count(self) -> float | None: ...
    @property
    def energy_kwh(self) -> float | None: ...
    @property
    def ideal_count_s(self) -> float | None: ...
    @property
    def comm_loss_s(self) -> float: ...
    @property
    def scheduled_comm_loss_s(self) -> float: ...


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, NaN where den is 0 (undefined, never 0 or 1)."""
    safe = np.where(den != 0, den, 1.0)
    return np.where(den != 0, num / safe, np.nan)


def kpi_values(kpi: str, sums: Mapping[str, FloatArray]) -> FloatArray:
    """The KPI from arrays of sums (one element per day or replicate); NaN where undefined.

    Units: ratios 0..1, parts/h, h/h, kWh/part (docs/evidence-method.md §1). KeyError for an
    unknown KPI or a missing input.
    """
    s = sums
    if kpi == "availability":
        return _ratio(s["run_s"], s["planned_s"])
    if kpi == "performance":
        return _ratio(s["ideal_count_s"], s["run_s"])
    if kpi == "quality":
        return _ratio(s["good_count"], s["total_count"])
    if kpi == "oee":
        # A×P×Q = (Σideal·count/Σplanned)·(Σgood/Σtotal); no output in planned time is OEE 0
        # (ISO 22400-2's reduced form), although quality is undefined then.
        quality = np.where(s["total_count"] > 0, _ratio(s["good_count"], s["total_count"]), 0.0)
        return _ratio(s["ideal_count_s"], s["planned_s"]) * quality
    if kpi == "output_per_planned_hour":
        return _ratio(s["good_count"], s["planned_s"] / _SECONDS_PER_HOUR)
    if kpi == "defect_rate":
        return _ratio(s["reject_count"], s["total_count"])
    if kpi == "unplanned_downtime_per_planned_hour":
        return _ratio(s["down_s"], s["planned_s"])
    if kpi == "energy_per_unit":
        return _ratio(s["energy_kwh"], s["good_count"])
    raise KeyError(f"unknown KPI {kpi!r}: expected one of {', '.join(KPI_INPUTS)}")


def kpi_value(kpi: str, sums: Mapping[str, float]) -> float | None:
    """The KPI from one set of sums; None when undefined (a zero denominator)."""
    arrays = {name: np.array([float(sums[name])]) for name in KPI_INPUTS[kpi]}
    value = float(kpi_values(kpi, arrays)[0])
    return None if np.isnan(value) else value


@dataclass(frozen=True, slots=True)
class EnterpriseDay:
    """One enterprise's local day: coverage sums and, per KPI, the input sums over its devices.

    ``kpi_sums[kpi]`` is present when at least one device-day measured all of the KPI's inputs;
    seconds are ``_s``, energy kWh, counts parts. ``imported_scheduled_s`` is the scheduled
    time of rows with provenance ``imported``.
    """

    day: date
    devices: int
    scheduled_s: float
    scheduled_comm_loss_s: float
    comm_loss_s: float
    imported_scheduled_s: float
    kpi_sums: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @property
    def coverage(self) -> float | None:
        """1 − scheduled comm loss / scheduled time; None when nothing was scheduled."""
        if self.scheduled_s <= 0:
            return None
        return 1.0 - self.scheduled_comm_loss_s / self.scheduled_s

    def value(self, kpi: str) -> float | None:
        """The day's KPI value, None when no device measured it or it is undefined."""
        sums = self.kpi_sums.get(kpi)
        return None if sums is None else kpi_value(kpi, sums)


def _row_inputs(row: DeviceDay, kpi: str) -> dict[str, float] | None:
    values = {}
    for name in KPI_INPUTS[kpi]:
        value = getattr(row, name)
        if value is None:
            return None
        values[name] = float(value)
    return values


def enterprise_days(rows: Iterable[DeviceDay]) -> list[EnterpriseDay]:
    """Sum one enterprise's device-day rows into enterprise days, in date order.

    The caller passes the rows of one enterprise; every device and provenance of a day is
    summed (docs/evidence-method.md §1 on the weighting this implies).
    """
    by_day: dict[date, list[DeviceDay]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    return [_enterprise_day(day, by_day[day]) for day in sorted(by_day)]


def _enterprise_day(day: date, rows: list[DeviceDay]) -> EnterpriseDay:
    kpi_sums: dict[str, dict[str, float]] = {}
    for kpi in KPI_INPUTS:
        for row in rows:
            inputs = _row_inputs(row, kpi)
            if inputs is None:
                continue
            sums = kpi_sums.setdefault(kpi, dict.fromkeys(KPI_INPUTS[kpi], 0.0))
            for name, value in inputs.items():
                sums[name] += value
    return EnterpriseDay(
        day=day,
        devices=len({row.device for row in rows}),
        scheduled_s=sum(row.scheduled_s for row in rows),
        scheduled_comm_loss_s=sum(row.scheduled_comm_loss_s for row in rows),
        comm_loss_s=sum(row.comm_loss_s for row in rows),
        imported_scheduled_s=sum(row.scheduled_s for row in rows if row.provenance == "imported"),
        kpi_sums=kpi_sums,
    )
