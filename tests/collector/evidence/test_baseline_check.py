"""The energy baseline's checks: effective days, driver range, day types (method §4)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from collector.evidence import (
    MAX_OUTSIDE_RANGE_SHARE,
    MIN_EFFECTIVE_BASELINE_DAYS,
    KpiSeries,
    check_baseline,
    fit_baseline,
)
from collector.evidence.baseline_check import day_type
from collector.evidence.sufficiency import PeriodRole

from .energy_power import energy_series, working_days
from .helpers import ar1


def _series(role: PeriodRole, days: list[date], output: np.ndarray, noise: np.ndarray) -> KpiSeries:
    energy = 300.0 + 0.5 * output + noise
    sums = np.column_stack([energy, output, np.full(output.shape, 28800.0)])
    return KpiSeries(
        "energy_per_unit", role, tuple(days), ("energy_kwh", "good_count", "planned_s"), sums
    )


def _plant(n: int, m: int, rho: float, seed: int) -> tuple[KpiSeries, KpiSeries]:
    rng = np.random.default_rng(seed)
    output = rng.uniform(800, 1200, size=n + m)
    noise = ar1(rng, (n + m,), rho=rho, sd=20.0)
    base = energy_series(
        "baseline", output[:n], 300 + 0.5 * output[:n] + noise[:n], date(2026, 1, 5)
    )
    report = energy_series(
        "reporting", output[n:], 300 + 0.5 * output[n:] + noise[n:], date(2026, 6, 1)
    )
    return base, report


def test_few_effective_days_are_named_with_n_prime() -> None:
    base, report = _plant(25, 40, rho=0.9, seed=3)
    model = fit_baseline(base)
    check = check_baseline(model, base, report)
    # n′ by hand from the residuals' lag-1 autocorrelation (the ρ of the savings uncertainty).
    residuals = base.column("energy_kwh") - model.predict(base.column("good_count"))
    centred = residuals - residuals.mean()
    rho = float(np.sum(centred[1:] * centred[:-1]) / np.sum(centred**2))
    assert check.n_effective == model.n_effective
    assert abs(check.n_effective - 25 * (1 - rho) / (1 + rho)) < 1e-9
    assert check.n_effective < MIN_EFFECTIVE_BASELINE_DAYS
    assert check.reasons == ("energy_baseline_few_effective_days",)
    # The same plant with independent days has enough.
    base, report = _plant(25, 40, rho=0.0, seed=3)
    assert check_baseline(fit_baseline(base), base, report).reasons == ()


def test_reporting_days_outside_the_range_are_allowed_up_to_one_in_ten() -> None:
    base, _ = _plant(40, 0, rho=0.0, seed=5)
    low, high = fit_baseline(base).output_range
    rng = np.random.default_rng(6)
    days = list(working_days(60, date(2026, 6, 1)))
    for outside in (6, 7):  # 6 of 60 = 10 %: allowed; 7: not
        output = rng.uniform(low, high, size=60)
        output[:outside] = high * 1.05
        report = _series("reporting", days, output, np.zeros(60))
        check = check_baseline(fit_baseline(base), base, report)
        assert check.outside_days == outside
        expected = (
            ()
            if outside / 60 <= MAX_OUTSIDE_RANGE_SHARE
            else ("energy_reporting_outside_baseline_range",)
        )
        assert check.reasons == expected


def test_a_day_type_the_baseline_lacks_is_named() -> None:
    base, _ = _plant(30, 0, rho=0.0, seed=7)  # Mondays to Fridays only
    rng = np.random.default_rng(8)
    low, high = fit_baseline(base).output_range
    start = date(2026, 6, 1)
    every_day = [start + timedelta(days=i) for i in range(42)]  # 6 weeks, Saturdays worked
    worked = [day for day in every_day if day_type(day) != "sunday"]
    report = _series(
        "reporting", worked, rng.uniform(low, high, size=len(worked)), np.zeros(len(worked))
    )
    check = check_baseline(fit_baseline(base), base, report)
    assert check.reporting_day_types == {"weekday": 30, "saturday": 6, "sunday": 0}
    assert check.baseline_day_types == {"weekday": 30, "saturday": 0, "sunday": 0}
    assert check.missing_day_types == ("saturday",)
    assert check.reasons == ("energy_baseline_missing_day_types",)
    # One overtime Saturday in 31 reporting days (3 %) is an exception, not a mode.
    one_saturday = [day for day in worked if day_type(day) == "weekday"] + [worked[5]]
    report = _series("reporting", one_saturday, rng.uniform(low, high, size=31), np.zeros(31))
    assert check_baseline(fit_baseline(base), base, report).missing_day_types == ()
