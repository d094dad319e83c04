"""Measured inputs for the digital-level assessment (method §11), each against figures worked
out by hand here: the networked rate and its missing denominator, the scenarios and the
devices behind them, a device with no data, and 月均产品合格率 month by month."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from collector.evidence.assemble import EnterpriseInputs, enterprise_evidence
from collector.evidence.digital_level import digital_level_doc
from collector.evidence.document import DigitalLevelDoc, PlanRefDoc, SoftwareDoc
from collector.evidence.series import plan_days
from collector.plan import Enterprise, Period, Plan, load_plan, parse_plan
from collector.store import DailyRow

from .helpers import device_day, meter_day, simulated_rows

CASES = Path(__file__).parents[1] / "plan_cases"
SOFTWARE = SoftwareDoc(retrofit_verify="0.test", python="3", numpy="2", scipy="1", statsmodels="0")

BASELINE = Period(start=date(2026, 1, 26), end=date(2026, 2, 8))
REPORTING = Period(start=date(2026, 3, 30), end=date(2026, 4, 12))
DEVICES = ("meter-main", "press-1", "press-2", "press-3", "press-5")


def _plan(case: str = "valid_minimal") -> Plan:
    return load_plan(CASES / case / "plan.yaml").plan


def _enterprise(total: int | None) -> Enterprise:
    """valid_minimal's first enterprise with short periods, five devices and ``total``."""
    enterprise = _plan().platforms[0].enterprises[0]
    agent = enterprise.agents[0].model_copy(update={"devices": DEVICES})
    return enterprise.model_copy(
        update={
            "baseline": BASELINE,
            "go_live": date(2026, 3, 1),
            "reporting": REPORTING,
            "agents": (agent,),
            "production_equipment_total": total,
        }
    )


def _span(period: Period) -> list[date]:
    return [period.start + timedelta(days=n) for n in range(period.days)]


def _fleet_rows() -> list[DailyRow]:
    """press-1 every day with state, counts and energy; press-2 one day, state only (a run
    lamp on a DI module); press-3 only imported rows; press-5 only before the reporting
    period; meter-main energy only; nothing at all from a sixth device nobody listed."""
    rows = [device_day(day, "press-1") for day in _span(BASELINE) + _span(REPORTING)]
    rows.append(
        device_day(
            date(2026, 4, 12), "press-2", total_count=None, good_count=None,
            reject_count=None, energy_kwh=None, ideal_count_s=None,
        )
    )  # fmt: skip
    rows += [device_day(day, "press-3", provenance="imported") for day in _span(REPORTING)]
    rows += [device_day(day, "press-5") for day in _span(BASELINE)]
    rows += [meter_day(day, "meter-main", 900.0) for day in _span(REPORTING)]
    return rows


def _doc(total: int | None, rows: list[DailyRow] | None = None) -> DigitalLevelDoc:
    enterprise = _enterprise(total)
    rows = _fleet_rows() if rows is None else rows
    return digital_level_doc(enterprise, rows, plan_days(enterprise, rows), REPORTING)


def test_networked_rate_is_production_equipment_reporting_over_the_plans_total() -> None:
    doc = _doc(total=5)
    # By hand: press-1 (14 measured days) and press-2 (one measured day) are production
    # equipment that reported in the period; press-3 sent only imported files, press-5 only
    # before it, meter-main is a meter. 2 of the 5 machines the plan counts.
    assert doc.networked_devices == ["press-1", "press-2"]
    assert doc.networked_status == "measured"
    assert doc.networked_share == pytest.approx(2 / 5, abs=1e-12)
    assert doc.production_equipment_total == 5
    assert (doc.period.start, doc.period.end) == (REPORTING.start, REPORTING.end)


def test_without_the_plans_total_there_is_no_rate_not_a_hundred_percent() -> None:
    doc = _doc(total=None)
    assert doc.networked_status == "no_total"
    assert doc.networked_share is None
    assert doc.production_equipment_total is None
    assert doc.networked_devices == ["press-1", "press-2"]  # the numerator is still shown


