"""KPI values from summed base quantities, per enterprise-day and period (method §1).

Every KPI is a ratio of SUMS (docs/kpi.md, ISO 22400-2): device-day sums are summed over the
enterprise's devices, then over the period's days, and the ratio is taken last. A device-day
contributes to a KPI only when it measured every input of that KPI; energy per unit instead
follows the plan's measurement boundary (:class:`MeasurementBoundary`): each device's own
energy and output, or the listed facility meters against every counting device.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from numpy.typing import NDArray

from collector.evidence.inputs import DeviceDay
from collector.plan import EnergyBoundary, Enterprise

__all__ = [
    "DEVICES_BOUNDARY",
    "KPI_INPUTS",
    "KPI_WEIGHT",
    "MIN_COVERAGE",
    "EnterpriseDay",
    "MeasurementBoundary",
    "energy_boundary",
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
_SECONDS_PER_DAY = 86_400.0

#: Share of a day's time with usable data before the day counts as evidence: four fifths, so a
#: day is not judged on its best hours. Scheduled time for the enterprise-day (method §2); the
#: whole day for a facility meter, which has no production calendar (method §1).
MIN_COVERAGE = 0.80


@dataclass(frozen=True, slots=True)
class MeasurementBoundary:
    """Where energy per unit is measured (IPMVP's measurement boundary, method §1).

    ``devices``: each device that measured both energy and good output (option B, retrofit
    isolation). ``facility``: the energy of ``meters`` against the good output of every
    counting device (option C, whole facility).
    """

    kind: EnergyBoundary = "devices"
    meters: frozenset[str] = frozenset()


#: The default boundary: each device's own meter and counters.
DEVICES_BOUNDARY = MeasurementBoundary()


def energy_boundary(enterprise: Enterprise) -> MeasurementBoundary:
    """The boundary the enterprise's plan sets on its energy-per-unit target (default devices)."""
    target = enterprise.targets.get("energy_per_unit")
    if target is None or target.boundary == "devices":
        return DEVICES_BOUNDARY
    return MeasurementBoundary("facility", frozenset(target.meters))


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


def enterprise_days(
    rows: Iterable[DeviceDay], boundary: MeasurementBoundary = DEVICES_BOUNDARY
) -> list[EnterpriseDay]:
    """Sum one enterprise's device-day rows into enterprise days, in date order.

    The caller passes the rows of one enterprise; every device and provenance of a day is
    summed (docs/evidence-method.md §1 on the weighting this implies); energy per unit follows
    ``boundary``.
    """
    by_day: dict[date, list[DeviceDay]] = defaultdict(list)
    for row in rows:
        by_day[row.day].append(row)
    return [_enterprise_day(day, by_day[day], boundary) for day in sorted(by_day)]


def _device_sums(kpi: str, rows: Iterable[DeviceDay]) -> dict[str, float] | None:
    """Σ of the KPI's inputs over the rows that measured all of them; None when none did."""
    sums: dict[str, float] | None = None
    for row in rows:
        inputs = _row_inputs(row, kpi)
        if inputs is None:
            continue
        if sums is None:
            sums = dict.fromkeys(KPI_INPUTS[kpi], 0.0)
        for name, value in inputs.items():
            sums[name] += value
    return sums


def _meter_energy(rows: Sequence[DeviceDay]) -> float | None:
    """A facility meter's energy over its rows of one day; None when it is incomplete."""
    energy = [row.energy_kwh for row in rows if row.energy_kwh is not None]
    heard_s = sum(row.duration_s - row.comm_loss_s for row in rows)
    if not energy or heard_s < MIN_COVERAGE * _SECONDS_PER_DAY:
        return None
    return float(sum(energy))


def _facility_energy_sums(
    rows: Sequence[DeviceDay], meters: frozenset[str]
) -> dict[str, float] | None:
    """Energy per unit's inputs on the facility boundary: Σ energy of every listed meter, Σ good
    output and planned time of every counting device; None when a meter is incomplete or no
    device counted good output (method §1)."""
    counting = [row for row in rows if row.good_count is not None]
    if not meters or not counting:
        return None
    energy = 0.0
    for meter in sorted(meters):
        measured = _meter_energy([row for row in rows if row.device == meter])
        if measured is None:
            return None
        energy += measured
    return {
        "energy_kwh": energy,
        "good_count": float(sum(row.good_count or 0 for row in counting)),
        "planned_s": float(sum(row.planned_s for row in counting)),
    }


def _enterprise_day(
    day: date, rows: list[DeviceDay], boundary: MeasurementBoundary
) -> EnterpriseDay:
    kpi_sums: dict[str, dict[str, float]] = {}
    for kpi in KPI_INPUTS:
        if kpi == "energy_per_unit" and boundary.kind == "facility":
            sums = _facility_energy_sums(rows, boundary.meters)
        else:
            sums = _device_sums(kpi, rows)
        if sums is not None:
            kpi_sums[kpi] = sums
    return EnterpriseDay(
        day=day,
        devices=len({row.device for row in rows}),
        scheduled_s=sum(row.scheduled_s for row in rows),
        scheduled_comm_loss_s=sum(row.scheduled_comm_loss_s for row in rows),
        comm_loss_s=sum(row.comm_loss_s for row in rows),
        imported_scheduled_s=sum(row.scheduled_s for row in rows if row.provenance == "imported"),
        kpi_sums=kpi_sums,
    )
