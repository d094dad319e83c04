"""The day-by-day parts of an enterprise's evidence: the device-day inputs, each KPI's daily
chart points, its values per device, and the energy model's points (pure).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta

from collector.evidence.daily import (
    KPI_INPUTS,
    EnterpriseDay,
    energy_boundary,
    enterprise_days,
    kpi_value,
    left_out_reason,
    row_inputs,
)
from collector.evidence.document import (
    DailyPointDoc,
    DayPlace,
    DeviceDayDoc,
    DeviceValueDoc,
    EnergyPointDoc,
)
from collector.evidence.energy import EnergySavings
from collector.evidence.inputs import DailySums
from collector.evidence.sufficiency import KpiSeries, PeriodRole, is_usable
from collector.plan import Enterprise, Period

__all__ = [
    "daily_points",
    "device_day_doc",
    "device_values",
    "energy_points",
    "facility_device_values",
    "plan_days",
    "reason_days",
    "row_order",
]


def device_day_doc(row: DailySums) -> DeviceDayDoc:
    """One device-day input row as the document carries it."""
    # Every field of the document from the row's field of the same name; a provenance other
    # than "imported" (a stray tag) reads as measured. model_fields holds no extra key, so the
    # document's extra="forbid" never fires.
    values = {name: getattr(row, name) for name in DeviceDayDoc.model_fields}
    values["provenance"] = "imported" if row.provenance == "imported" else "measured"
    return DeviceDayDoc.model_validate(values)


def row_order(row: DailySums) -> tuple[date, str, str, str]:
    """The order device-day rows are computed and listed in: day, device, agent, provenance."""
    return (row.day, row.device, row.agent, row.provenance)


def plan_days(enterprise: Enterprise, rows: Iterable[DailySums]) -> tuple[EnterpriseDay, ...]:
    """The enterprise's days as its plan measures them: rows in :func:`row_order`, summed
    with the plan's energy boundary (method §1). The bundle and the web's series both use it,
    so a chart shows the figures the verdict used."""
    ordered: list[DailySums] = sorted(rows, key=row_order)
    return tuple(enterprise_days(ordered, energy_boundary(enterprise)))


def _place(day: date, baseline: Period, reporting: Period) -> DayPlace:
    if baseline.start <= day <= baseline.end:
        return "baseline"
    if reporting.start <= day <= reporting.end:
        return "reporting"
    if baseline.end < day < reporting.start:
        return "between"
    return "outside"


def daily_points(
    kpi: str, by_day: Mapping[date, EnterpriseDay], baseline: Period, reporting: Period
) -> list[DailyPointDoc]:
    """Every calendar day from the baseline's start to the reporting period's end."""
    points = []
    for offset in range((reporting.end - baseline.start).days + 1):
        day = baseline.start + timedelta(days=offset)
        found = by_day.get(day)
        points.append(
            DailyPointDoc(
                day=day,
                place=_place(day, baseline, reporting),
                value=None if found is None else found.value(kpi),
                coverage=None if found is None else found.coverage,
                usable=found is not None and is_usable(found, kpi),
            )
        )
    return points


def _device_sums(
    kpi: str, rows: Sequence[DailySums], days: frozenset[date]
) -> dict[str, dict[str, float]]:
    """Per device, the KPI's input sums over the given days (rows measuring every input)."""
    sums: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.day not in days:
            continue
        inputs = row_inputs(row, kpi)
        if inputs is None:
            continue
        device = sums.setdefault(row.device, dict.fromkeys(KPI_INPUTS[kpi], 0.0))
        for name, value in inputs.items():
            device[name] += value
    return sums


def reason_days(
    series: KpiSeries, days: Sequence[EnterpriseDay], start: date, end: date
) -> frozenset[date]:
    """The days on which a device without a value in the period is said left out of the KPI:
    the period's usable days, or when it has none its scheduled days, where
    :func:`~collector.evidence.sufficiency.period_series` reads the period's own reasons."""
    if series.days:
        return frozenset(series.days)
    return frozenset(day.day for day in days if start <= day.day <= end and day.scheduled_s > 0)


