"""KPI values from summed base quantities, per enterprise-day and period (method §1).

Every KPI is a ratio of SUMS (docs/kpi.md, ISO 22400-2): device-day sums are summed over the
enterprise's devices, then over the period's days, and the ratio is taken last. A device-day
contributes to a KPI only when it measured every input of that KPI; energy per unit instead
follows the plan's measurement boundary (:class:`MeasurementBoundary`): each device's own
energy and output, or the listed facility meters against every counting device. Unplanned
downtime is measured only where a state code said the state (inference never says down): over
planned time less its inferred part, and only on device-days a code measured at least
:data:`MIN_STATE_CODE_SHARE` of (:func:`left_out_reason`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from numpy.typing import NDArray

from collector.downtime import MIN_STATE_CODE_SHARE, downtime_measured
from collector.evidence.inputs import DeviceDay
from collector.plan import EnergyBoundary, Enterprise

__all__ = [
    "DEVICES_BOUNDARY",
    "DOWNTIME",
    "DOWNTIME_NOT_MEASURED",
    "KPI_INPUTS",
    "KPI_WEIGHT",
    "MIN_COVERAGE",
    "MIN_STATE_CODE_SHARE",
    "EnterpriseDay",
    "MeasurementBoundary",
    "energy_boundary",
    "enterprise_days",
    "fully_productive_s",
    "kpi_value",
    "kpi_values",
    "kpi_weights",
    "left_out_reason",
    "oee_quality",
    "row_inputs",
]

FloatArray = NDArray[np.float64]

#: The summed base quantities each KPI is computed from (``ideal_count_s`` = Σ ideal × count,
#: ``ideal_good_s`` = Σ ideal × good: fully productive time). OEE carries the count and
#: ideal-time sums beside its own two so the report can show the factors that make it up.
KPI_INPUTS: dict[str, tuple[str, ...]] = {
    "availability": ("run_s", "planned_s"),
    "performance": ("ideal_count_s", "run_s"),
    "quality": ("good_count", "total_count"),
    "oee": ("ideal_good_s", "planned_s", "ideal_count_s", "good_count", "total_count"),
    "output_per_planned_hour": ("good_count", "planned_s"),
    "defect_rate": ("reject_count", "total_count"),
    # Down time over the planned time a state code measured: planned_s - inferred_planned_s.
    "unplanned_downtime_per_planned_hour": ("down_s", "planned_s", "inferred_planned_s"),
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

DOWNTIME = "unplanned_downtime_per_planned_hour"
#: The reason a device-day is left out of unplanned downtime, and a period without a measured
#: day has no value for it: its state was mostly inferred, and inference never says down.
DOWNTIME_NOT_MEASURED = "downtime_not_measured"


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
        # ISO 22400-2: fully productive time over planned busy time, Σ(ideal·good)/Σplanned.
        # Not A×P×Q of pooled sums: with ideal cycles that differ between devices the count
        # ratio Σgood/Σtotal weighs a fast machine's parts like a slow one's (method §1).
        return _ratio(s["ideal_good_s"], s["planned_s"])
    if kpi == "output_per_planned_hour":
        return _ratio(s["good_count"], s["planned_s"] / _SECONDS_PER_HOUR)
    if kpi == "defect_rate":
        return _ratio(s["reject_count"], s["total_count"])
    if kpi == DOWNTIME:
        return _ratio(s["down_s"], s["planned_s"] - s["inferred_planned_s"])
    if kpi == "energy_per_unit":
        return _ratio(s["energy_kwh"], s["good_count"])
    raise KeyError(f"unknown KPI {kpi!r}: expected one of {', '.join(KPI_INPUTS)}")


def kpi_weights(kpi: str, sums: Mapping[str, FloatArray]) -> FloatArray:
    """The KPI's denominator per day (its :data:`KPI_WEIGHT` sum; for unplanned downtime the
    planned time a state code measured), so a weighted mean of daily values is the period's."""
    weights = sums[KPI_WEIGHT[kpi]]
    return weights - sums["inferred_planned_s"] if kpi == DOWNTIME else weights