def test_more_machines_reporting_than_the_plan_counts_gives_no_rate() -> None:
    doc = _doc(total=1)
    assert (doc.networked_status, doc.networked_share) == ("exceeds_total", None)


def test_each_device_says_what_it_measured_and_a_silent_device_says_nothing() -> None:
    by_device = {d.device: d for d in _doc(total=5).devices}
    assert sorted(by_device) == sorted(DEVICES)
    press_1, press_2 = by_device["press-1"], by_device["press-2"]
    assert (press_1.production, press_1.measured_days) == (True, 14)
    assert (press_1.first_day, press_1.last_day) == (date(2026, 3, 30), date(2026, 4, 12))
    assert press_1.scenarios == ["equipment_management", "energy_management", "production_control"]
    assert (press_2.production, press_2.measured_days, press_2.scenarios) == (
        True,
        1,
        ["equipment_management"],
    )
    meter = by_device["meter-main"]
    assert (meter.production, meter.measured_days, meter.scenarios) == (
        False,
        14,
        ["energy_management"],
    )
    for silent in ("press-3", "press-5"):  # imported only; data only before the period
        device = by_device[silent]
        assert (device.production, device.measured_days, device.scenarios) == (None, 0, [])
        assert (device.first_day, device.last_day) == (None, None)


def test_scenarios_are_covered_by_the_devices_that_measured_their_quantities() -> None:
    scenarios = {s.scenario: s for s in _doc(total=5).scenarios}
    assert list(scenarios) == ["equipment_management", "energy_management", "production_control"]
    assert scenarios["equipment_management"].devices == ["press-1", "press-2"]
    assert scenarios["energy_management"].devices == ["meter-main", "press-1"]
    assert scenarios["production_control"].devices == ["press-1"]
    assert scenarios["production_control"].quantities == ["total_count", "good_count"]
    assert all(s.covered for s in scenarios.values())


def test_a_plant_with_only_a_meter_covers_only_energy_management() -> None:
    rows = [meter_day(day, "meter-main", 900.0) for day in _span(REPORTING)]
    doc = _doc(total=3, rows=rows)
    covered = {s.scenario: (s.covered, s.devices) for s in doc.scenarios}
    assert covered == {
        "equipment_management": (False, []),
        "energy_management": (True, ["meter-main"]),
        "production_control": (False, []),
    }
    assert (doc.networked_devices, doc.networked_status, doc.networked_share) == (
        [],
        "measured",
        0.0,
    )


def _quality_rows() -> list[DailyRow]:
    """press-1 alone: 900/1000 good in January, 475/500 in February, 990/1000 in March and
    1940/2000 in April; 26 January half lost to communication, so not a usable day."""
    rows = []
    for day in _span(BASELINE) + _span(REPORTING):
        good, total = {1: (900, 1000), 2: (475, 500), 3: (990, 1000), 4: (1940, 2000)}[day.month]
        lost = 14400.0 if day == date(2026, 1, 26) else 0.0
        rows.append(
            device_day(
                day, "press-1", good_count=good, total_count=total, reject_count=total - good,
                scheduled_comm_loss_s=lost, comm_loss_s=lost,
            )
        )  # fmt: skip
    return rows


def test_monthly_quality_is_the_mean_of_month_ratios_beside_the_pooled_rate() -> None:
    baseline, reporting = _doc(total=1, rows=_quality_rows()).quality
    assert [(m.month, m.days, m.good_count, m.total_count) for m in baseline.months] == [
        ("2026-01", 5, 4500.0, 5000.0),  # 27–31 January: the 26th is not usable
        ("2026-02", 8, 3800.0, 4000.0),
    ]
    assert [m.rate for m in baseline.months] == pytest.approx([0.90, 0.95], abs=1e-12)
    assert baseline.monthly_mean == pytest.approx((0.90 + 0.95) / 2, abs=1e-12)
    assert baseline.pooled == pytest.approx(8300 / 9000, abs=1e-12)
    assert [(m.month, m.days) for m in reporting.months] == [("2026-03", 2), ("2026-04", 12)]
    assert reporting.monthly_mean == pytest.approx((0.99 + 0.97) / 2, abs=1e-12)
    assert reporting.pooled == pytest.approx((2 * 990 + 12 * 1940) / 26000, abs=1e-12)
    assert (baseline.role, reporting.role) == ("baseline", "reporting")


