"""Measured inputs for the SME digital-level assessment (工信厅企业〔2024〕56号), pure.

Pilot enterprises are rated on site on 《中小企业数字化水平评测指标（2024年版）》 (levels 一级 to
四级). A few of its items are what the fleet measures; this module computes them from the
same device-day rows and enterprise-days as the verdicts, for the assessor to use beside the
rest of the assessment. They are inputs with their sources, not the rating
(docs/evidence-method.md §11 gives each definition and its reason):

- **生产设备联网率**: production equipment with measured data in the period ÷ the plan's
  ``production_equipment_total``. Without the count there is no rate (never 100 %: the plan's
  own device list would give about 100 % by construction).
- **数据自动采集 by scenario**: 设备管理 (machine state, ``run_s``), 能耗管理 (``energy_kwh``),
  生产管控 (part counts): covered when a device measured the quantity in the period.
- **月均产品合格率**, baseline and reporting: the mean of the months' rates, each month's
  rate Σgood / Σtotal over the quality KPI's usable days of that month.

The period is the last attempt's reporting period: the enterprise's status is that attempt's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from collector.evidence.daily import EnterpriseDay
from collector.evidence.document import (
    DigitalDeviceDoc,
    DigitalLevelDoc,
    DigitalScenario,
    DigitalScenarioDoc,
    MonthlyQualityDoc,
    NetworkedStatus,
    PeriodDoc,
    PeriodQualityDoc,
)
from collector.evidence.inputs import DailySums
from collector.evidence.sufficiency import PeriodRole, period_series
from collector.plan import Enterprise, Period

__all__ = ["SCENARIO_QUANTITIES", "digital_level_doc"]

#: The base quantities that show each scenario's automatic collection (method §11): machine
#: state is what equipment management rests on, energy what energy management rests on, part
#: counts (output and good parts) what production control rests on.
SCENARIO_QUANTITIES: Final[dict[DigitalScenario, tuple[str, ...]]] = {
    "equipment_management": ("run_s",),
    "energy_management": ("energy_kwh",),
    "production_control": ("total_count", "good_count"),
}

#: A device that measured one of these is production equipment; one that measured only
#: energy is metering equipment (a power meter on a feeder), which the count excludes.
_PRODUCTION_QUANTITIES: Final = ("run_s", "total_count", "good_count", "reject_count")


@dataclass(slots=True)
class _Seen:
    """What one device measured, on which days, in the period (measured windows only)."""

    days: set[date]
    quantities: set[str]


def _measured(rows: Iterable[DailySums], period: Period) -> dict[str, _Seen]:
    seen: dict[str, _Seen] = {}
    for row in rows:
        if row.provenance != "measured" or row.windows <= 0:
            continue  # an imported file is not the fleet's automatic collection
        if not period.start <= row.day <= period.end:
            continue
        device = seen.setdefault(row.device, _Seen(set(), set()))
        device.days.add(row.day)
        quantities = (*_PRODUCTION_QUANTITIES, "energy_kwh")
        device.quantities.update(q for q in quantities if getattr(row, q) is not None)
    return seen


def _scenarios_of(quantities: set[str]) -> list[DigitalScenario]:
    return [
        scenario
        for scenario, shown_by in SCENARIO_QUANTITIES.items()
        if quantities.intersection(shown_by)
    ]


def _device_doc(device: str, seen: _Seen | None, meters: frozenset[str]) -> DigitalDeviceDoc:
    if seen is None or not seen.days:
        return DigitalDeviceDoc(
            device=device,
            production=None,
            measured_days=0,
            first_day=None,
            last_day=None,
            scenarios=[],
        )
    production = device not in meters and bool(seen.quantities.intersection(_PRODUCTION_QUANTITIES))
    return DigitalDeviceDoc(
        device=device,
        production=production,
        measured_days=len(seen.days),
        first_day=min(seen.days),
        last_day=max(seen.days),
        scenarios=_scenarios_of(seen.quantities),
    )


def _facility_meters(enterprise: Enterprise) -> frozenset[str]:
    """The main meters the plan names (energy per unit on the facility boundary)."""
    target = enterprise.targets.get("energy_per_unit")
    return frozenset(target.meters) if target is not None else frozenset()


def _networked(
    total: int | None, devices: Sequence[DigitalDeviceDoc]
) -> tuple[list[str], NetworkedStatus, float | None]:
    networked = [d.device for d in devices if d.production]
    if total is None:
        return networked, "no_total", None
    if len(networked) > total:
        return networked, "exceeds_total", None
    return networked, "measured", len(networked) / total


def _month_docs(
    days: Sequence[date], good: Sequence[float], total: Sequence[float]
) -> list[MonthlyQualityDoc]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for day, good_count, total_count in zip(days, good, total, strict=True):
        month = sums[f"{day.year:04d}-{day.month:02d}"]
        month[0] += 1
        month[1] += good_count
        month[2] += total_count
    return [
        MonthlyQualityDoc(month=month, days=int(n), good_count=g, total_count=t, rate=g / t)
        for month, (n, g, t) in sorted(sums.items())
        if t > 0
    ]


def _period_quality(
    days: Sequence[EnterpriseDay], role: PeriodRole, period: Period
) -> PeriodQualityDoc:
    series, _ = period_series(days, "quality", role, period.start, period.end)
    months = _month_docs(
        series.days,
        [float(v) for v in series.column("good_count")],
        [float(v) for v in series.column("total_count")],
    )
    mean = sum(m.rate for m in months) / len(months) if months else None
    return PeriodQualityDoc(
        role=role,
        period=PeriodDoc(start=period.start, end=period.end),
        months=months,
        monthly_mean=mean,
        pooled=series.value,
    )


def _scenario_docs(devices: Sequence[DigitalDeviceDoc]) -> list[DigitalScenarioDoc]:
    docs = []
    for scenario, quantities in SCENARIO_QUANTITIES.items():
        covering = [d.device for d in devices if scenario in d.scenarios]
        docs.append(
            DigitalScenarioDoc(
                scenario=scenario,
                quantities=list(quantities),
                covered=bool(covering),
                devices=covering,
            )
        )
    return docs


def digital_level_doc(
    enterprise: Enterprise,
    rows: Iterable[DailySums],
    days: Sequence[EnterpriseDay],
    reporting: Period,
) -> DigitalLevelDoc:
    """The digital-level inputs over ``reporting`` (the last attempt's reporting period).

    ``rows`` are the enterprise's device-day rows, ``days`` its enterprise-days as the
    verdicts use them (:func:`collector.evidence.series.plan_days`). Every device the plan's
    agents list appears, with no data if it sent none.
    """
    seen: Mapping[str, _Seen] = _measured(rows, reporting)
    listed = {device for agent in enterprise.agents for device in agent.devices}
    meters = _facility_meters(enterprise)
    devices = [_device_doc(d, seen.get(d), meters) for d in sorted(listed | set(seen))]
    networked, status, share = _networked(enterprise.production_equipment_total, devices)
    return DigitalLevelDoc(
        period=PeriodDoc(start=reporting.start, end=reporting.end),
        production_equipment_total=enterprise.production_equipment_total,
        networked_devices=networked,
        networked_status=status,
        networked_share=share,
        devices=devices,
        scenarios=_scenario_docs(devices),
        quality=[
            _period_quality(days, "baseline", enterprise.baseline),
            _period_quality(days, "reporting", reporting),
        ],
    )
