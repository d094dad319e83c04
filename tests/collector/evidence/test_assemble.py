"""Assembly of the evidence document: attempts, figures a reviewer recomputes, byte-identity."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm  # type: ignore[import-untyped]

from collector.evidence import kpi_value
from collector.evidence.assemble import EnterpriseInputs, enterprise_evidence
from collector.evidence.document import (
    EnterpriseEvidence,
    PlanRefDoc,
    SoftwareDoc,
    canonical_json,
)
from collector.evidence.rollups import platform_rollup, province_summary
from collector.plan import Enterprise, Plan, load_plan, parse_plan
from collector.store import DailyRow

from .helpers import meter_day, shift_plant_rows, simulated_rows

CASES = Path(__file__).parents[1] / "plan_cases"
SOFTWARE = SoftwareDoc(retrofit_verify="0.test", python="3", numpy="2", scipy="1", statsmodels="0")


def _plan(case: str = "valid_minimal") -> Plan:
    return load_plan(CASES / case / "plan.yaml").plan


def _plan_with_energy(keys: str) -> Plan:
    """valid_minimal with more keys on its energy-per-unit target, e.g. ``drivers: [...]``."""
    text = (CASES / "valid_minimal" / "plan.yaml").read_text()
    energy = 'energy_per_unit: {direction: decrease, size: 8, unit: "%", required: false'
    assert energy in text
    return parse_plan(text.replace(energy, f"{energy}, {keys}"), "p").plan


def _ref(plan: Plan) -> PlanRefDoc:
    return PlanRefDoc(key=plan.key, version=1, digest="sha256:" + "0" * 64)


def _rows(enterprise: Enterprise, after: float, seed: int) -> list[DailyRow]:
    """Baseline availability 70 %, every reporting period at ``after``."""
    base = enterprise.baseline
    rows = simulated_rows(base.start, base.end, availability=0.70, seed=seed)
    for n, period in enumerate(enterprise.reporting_periods):
        rows += simulated_rows(period.start, period.end, availability=after, seed=seed + n + 1)
    return rows


def _inputs(plan: Plan, index: int, rows: list[DailyRow]) -> EnterpriseInputs:
    platform = plan.platforms[0]
    return EnterpriseInputs(
        plan=plan,
        plan_ref=_ref(plan),
        platform=platform,
        enterprise=platform.enterprises[index],
        rows=tuple(rows),
    )


def _evidence(plan: Plan, index: int, after: float, seed: int = 1) -> EnterpriseEvidence:
    enterprise = plan.platforms[0].enterprises[index]
    return enterprise_evidence(
        _inputs(plan, index, _rows(enterprise, after, seed)), software=SOFTWARE, seed=7
    )


def test_same_inputs_give_byte_identical_json_and_the_seed_is_recorded() -> None:
    plan = _plan()
    enterprise = plan.platforms[0].enterprises[0]
    inputs = _inputs(plan, 0, _rows(enterprise, 0.80, seed=3))
    shuffled = replace(inputs, rows=tuple(reversed(inputs.rows)))
    first = canonical_json(enterprise_evidence(inputs, software=SOFTWARE, seed=11))
    again = canonical_json(enterprise_evidence(shuffled, software=SOFTWARE, seed=11))
    other_seed = canonical_json(enterprise_evidence(inputs, software=SOFTWARE, seed=12))
    assert first == again
    assert first != other_seed
    assert EnterpriseEvidence.model_validate_json(first).method.seed == 11


def test_a_real_improvement_passes_and_the_figures_recompute_from_the_device_days() -> None:
    doc = _evidence(_plan(), 0, after=0.85)
    assert [a.number for a in doc.attempts] == [1]
    attempt = doc.attempts[0]
    oee = next(k for k in attempt.kpis if k.kpi == "oee")
    assert oee.status == "pass" and doc.status == "pass"
    assert doc.subsidy.subsidy_fen == 500_000_00 * 30 // 100
    # The period's sums are the sums of the device days on its usable days.
    usable = {p.day for p in oee.daily if p.usable and p.place == "reporting"}
    assert len(usable) == oee.reporting.usable_days == 91
    for name, total in oee.reporting.sums.items():
        recomputed = sum(getattr(d, name) for d in doc.device_days if d.day in usable)
        assert total == pytest.approx(recomputed, rel=1e-12)
    assert oee.reporting.value == pytest.approx(kpi_value("oee", oee.reporting.sums))
    assert oee.change is not None
    assert oee.reporting.value is not None and oee.baseline.value is not None
    assert oee.change.change == pytest.approx(
        100 * (oee.reporting.value - oee.baseline.value), rel=1e-9
    )
    assert oee.interval is not None and oee.interval.low >= 5.0
    # Every calendar day from the baseline's start to the reporting end has a chart point.
    assert len(oee.daily) == (date(2026, 8, 30) - date(2026, 2, 2)).days + 1
    assert {p.place for p in oee.daily} == {"baseline", "between", "reporting"}
    # Per-device values weigh into the enterprise's ratio of sums.
    assert [d.device for d in oee.devices] == ["press-1", "press-2"]
    energy = next(k for k in attempt.kpis if k.kpi == "energy_per_unit")
    assert energy.energy is not None and energy.energy.model.meets_g14
    assert len(energy.energy.points) == energy.baseline.usable_days + energy.reporting.usable_days


def _main_meter_plant(enterprise: Enterprise, per_part_after: float) -> list[DailyRow]:
    """Presses that only count parts and a main meter (``meter-1``) that only measures energy:
    300 kWh a day of base load plus 0.40 kWh a good part before, ``per_part_after`` after."""
    rng = np.random.default_rng(9)
    # The same availability after go-live: the reporting output stays in the baseline's range.
    presses = _rows(enterprise, 0.70, seed=4)
    output: dict[date, float] = defaultdict(float)
    for row in presses:
        output[row.day] += row.good_count or 0
    after = enterprise.go_live
    meters = [
        meter_day(
            day,
            "meter-1",
            300.0 + (0.40 if day < after else per_part_after) * good + float(rng.normal(0, 8)),
        )
        for day, good in sorted(output.items())
    ]
    return [replace(row, energy_kwh=None) for row in presses] + meters


def test_energy_per_unit_on_the_facility_boundary_recomputes_by_hand() -> None:
    plan = _plan_with_energy("boundary: facility, meters: [meter-1]")
    rows = _main_meter_plant(plan.platforms[0].enterprises[0], per_part_after=0.30)
    doc = enterprise_evidence(_inputs(plan, 0, rows), software=SOFTWARE)
    kpi = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    assert (kpi.target.boundary, kpi.target.meters) == ("facility", ["meter-1"])
    assert kpi.status == "pass" and kpi.energy is not None
    # The sums: the meter's energy against both presses' good output, on the usable days.
    for period in (kpi.baseline, kpi.reporting):
        usable = {p.day for p in kpi.daily if p.usable and p.place == period.role}
        assert len(usable) == period.usable_days > 21
        meter = [d for d in doc.device_days if d.day in usable and d.device == "meter-1"]
        presses = [d for d in doc.device_days if d.day in usable and d.device != "meter-1"]
        assert period.sums["energy_kwh"] == pytest.approx(sum(d.energy_kwh or 0 for d in meter))
        assert period.sums["good_count"] == sum(d.good_count or 0 for d in presses)
    # The G14 model by plain least squares on the chart's points, and the savings by hand.
    base = [p for p in kpi.energy.points if p.role == "baseline"]
    report = [p for p in kpi.energy.points if p.role == "reporting"]
    design = np.column_stack([np.ones(len(base)), [p.good_count for p in base]])
    coefficients, *_ = np.linalg.lstsq(design, [p.energy_kwh for p in base], rcond=None)
    assert kpi.energy.model.coefficients == pytest.approx(list(coefficients), rel=1e-9)
    assert coefficients[1] == pytest.approx(0.40, abs=0.05)
    adjusted = sum(coefficients[0] + coefficients[1] * p.good_count for p in report)
    actual = sum(p.energy_kwh for p in report)
    assert kpi.energy.adjusted_baseline_kwh == pytest.approx(adjusted, rel=1e-9)
    assert kpi.energy.savings_pct == pytest.approx(100 * (adjusted - actual) / adjusted, rel=1e-9)
    # The same plant on the default boundary: no device measured both, so no energy per unit.
    plain = _plan()
    doc = enterprise_evidence(_inputs(plain, 0, rows), software=SOFTWARE)
    kpi = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    assert (kpi.target.boundary, kpi.status) == ("devices", "insufficient_data")
    assert kpi.reasons == ["too_few_usable_days", "too_few_usable_days"]
    assert kpi.baseline.usable_days == kpi.reporting.usable_days == 0
    oee = next(k for k in doc.attempts[0].kpis if k.kpi == "oee")
    assert oee.target.boundary is None and oee.target.meters == []


def test_on_the_facility_boundary_devices_show_the_meters_energy_and_the_counters_output() -> None:
    plan = _plan_with_energy("boundary: facility, meters: [meter-1]")
    rows = _main_meter_plant(plan.platforms[0].enterprises[0], per_part_after=0.30)
    # A sub-meter behind the main meter, not listed: outside the boundary's sums.
    rows += [meter_day(row.day, "meter-sub", 50.0) for row in rows if row.device == "meter-1"]
    doc = enterprise_evidence(_inputs(plan, 0, rows), software=SOFTWARE)
    kpi = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    devices = {d.device: d for d in kpi.devices}
    assert set(devices) == {"meter-1", "press-1", "press-2"}
    # No device has an energy per unit of its own on this boundary.
    assert all(d.baseline_value is None and d.reporting_value is None for d in kpi.devices)
    meter, presses = devices["meter-1"], [devices["press-1"], devices["press-2"]]
    assert meter.baseline_good_count is None and meter.reporting_good_count is None
    assert all(p.baseline_energy_kwh is None and p.reporting_energy_kwh is None for p in presses)
    # The breakdown adds up to the enterprise's sums, period by period.
    assert meter.baseline_energy_kwh == pytest.approx(kpi.baseline.sums["energy_kwh"], rel=1e-12)
    assert meter.reporting_energy_kwh == pytest.approx(kpi.reporting.sums["energy_kwh"], rel=1e-12)
    assert sum(p.baseline_good_count or 0 for p in presses) == kpi.baseline.sums["good_count"]
    assert sum(p.reporting_good_count or 0 for p in presses) == kpi.reporting.sums["good_count"]
    assert all(p.baseline_good_count and p.reporting_good_count for p in presses)
    # Other KPIs keep their per-device values and carry no boundary figures.
    oee = next(k for k in doc.attempts[0].kpis if k.kpi == "oee")
    assert {d.device for d in oee.devices} == {"press-1", "press-2"}
    assert all(d.baseline_value is not None and d.baseline_energy_kwh is None for d in oee.devices)


def test_planned_hours_as_a_driver_fit_as_statsmodels_ols_on_the_points() -> None:
    plan = _plan_with_energy("drivers: [good_count, planned_h]")
    enterprise = plan.platforms[0].enterprises[0]
    # After go-live every press plans 20 h a day: 40 h, more than any baseline day.
    doc = enterprise_evidence(
        _inputs(plan, 0, shift_plant_rows(enterprise, 20.0)), software=SOFTWARE
    )
    kpi = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    assert kpi.target.drivers == ["good_count", "planned_h"]
    assert kpi.energy is not None and kpi.energy.model.drivers == ["good_count", "planned_h"]
    base = [p for p in kpi.energy.points if p.role == "baseline"]
    report = [p for p in kpi.energy.points if p.role == "reporting"]
    assert len(base) == kpi.baseline.usable_days and len({p.planned_h for p in base}) > 1
    design = sm.add_constant(np.array([[p.good_count, p.planned_h] for p in base]))
    fit = sm.OLS(np.array([p.energy_kwh for p in base]), design).fit()
    assert kpi.energy.model.coefficients == pytest.approx(list(fit.params), rel=1e-9)
    assert kpi.energy.model.r_squared == pytest.approx(fit.rsquared, rel=1e-9)
    assert kpi.energy.model.p == 3
    # Two presses: 120 kWh a day, 9 kWh per planned hour, 0.5 kWh a part (noise aside).
    assert fit.params == pytest.approx([120.0, 0.5, 9.0], rel=0.1)
    drivers = np.array([[p.good_count, p.planned_h] for p in report])
    adjusted = fit.predict(sm.add_constant(drivers, has_constant="add"))
    assert kpi.energy.adjusted_baseline_kwh == pytest.approx(float(adjusted.sum()), rel=1e-9)
    assert [p.model_kwh for p in report] == pytest.approx(list(adjusted), rel=1e-9)
    # The reporting hours lie beyond the baseline's: every reporting day is extrapolated.
    assert kpi.energy.model.hours_range == (16.0, 32.0)
    assert kpi.energy.extrapolated_hours_days == len(report) == kpi.reporting.usable_days
    # The default plan adjusts for output only: its model has one driver.
    plain = enterprise_evidence(
        _inputs(_plan(), 0, shift_plant_rows(enterprise, 16.0)), software=SOFTWARE
    )
    kpi = next(k for k in plain.attempts[0].kpis if k.kpi == "energy_per_unit")
    assert kpi.target.drivers == ["good_count"]
    assert kpi.energy is not None and kpi.energy.model.drivers == ["good_count"]


def test_planned_hours_that_never_vary_in_the_baseline_cannot_be_a_driver() -> None:
    plan = _plan_with_energy("drivers: [good_count, planned_h]")
    enterprise = plan.platforms[0].enterprises[0]
    rows = [
        replace(row, scheduled_s=57600.0, planned_s=57600.0)
        if row.day < enterprise.go_live else row
        for row in shift_plant_rows(enterprise, None)
    ]  # fmt: skip
    doc = enterprise_evidence(_inputs(plan, 0, rows), software=SOFTWARE)
    kpi = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    assert (kpi.status, kpi.reasons) == ("insufficient_data", ["energy_driver_constant"])
    assert kpi.energy is None


def test_rectification_is_a_second_attempt_and_decides_the_status() -> None:
    plan = _plan("valid_with_rectification")
    enterprise = plan.platforms[0].enterprises[3]
    base = enterprise.baseline
    rows = simulated_rows(base.start, base.end, availability=0.70, seed=5)
    original, first_fix, second_fix = enterprise.reporting_periods
    rows += simulated_rows(original.start, original.end, availability=0.70, seed=6)
    rows += simulated_rows(first_fix.start, first_fix.end, availability=0.72, seed=7)
    rows += simulated_rows(second_fix.start, second_fix.end, availability=0.85, seed=8)
    doc = enterprise_evidence(_inputs(plan, 3, rows), software=SOFTWARE, seed=1)
    assert [(a.number, a.kind, a.status) for a in doc.attempts] == [
        (1, "original", "fail"),
        (2, "rectification", "fail"),
        (3, "rectification", "pass"),
    ]
    assert doc.attempts[2].rectification_date == date(2026, 11, 20)
    assert doc.status == "pass" and doc.subsidy.passed
    # Attempt 3's chart marks the earlier reporting periods as "between".
    places = {p.day: p.place for p in doc.attempts[2].kpis[0].daily}
    assert places[original.start] == "between" and places[second_fix.start] == "reporting"


def test_platform_rollup_and_province_summary_from_the_documents() -> None:
    plan = _plan()
    platform = plan.platforms[0]
    docs = [
        _evidence(plan, index, after=0.85 if index < 9 else 0.70, seed=index)
        for index in range(len(platform.enterprises))
    ]
    rollup = platform_rollup(plan, _ref(plan), platform, docs[::-1], software=SOFTWARE)
    assert [e.id for e in rollup.enterprises] == [e.id for e in platform.enterprises]
    assert rollup.passed_count == 9 and not rollup.minimum_met
    assert rollup.total_fen == 9 * 150_000_00
    assert (
        rollup.enterprises[0].evidence_sha256 == hashlib.sha256(canonical_json(docs[0])).hexdigest()
    )
    summary = province_summary(plan, _ref(plan), [rollup], software=SOFTWARE)
    assert (summary.enterprises, summary.passed_count, summary.total_fen) == (10, 9, 9 * 150_000_00)
    assert summary.platforms[0].rollup_sha256 == hashlib.sha256(canonical_json(rollup)).hexdigest()
    with pytest.raises(ValueError, match="expected exactly its enterprises"):
        platform_rollup(plan, _ref(plan), platform, docs[:5], software=SOFTWARE)


def test_missing_days_have_points_without_values() -> None:
    plan = _plan()
    enterprise = plan.platforms[0].enterprises[0]
    hole = {enterprise.reporting.start + timedelta(days=n) for n in range(3)}
    rows = [row for row in _rows(enterprise, 0.85, seed=2) if row.day not in hole]
    doc = enterprise_evidence(_inputs(plan, 0, rows), software=SOFTWARE)
    points = {p.day: p for p in doc.attempts[0].kpis[0].daily}
    assert all(points[day].value is None and not points[day].usable for day in hole)


@dataclass(frozen=True)
class _Document:
    """A document of the enterprise's file as the registry records it (evidence/inputs.py)."""

    sha256: str
    kind: str
    amount_fen: int | None
    name: str = "发票.pdf"
    media_type: str = "application/pdf"
    size: int = 1234
    attached_at: datetime = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    attached_by: str = "eng-a"