def test_no_counts_give_no_monthly_quality() -> None:
    rows = [meter_day(day, "meter-main", 900.0) for day in _span(BASELINE) + _span(REPORTING)]
    for period in _doc(total=1, rows=rows).quality:
        assert (period.months, period.monthly_mean, period.pooled) == ([], None, None)


def test_the_document_measures_over_the_last_attempts_reporting_period() -> None:
    plan = _plan("valid_with_rectification")
    platform = plan.platforms[0]
    enterprise = next(e for e in platform.enterprises if e.rectifications)
    last = enterprise.reporting_periods[-1]
    rows = [device_day(day, "press-1") for day in _span(last)]
    ref = PlanRefDoc(key=plan.key, version=1, digest="sha256:" + "0" * 64)
    inputs = EnterpriseInputs(
        plan=plan,
        plan_ref=ref,
        platform=platform,
        enterprise=enterprise,
        rows=tuple(rows),
    )
    doc = enterprise_evidence(inputs, software=SOFTWARE, seed=1).digital_level
    assert doc is not None
    assert (doc.period.start, doc.period.end) == (last.start, last.end)
    by_device = {d.device: d.measured_days for d in doc.devices}
    assert by_device["press-1"] == last.days


def test_the_pooled_rate_is_the_quality_kpis_own_value() -> None:
    """With quality among the targets, the section's pooled rate is that KPI's period value:
    one set of usable days for both (method §2)."""
    text = (CASES / "valid_minimal" / "plan.yaml").read_text()
    oee = "oee: {direction: increase, size: 5, unit: pp}"
    assert oee in text
    plan = parse_plan(
        text.replace(oee, f"{oee}\n  quality: {{direction: increase, size: 1, unit: pp}}"), "p"
    ).plan
    platform = plan.platforms[0]
    enterprise = platform.enterprises[0]
    rows = simulated_rows(
        enterprise.baseline.start, enterprise.baseline.end, availability=0.7, seed=5
    )
    rows += simulated_rows(
        enterprise.reporting.start, enterprise.reporting.end, availability=0.8, seed=6
    )
    ref = PlanRefDoc(key=plan.key, version=1, digest="sha256:" + "0" * 64)
    inputs = EnterpriseInputs(
        plan=plan, plan_ref=ref, platform=platform, enterprise=enterprise, rows=tuple(rows)
    )
    doc = enterprise_evidence(inputs, software=SOFTWARE, seed=1)
    quality = next(k for k in doc.attempts[-1].kpis if k.kpi == "quality")
    assert doc.digital_level is not None
    baseline, reporting = doc.digital_level.quality
    assert baseline.pooled == quality.baseline.value
    assert reporting.pooled == quality.reporting.value
    assert sum(m.days for m in reporting.months) == quality.reporting.usable_days


def test_a_main_meter_the_plan_names_is_no_production_equipment_whatever_it_reports() -> None:
    """The facility boundary's meters are the plant's energy meters (method §1): even when a
    meter's rows carry a state, it is not a machine and does not count."""
    enterprise = _enterprise(total=5)
    energy = enterprise.targets["energy_per_unit"].model_copy(
        update={"boundary": "facility", "meters": ("meter-main",)}
    )
    enterprise = enterprise.model_copy(
        update={"targets": {**enterprise.targets, "energy_per_unit": energy}}
    )
    rows = [device_day(day, name) for day in _span(REPORTING) for name in ("meter-main", "press-1")]
    doc = digital_level_doc(enterprise, rows, plan_days(enterprise, rows), REPORTING)
    meter = next(d for d in doc.devices if d.device == "meter-main")
    assert meter.production is False
    assert doc.networked_devices == ["press-1"]
    assert doc.networked_share == pytest.approx(1 / 5, abs=1e-12)
