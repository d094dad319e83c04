"""Sufficiency and verdicts per KPI and enterprise (sufficiency.py, verdict.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

from collector.evidence import (
    EnterpriseDay,
    Interval,
    decide,
    enterprise_days,
    enterprise_status,
    judge_kpi,
)
from collector.plan import Enterprise, Period, Target
from collector.store import DailyRow

from .helpers import device_day

BASELINE = Period(start=date(2026, 1, 1), end=date(2026, 2, 28))
REPORTING = Period(start=date(2026, 4, 1), end=date(2026, 5, 30))
OEE_UP = Target(direction="increase", size=5.0, unit="pp")


def _rows(period: Period, availability: float, seed: int, **changes: Any) -> list[DailyRow]:
    """``changes`` are DailyRow fields, as ``device_day`` takes them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(period.days):
        a = availability + rng.normal(0, 0.02)
        planned = 28800.0
        good = int(1000 * a)
        row_changes = {
            "run_s": a * planned,
            "down_s": (1 - a) * planned,
            "total_count": good + 10,
            "good_count": good,
            "reject_count": 10,
            "ideal_count_s": 20.0 * (good + 10),
            "energy_kwh": 200.0 + 0.5 * good + rng.normal(0, 5),
            **changes,
        }
        rows.append(device_day(period.start + timedelta(days=i), **row_changes))
    return rows


def test_decide_uses_the_conservative_bound() -> None:
    assert decide(OEE_UP, Interval(5.0, 9.0)) == "pass"
    assert decide(OEE_UP, Interval(4.9, 20.0)) == "fail"
    down = Target(direction="decrease", size=8.0, unit="%")
    assert decide(down, Interval(-20.0, -8.0)) == "pass"
    assert decide(down, Interval(-20.0, -7.9)) == "fail"


def test_a_clear_improvement_passes_and_no_change_fails() -> None:
    days = enterprise_days(_rows(BASELINE, 0.70, 1) + _rows(REPORTING, 0.80, 2))
    verdict = judge_kpi("availability", OEE_UP, days, BASELINE, REPORTING)
    assert verdict.status == "pass", verdict
    assert verdict.change is not None and verdict.change.change == pytest.approx(10, abs=1.5)
    assert verdict.needed_for_80pct_pass == pytest.approx(5 + verdict.change.mde)
    same = enterprise_days(_rows(BASELINE, 0.70, 1) + _rows(REPORTING, 0.70, 2))
    assert judge_kpi("availability", OEE_UP, same, BASELINE, REPORTING).status == "fail"


def test_short_data_is_insufficient() -> None:
    short = Period(start=REPORTING.start, end=REPORTING.start + timedelta(days=12))
    days = enterprise_days(_rows(BASELINE, 0.70, 1) + _rows(short, 0.90, 2))
    verdict = judge_kpi("oee", OEE_UP, days, BASELINE, REPORTING)
    assert verdict.status == "insufficient_data"
    assert verdict.reasons == ("too_few_usable_days",)
    assert verdict.reporting.usable_days == 13 and verdict.reporting.min_days == 14


def test_days_with_poor_coverage_do_not_count() -> None:
    lossy = _rows(REPORTING, 0.90, 2, scheduled_comm_loss_s=28800.0 * 0.25)
    days = enterprise_days(_rows(BASELINE, 0.70, 1) + lossy)
    verdict = judge_kpi("oee", OEE_UP, days, BASELINE, REPORTING)
    assert verdict.status == "insufficient_data"
    assert verdict.reporting.usable_days == 0
    assert verdict.reporting.coverage == pytest.approx(0.75)


def test_reporting_period_resting_on_imports_is_insufficient() -> None:
    imported = _rows(REPORTING, 0.90, 2, provenance="imported")
    days = enterprise_days(_rows(BASELINE, 0.70, 1, provenance="imported") + imported)
    verdict = judge_kpi("availability", OEE_UP, days, BASELINE, REPORTING)
    assert verdict.reasons == ("reporting_mostly_imported",)
    assert verdict.baseline.imported_share == 1.0 and verdict.baseline.sufficient


def test_relative_change_of_a_zero_baseline_is_insufficient() -> None:
    days = enterprise_days(
        _rows(BASELINE, 0.70, 1, reject_count=0) + _rows(REPORTING, 0.70, 2, reject_count=0)
    )
    target = Target(direction="decrease", size=10.0, unit="%")
    verdict = judge_kpi("defect_rate", target, days, BASELINE, REPORTING)
    assert verdict.status == "insufficient_data" and verdict.reasons == ("baseline_zero",)


