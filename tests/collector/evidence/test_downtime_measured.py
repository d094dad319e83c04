"""Unplanned downtime is measured only where a state code said the state (#18).

Inference (power, run signal, counter activity) never says ``down``, so a device-day whose
state was mostly inferred has ``down_s`` 0 that is no measurement: it is left out of the KPI
with the reason ``downtime_not_measured`` (collector/evidence/daily.py), a period without a
measured day gives no value with that reason, and the plausibility flag names the device and
days. Availability, OEE and the rest take every device-day as before.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from collector.evidence import FlagInputs, enterprise_days, judge_kpi, kpi_value
from collector.evidence.change import estimate_change
from collector.evidence.daily import (
    DOWNTIME,
    DOWNTIME_NOT_MEASURED,
    MIN_STATE_CODE_SHARE,
    kpi_weights,
    left_out_reason,
    row_inputs,
)
from collector.evidence.document import FlagDoc
from collector.evidence.plausibility import plausibility_flags
from collector.evidence.sufficiency import period_series
from collector.plan import Target, load_plan
from collector.store import DailyRow

from .helpers import device_day, simulated_rows

PLAN = load_plan(Path(__file__).parents[1] / "plan_cases" / "valid_minimal" / "plan.yaml").plan
ENTERPRISE = PLAN.platforms[0].enterprises[0]
BASELINE, REPORTING = ENTERPRISE.baseline, ENTERPRISE.reporting
DOWN = Target(direction="decrease", size=10.0, unit="%")
PLANNED_S = 28800.0
DAY = BASELINE.start


def _inferred(rows: list[DailyRow], share: float, device: str | None = None) -> list[DailyRow]:
    """``rows`` with ``share`` of each day's planned time inferred (for ``device``, or all)."""
    return [
        replace(row, inferred_planned_s=share * row.planned_s, down_s=0.0)
        if device is None or row.device == device
        else row
        for row in rows
    ]


def _periods() -> list[DailyRow]:
    rows = simulated_rows(BASELINE.start, BASELINE.end, availability=0.70, seed=1)
    return rows + simulated_rows(REPORTING.start, REPORTING.end, availability=0.80, seed=2)


# --- one device-day ---------------------------------------------------------------------------


def test_downtime_is_over_the_planned_time_a_state_code_measured() -> None:
    row = device_day(DAY, down_s=1440.0, inferred_planned_s=2880.0)  # a tenth inferred
    inputs = row_inputs(row, DOWNTIME)
    assert inputs == {"down_s": 1440.0, "planned_s": PLANNED_S, "inferred_planned_s": 2880.0}
    assert kpi_value(DOWNTIME, inputs) == pytest.approx(1440.0 / (PLANNED_S - 2880.0))
    weights = kpi_weights(DOWNTIME, {k: np.array([v]) for k, v in inputs.items()})
    assert weights.tolist() == [PLANNED_S - 2880.0]  # the HAC weight is the denominator
    assert kpi_weights("oee", {"planned_s": np.array([PLANNED_S])}).tolist() == [PLANNED_S]


def test_absent_inferred_time_is_a_state_code_day() -> None:
    # An agent that predates inferred_planned_s, or a device without a state: block.
    row = device_day(DAY, down_s=1440.0)
    assert row.inferred_planned_s is None
    assert left_out_reason(row, DOWNTIME) is None
    inputs = row_inputs(row, DOWNTIME)
    assert inputs is not None and inputs["inferred_planned_s"] == 0.0
    assert kpi_value(DOWNTIME, inputs) == pytest.approx(1440.0 / PLANNED_S)


@pytest.mark.parametrize(
    ("coded_share", "counted"),
    [(1.0, True), (MIN_STATE_CODE_SHARE, True), (0.7999, False), (0.5, False), (0.0, False)],
)
def test_a_day_counts_only_when_a_code_measured_four_fifths_of_it(
    coded_share: float, counted: bool
) -> None:
    row = device_day(DAY, down_s=0.0, inferred_planned_s=(1.0 - coded_share) * PLANNED_S)
    reason = left_out_reason(row, DOWNTIME)
    assert reason == (None if counted else DOWNTIME_NOT_MEASURED)
    assert (row_inputs(row, DOWNTIME) is not None) is counted
    # The other KPIs take the day whatever its state's source: idle and off count against
    # availability as down does, and inference says them.
    for kpi in ("availability", "oee", "performance", "output_per_planned_hour"):
        assert left_out_reason(row, kpi) is None
        assert row_inputs(row, kpi) is not None


def test_a_day_without_planned_time_or_down_time_leaves_nothing_out() -> None:
    idle_day = device_day(DAY, planned_s=0.0, scheduled_s=0.0, inferred_planned_s=0.0)
    assert left_out_reason(idle_day, DOWNTIME) is None
    stateless = device_day(DAY, down_s=None, inferred_planned_s=None)
    assert left_out_reason(stateless, DOWNTIME) is None  # no input: not a left-out reason
    assert row_inputs(stateless, DOWNTIME) is None