def oee_quality(sums: Mapping[str, float]) -> float | None:
    """The quality factor that goes with the OEE: Σ(ideal·good) / Σ(ideal·count), so that
    OEE = A × P × this; None when no part was made in observed time (method §1).

    It equals the count ratio (``quality``, 合格率) for one device with one ideal cycle; across
    devices it weighs each part by its ideal cycle time.
    """
    ideal_count_s = float(sums["ideal_count_s"])
    return None if ideal_count_s <= 0 else float(sums["ideal_good_s"]) / ideal_count_s


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
    time of rows with provenance ``imported``. ``left_out[kpi]`` names the devices whose day
    was left out of the KPI although it had the inputs, with the reason (sorted).
    """

    day: date
    devices: int
    scheduled_s: float
    scheduled_comm_loss_s: float
    comm_loss_s: float
    imported_scheduled_s: float
    kpi_sums: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    left_out: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

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


def fully_productive_s(row: DeviceDay) -> float | None:
    """The device-day's Σ(ideal·good), s: the agent's ``ideal_good_s``, or for a day without it
    (windows from an agent that predates it) ideal cycle × good count when the day had one
    ideal cycle, which is the same sum; None when the cycle changed that day (method §1)."""
    if row.ideal_good_s is not None:
        return row.ideal_good_s
    cycle = row.ideal_cycle_s_min
    if row.good_count is None or cycle is None or cycle != row.ideal_cycle_s_max:
        return None
    return cycle * row.good_count


def _inferred_planned_s(row: DeviceDay) -> float:
    # Absent is none inferred: a device without a state: block, or an agent that predates it.
    return row.inferred_planned_s or 0.0


def left_out_reason(row: DeviceDay, kpi: str) -> str | None:
    """Why a device-day with the KPI's inputs is left out of it, or None when it counts.

    Unplanned downtime: :data:`DOWNTIME_NOT_MEASURED` when a state code measured less than
    :data:`MIN_STATE_CODE_SHARE` of the day's planned time (the rest was inferred, and
    inference never says down). A day without planned time leaves nothing out.
    """
    if kpi != DOWNTIME or row.down_s is None:
        return None
    measured = downtime_measured(row.planned_s, row.inferred_planned_s)
    return None if measured else DOWNTIME_NOT_MEASURED


def row_inputs(row: DeviceDay, kpi: str) -> dict[str, float] | None:
    """The KPI's inputs from one device-day, None when it lacks one (ideal_good_s: with the
    fallback of :func:`fully_productive_s`; inferred_planned_s: absent is 0) or is left out
    (:func:`left_out_reason`)."""
    if left_out_reason(row, kpi) is not None:
        return None
    values = {}
    for name in KPI_INPUTS[kpi]:
        if name == "ideal_good_s":
            value = fully_productive_s(row)
        elif name == "inferred_planned_s":
            value = _inferred_planned_s(row)
        else:
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
        inputs = row_inputs(row, kpi)
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
    left_out: dict[str, tuple[tuple[str, str], ...]] = {}
    for kpi in KPI_INPUTS:
        if kpi == "energy_per_unit" and boundary.kind == "facility":
            sums = _facility_energy_sums(rows, boundary.meters)
        else:
            sums = _device_sums(kpi, rows)
        if sums is not None:
            kpi_sums[kpi] = sums
        reasons = {(row.device, r) for row in rows if (r := left_out_reason(row, kpi))}
        if reasons:
            left_out[kpi] = tuple(sorted(reasons))
    return EnterpriseDay(
        day=day,
        devices=len({row.device for row in rows}),
        scheduled_s=sum(row.scheduled_s for row in rows),
        scheduled_comm_loss_s=sum(row.scheduled_comm_loss_s for row in rows),
        comm_loss_s=sum(row.comm_loss_s for row in rows),
        imported_scheduled_s=sum(row.scheduled_s for row in rows if row.provenance == "imported"),
        kpi_sums=kpi_sums,
        left_out=left_out,
    )