def test_energy_verdict_uses_the_adjusted_baseline() -> None:
    baseline = _rows(BASELINE, 0.70, 1)
    # The same availability after go-live: the reporting output lies in the baseline's range.
    reporting = _rows(REPORTING, 0.70, 2)
    # 15 % less energy for the same output in the reporting period.
    reporting = [
        replace(r, energy_kwh=0.85 * (200.0 + 0.5 * _measured(r.good_count))) for r in reporting
    ]
    days = enterprise_days(baseline + reporting)
    target = Target(direction="decrease", size=8.0, unit="%")
    verdict = judge_kpi("energy_per_unit", target, days, BASELINE, REPORTING)
    assert verdict.energy is not None and verdict.energy.model.meets_g14
    assert verdict.energy.savings_pct == pytest.approx(15.0, abs=1.0)
    assert verdict.status == "pass"
    # The same data with a model G14 rejects: noisy baseline energy.
    rng = np.random.default_rng(4)
    noisy = [
        replace(r, energy_kwh=_measured(r.energy_kwh) * rng.uniform(0.4, 1.6)) for r in baseline
    ]
    verdict = judge_kpi(
        "energy_per_unit", target, enterprise_days(noisy + reporting), BASELINE, REPORTING
    )
    assert verdict.status == "insufficient_data"
    assert verdict.reasons == ("energy_model_fails_g14",)


def test_energy_verdict_refuses_reporting_output_outside_the_baseline_range() -> None:
    # Availability 70 % → 80 % after go-live: every reporting day makes more parts than any
    # baseline day, so the adjusted baseline would be the model's extrapolation (IPMVP).
    baseline = _rows(BASELINE, 0.70, 1)
    reporting = [
        replace(r, energy_kwh=0.85 * (200.0 + 0.5 * _measured(r.good_count)))
        for r in _rows(REPORTING, 0.80, 2)
    ]
    target = Target(direction="decrease", size=8.0, unit="%")
    verdict = judge_kpi(
        "energy_per_unit", target, enterprise_days(baseline + reporting), BASELINE, REPORTING
    )
    assert verdict.status == "insufficient_data"
    assert verdict.reasons == ("energy_reporting_outside_baseline_range",)
    check = verdict.energy_baseline
    assert check is not None and verdict.energy is not None
    low, high = verdict.energy.model.output_range
    outside = [
        day
        for day in enterprise_days(reporting)
        if not low <= day.kpi_sums["energy_per_unit"]["good_count"] <= high
    ]
    assert check.outside_days == len(outside) == check.reporting_days
    assert check.outside_share == 1.0 > check.max_outside_share


def _measured(value: float | None) -> float:
    """A day's sum that ``device_day`` always sets (None only when no window measured it)."""
    assert value is not None
    return value


def _enterprise(targets: dict[str, Target]) -> Enterprise:
    return Enterprise(
        id="ent-1",
        name="甲厂",
        industry="C3670",
        retrofit_cost_cny="850000.00",
        solution="MES",
        baseline=BASELINE,
        go_live=date(2026, 3, 15),
        reporting=REPORTING,
        targets=targets,
    )


def _judge(enterprise: Enterprise, days: Sequence[EnterpriseDay]) -> tuple[str, list[str]]:
    # As the bundle judges an attempt (assemble._attempt): each target on its own, then the
    # enterprise's status from the required ones.
    verdicts = [
        judge_kpi(kpi, target, days, enterprise.baseline, enterprise.reporting)
        for kpi, target in enterprise.targets.items()
    ]
    return enterprise_status(verdicts), [verdict.status for verdict in verdicts]


def test_enterprise_passes_only_when_every_required_target_passes() -> None:
    days = enterprise_days(_rows(BASELINE, 0.70, 1) + _rows(REPORTING, 0.80, 2))
    optional_fail = Target(direction="increase", size=50.0, unit="pp", required=False)
    status, kpis = _judge(_enterprise({"availability": OEE_UP, "oee": optional_fail}), days)
    assert kpis == ["pass", "fail"]
    assert status == "pass"
    required_fail = Target(direction="increase", size=50.0, unit="pp")
    assert _judge(_enterprise({"availability": OEE_UP, "oee": required_fail}), days)[0] == "fail"
    short = enterprise_days(_rows(BASELINE, 0.70, 1))
    assert _judge(_enterprise({"availability": OEE_UP}), short)[0] == "insufficient_data"