def _device_reasons(
    kpi: str, rows: Sequence[DailySums], days: frozenset[date]
) -> dict[str, set[str]]:
    """Per device, why its rows of ``days`` were left out of the KPI (:func:`left_out_reason`)."""
    reasons: dict[str, set[str]] = {}
    for row in rows:
        why = left_out_reason(row, kpi) if row.day in days else None
        if why is not None:
            reasons.setdefault(row.device, set()).add(why)
    return reasons


def device_values(
    kpi: str,
    rows: Sequence[DailySums],
    baseline: KpiSeries,
    reporting: KpiSeries,
    left_out_days: tuple[frozenset[date], frozenset[date]] = (frozenset(), frozenset()),
) -> list[DeviceValueDoc]:
    """The KPI per device over the days the enterprise value used (shown, does not decide).

    A device with no value in a period whose rows of that period's ``left_out_days``
    (:func:`reason_days`, baseline then reporting) were left out of the KPI is listed too,
    with the reasons: a machine never measured for downtime is "not measured", not absent.
    """
    base = _device_sums(kpi, rows, frozenset(baseline.days))
    report = _device_sums(kpi, rows, frozenset(reporting.days))
    base_why = _device_reasons(kpi, rows, left_out_days[0])
    report_why = _device_reasons(kpi, rows, left_out_days[1])
    devices = set(base) | set(report) | set(base_why) | set(report_why)
    return [
        DeviceValueDoc(
            device=device,
            baseline_value=kpi_value(kpi, base[device]) if device in base else None,
            reporting_value=kpi_value(kpi, report[device]) if device in report else None,
            baseline_reasons=[] if device in base else sorted(base_why.get(device, ())),
            reporting_reasons=[] if device in report else sorted(report_why.get(device, ())),
        )
        for device in sorted(devices)
    ]


def _facility_parts(
    rows: Sequence[DailySums], meters: frozenset[str], days: frozenset[date]
) -> tuple[dict[str, float], dict[str, float]]:
    """Over ``days``: each listed meter's energy, each counting device's good output: the
    parts of the facility boundary's sums (``daily._facility_energy_sums``)."""
    energy: dict[str, float] = {}
    output: dict[str, float] = {}
    for row in rows:
        if row.day not in days:
            continue
        if row.device in meters and row.energy_kwh is not None:
            energy[row.device] = energy.get(row.device, 0.0) + row.energy_kwh
        if row.good_count is not None:
            output[row.device] = output.get(row.device, 0.0) + row.good_count
    return energy, output


def facility_device_values(
    rows: Sequence[DailySums], meters: frozenset[str], baseline: KpiSeries, reporting: KpiSeries
) -> list[DeviceValueDoc]:
    """Energy per unit on the facility boundary: no value per device (none measures its own
    energy and output); the listed meters' energy and the counting devices' good output."""
    base_energy, base_output = _facility_parts(rows, meters, frozenset(baseline.days))
    report_energy, report_output = _facility_parts(rows, meters, frozenset(reporting.days))
    devices = set(meters) | set(base_output) | set(report_output)
    return [
        DeviceValueDoc(
            device=device,
            baseline_value=None,
            reporting_value=None,
            baseline_energy_kwh=base_energy.get(device),
            reporting_energy_kwh=report_energy.get(device),
            baseline_good_count=base_output.get(device),
            reporting_good_count=report_output.get(device),
        )
        for device in sorted(devices)
    ]


def energy_points(savings: EnergySavings, series: Sequence[KpiSeries]) -> Iterator[EnergyPointDoc]:
    """The energy model's chart points: each day's output, hours, energy and modelled energy."""
    model = savings.model
    for part in series:
        role: PeriodRole = part.role
        output = part.column("good_count")
        hours = part.column("planned_s") / 3600.0
        modelled = model.predict(output, hours if "planned_h" in model.drivers else None)
        for i, day in enumerate(part.days):
            yield EnergyPointDoc(
                day=day,
                role=role,
                good_count=float(output[i]),
                planned_h=float(hours[i]),
                energy_kwh=float(part.column("energy_kwh")[i]),
                model_kwh=float(modelled[i]),
            )