# --- enterprise days and periods -------------------------------------------------------------


def test_an_inferred_device_is_left_out_of_the_enterprise_day_with_its_reason() -> None:
    coded = device_day(DAY, "press-1", down_s=2880.0, inferred_planned_s=0.0)
    meter = device_day(DAY, "lathe-1", down_s=0.0, inferred_planned_s=PLANNED_S)
    (day,) = enterprise_days([coded, meter])
    assert day.left_out == {DOWNTIME: (("lathe-1", DOWNTIME_NOT_MEASURED),)}
    assert day.value(DOWNTIME) == pytest.approx(2880.0 / PLANNED_S)  # not halved by the meter
    both = day.kpi_sums["availability"]["planned_s"]
    assert both == 2 * PLANNED_S  # availability still takes both devices


def test_a_period_with_no_measured_day_is_not_measured_never_zero() -> None:
    rows = _inferred(_periods(), 1.0)
    days = enterprise_days(rows)
    series, sufficiency = period_series(days, DOWNTIME, "baseline", BASELINE.start, BASELINE.end)
    assert series.n == 0 and series.value is None
    assert sufficiency.reasons == (DOWNTIME_NOT_MEASURED, "too_few_usable_days")
    verdict = judge_kpi(DOWNTIME, DOWN, days, BASELINE, REPORTING)
    assert verdict.status == "insufficient_data"
    assert DOWNTIME_NOT_MEASURED in verdict.baseline.reasons
    assert DOWNTIME_NOT_MEASURED in verdict.reporting.reasons
    # Before #18 the same rows gave a downtime of 0 in both periods.
    assert judge_kpi("availability", DOWN, days, BASELINE, REPORTING).baseline.usable_days > 0


def test_faked_gain_from_inference_after_go_live_is_not_a_measurement() -> None:
    # Coded in the baseline (down time measured), inferred after go-live (down_s 0): before
    # #18 the reporting period showed downtime 0, a 100 % cut. Now it is not measured.
    rows = _periods()
    rows = [r for r in rows if r.day <= BASELINE.end] + _inferred(
        [r for r in rows if r.day > BASELINE.end], 1.0
    )
    days = enterprise_days(rows)
    verdict = judge_kpi(DOWNTIME, DOWN, days, BASELINE, REPORTING)
    assert verdict.status == "insufficient_data"
    assert verdict.reporting.reasons == (DOWNTIME_NOT_MEASURED, "too_few_usable_days")
    assert verdict.baseline.sufficient
    found = [f for f in _flags(rows) if f.check == DOWNTIME_NOT_MEASURED]
    # Measured before, not after: a one-sided change, for each of the two presses.
    assert [(f.device, f.severity) for f in found] == [
        ("press-1", "warning"),
        ("press-2", "warning"),
    ]
    assert found[0].figures["reporting_days"] == REPORTING.days
    assert found[0].figures["baseline_days"] == 0


def test_a_mostly_coded_device_is_measured_over_its_coded_part() -> None:
    rows = _inferred(_periods(), 0.1)  # a tenth inferred: still measured
    rows = [replace(r, down_s=1440.0) for r in rows]
    days = enterprise_days(rows)
    series, sufficiency = period_series(days, DOWNTIME, "baseline", BASELINE.start, BASELINE.end)
    assert sufficiency.sufficient and series.n == BASELINE.days
    assert series.value == pytest.approx(1440.0 / (0.9 * PLANNED_S))
    base, _ = period_series(days, DOWNTIME, "baseline", BASELINE.start, BASELINE.end)
    report, _ = period_series(days, DOWNTIME, "reporting", REPORTING.start, REPORTING.end)
    change = estimate_change(base, report, "%")
    assert change.change == pytest.approx(0.0, abs=1e-9)  # the same share down both times
    assert change.hac_change == pytest.approx(0.0, abs=1e-9)


# --- the flag ---------------------------------------------------------------------------------


def _flags(rows: list[DailyRow]) -> list[FlagDoc]:
    return list(plausibility_flags(FlagInputs(ENTERPRISE, rows, enterprise_days(rows))))


def test_the_flag_names_the_device_its_days_and_the_share_a_code_measured() -> None:
    rows = _inferred(_periods(), 0.75, device="press-2")
    (found,) = [f for f in _flags(rows) if f.check == DOWNTIME_NOT_MEASURED]
    assert (found.device, found.severity) == ("press-2", "info")  # alike in both periods
    assert found.figures["baseline_days"] == BASELINE.days
    assert found.figures["reporting_days"] == REPORTING.days
    assert found.figures["baseline_measured_days"] == 0
    assert found.figures["state_code_share"] == pytest.approx(0.25)
    assert found.figures["min_state_code_share"] == MIN_STATE_CODE_SHARE
    assert len(found.days) == BASELINE.days + REPORTING.days
    assert [f for f in _flags(_periods()) if f.check == DOWNTIME_NOT_MEASURED] == []