def test_the_invoiced_total_goes_into_the_evidence_and_a_verifier_recomputes_the_subsidy() -> None:
    plan = _plan()
    enterprise = plan.platforms[0].enterprises[0]
    documents = (
        _Document("a" * 64, "contract", None, name="合同.pdf"),
        _Document("b" * 64, "invoice", 30_000_000),
        _Document("c" * 64, "invoice", 5_000_050, media_type="image/jpeg"),
        _Document("d" * 64, "payment_proof", None),
    )
    inputs = replace(_inputs(plan, 0, _rows(enterprise, 0.85, seed=1)), documents=documents)
    doc = enterprise_evidence(inputs, software=SOFTWARE, seed=7)
    assert doc.status == "pass"
    assert [d.sha256[0] for d in doc.documents] == ["a", "b", "c", "d"]
    # What a verifier does with evidence.json alone: the invoices' amounts, the lower cost.
    reread = EnterpriseEvidence.model_validate_json(canonical_json(doc))
    invoiced = sum(d.amount_fen or 0 for d in reread.documents if d.kind == "invoice")
    subsidy = reread.subsidy
    assert subsidy.invoiced_fen == invoiced == 35_000_050
    assert subsidy.plan_cost_fen == enterprise.retrofit_cost_fen == 50_000_000
    assert subsidy.cost_fen == min(subsidy.plan_cost_fen, invoiced) == 35_000_050
    assert subsidy.costs_differ is True
    assert subsidy.share_fen == subsidy.cost_fen * 30 // 100
    assert subsidy.subsidy_fen == min(subsidy.share_fen, 30_000_000) == 10_500_015
    without = _evidence(plan, 0, after=0.85)
    assert without.documents == [] and without.subsidy.invoiced_fen is None
    assert without.subsidy.cost_fen == 50_000_000 and not without.subsidy.costs_differ
