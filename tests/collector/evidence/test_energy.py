"""Production-adjusted energy baseline and ASHRAE G14 statistics (collector/evidence/energy.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats  # type: ignore[import-untyped]  # no type hints shipped

from collector.evidence import KpiSeries, energy_savings, fit_baseline, g14_statistics
from collector.evidence.energy import savings_half_width_pct
from collector.evidence.sufficiency import PeriodRole

from .helpers import ar1, days

FIELDS = ("energy_kwh", "good_count", "planned_s")


def energy_series(role: PeriodRole, energy: np.ndarray, output: np.ndarray) -> KpiSeries:
    """An energy-per-unit series with 8 planned hours a day."""
    planned = np.full(output.size, 28800.0)
    sums = np.column_stack([energy, output, planned])
    return KpiSeries("energy_per_unit", role, tuple(days(output.size)), FIELDS, sums)


def _baseline(seed: int = 5, n: int = 42, noise_sd: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Daily output and energy: 200 kWh + 0.5 kWh a part, AR(1) noise."""
    rng = np.random.default_rng(seed)
    output = rng.uniform(800, 1200, size=n)
    energy = 200.0 + 0.5 * output + ar1(rng, (n,), rho=0.3, sd=noise_sd)
    return output, energy


def test_fit_statistics_match_a_hand_computation() -> None:
    output, energy = _baseline()
    model = fit_baseline(energy_series("baseline", energy, output))
    slope, intercept = np.polyfit(output, energy, 1)
    assert model.coefficients == pytest.approx((intercept, slope), rel=1e-9)
    residuals = energy - (intercept + slope * output)
    n, p, mean = output.size, 2, energy.mean()
    assert model.p == 2 and model.n == n
    assert model.cv_rmse_pct == pytest.approx(
        100 * math.sqrt(np.sum(residuals**2) / (n - p)) / mean, rel=1e-9
    )
    assert model.nmbe_pct == pytest.approx(100 * residuals.sum() / ((n - p) * mean), abs=1e-9)
    sst = np.sum((energy - mean) ** 2)
    assert model.r_squared == pytest.approx(1 - np.sum(residuals**2) / sst, rel=1e-9)
    centred = residuals - residuals.mean()
    rho = np.sum(centred[1:] * centred[:-1]) / np.sum(centred**2)
    assert model.rho == pytest.approx(max(rho, 0.0), rel=1e-9)
    assert model.n_effective == pytest.approx(n * (1 - model.rho) / (1 + model.rho))
    assert model.meets_g14


def test_g14_statistics_on_a_small_published_style_example() -> None:
    measured = np.array([100.0, 110.0, 95.0, 105.0])
    predicted = np.array([102.0, 108.0, 97.0, 103.0])
    cv, nmbe = g14_statistics(measured, predicted, p=2)
    # Σe² = 16, n − p = 2, mean 102.5; Σe = 0.
    assert cv == pytest.approx(100 * math.sqrt(16 / 2) / 102.5)
    assert nmbe == pytest.approx(0.0)
    with pytest.raises(ValueError, match="4 days for 4 parameters"):
        g14_statistics(measured, predicted, p=4)


def test_savings_against_the_adjusted_baseline() -> None:
    output, energy = _baseline()
    model = fit_baseline(energy_series("baseline", energy, output))
    rng = np.random.default_rng(9)
    report_output = rng.uniform(900, 1300, size=42)
    report_energy = 0.9 * (200.0 + 0.5 * report_output)
    savings = energy_savings(model, energy_series("reporting", report_energy, report_output))
    adjusted = float(np.sum(model.coefficients[0] + model.coefficients[1] * report_output))
    assert savings.adjusted_baseline_kwh == pytest.approx(adjusted, rel=1e-12)
    assert savings.avoided_kwh == pytest.approx(adjusted - report_energy.sum(), rel=1e-9)
    assert savings.savings_pct == pytest.approx(100 * (adjusted - report_energy.sum()) / adjusted)
    assert 8.0 < savings.savings_pct < 12.0
    assert savings.extrapolated_days == int(np.sum(report_output > output.max()))
    # G14 Annex B by hand: t(n − p) · 1.26 · CV · √((n/n′)(1 + 2/n′)/m), with n − p degrees
    # of freedom as Annex B and eemeter (derivatives.py: base_obs − num_parameters).
    n, n_eff, m = model.n, model.n_effective, 42
    assert n_eff < n  # autocorrelated residuals: t on n′ − p would differ
    t95 = stats.t.ppf(0.975, n - 2)
    half = 100 * t95 * 1.26 * model.cv_rmse_pct / 100 * math.sqrt((n / n_eff) * (1 + 2 / n_eff) / m)
    assert savings.half_width_95_pct == pytest.approx(half, rel=1e-9)
    assert savings.fsu_68 == pytest.approx(
        savings_half_width_pct(model, m, 0.68) / savings.savings_pct
    )
    assert savings.g14_uncertainty_ok


def test_a_noisy_model_fails_the_g14_limits() -> None:
    output, energy = _baseline(noise_sd=150.0)
    model = fit_baseline(energy_series("baseline", energy, output))
    assert not model.meets_g14
    assert model.failures[0].startswith("cv_rmse")


def test_planned_hours_as_a_second_driver() -> None:
    output, energy = _baseline()
    series = energy_series("baseline", energy, output)
    hours = np.random.default_rng(2).uniform(6, 10, size=output.size)
    series.sums[:, 2] = hours * 3600
    series.sums[:, 0] += 30.0 * hours
    model = fit_baseline(series, with_hours=True)
    design = np.column_stack([np.ones(output.size), output, hours])
    expected = np.linalg.lstsq(design, series.sums[:, 0], rcond=None)[0]
    assert model.p == 3
    assert model.coefficients == pytest.approx(tuple(expected), rel=1e-9)


def test_worked_example_of_the_method_document() -> None:
    """docs/evidence-method.md §9.3: the numbers a reviewer recomputes by hand."""
    output = np.array([800, 900, 1000, 1100, 1200, 1000.0])
    energy = np.array([610, 648, 705, 748, 802, 697.0])
    model = fit_baseline(energy_series("baseline", energy, output))
    assert model.coefficients == pytest.approx((217.6667, 0.484), abs=1e-4)
    assert model.cv_rmse_pct == pytest.approx(0.7258, abs=1e-4)
    assert model.r_squared == pytest.approx(0.9956, abs=1e-4)
    assert model.rho == 0.0 and model.n_effective == 6.0
    reporting = energy_series(
        "reporting", np.array([630, 680, 730.0]), np.array([1000, 1100, 1200.0])
    )
    savings = energy_savings(model, reporting)
    assert savings.adjusted_baseline_kwh == pytest.approx(2250.2)
    assert savings.avoided_kwh == pytest.approx(210.2)
    assert savings.savings_pct == pytest.approx(9.3414, abs=1e-4)
    assert savings.half_width_95_pct == pytest.approx(1.6926, abs=1e-4)
