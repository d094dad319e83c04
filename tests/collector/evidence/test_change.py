"""Change between periods: bootstrap, Newey–West, effective days, MDE (evidence/change.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm  # type: ignore[import-untyped]  # no type hints shipped
from scipy import stats  # type: ignore[import-untyped]  # no type hints shipped

from collector.evidence import (
    KpiSeries,
    block_length,
    estimate_change,
    hac_maxlags,
    moving_block_indices,
)
from collector.evidence.change import MDE_FACTOR, effective_days

from .helpers import ar1, availability_series


def _periods(seed: int = 1, shift: float = 0.05, n: int = 60) -> tuple[KpiSeries, KpiSeries]:
    rng = np.random.default_rng(seed)
    planned = rng.uniform(20000, 30000, size=2 * n)
    noise = ar1(rng, (2, n), rho=0.5, sd=0.04)
    base = availability_series("baseline", 0.70 + noise[0], planned[:n])
    report = availability_series("reporting", 0.70 + shift + noise[1], planned[n:])
    return base, report


def test_block_length_and_maxlags_rules() -> None:
    assert [block_length(n) for n in (1, 14, 28, 60, 180)] == [1, 2, 3, 4, 6]
    assert hac_maxlags(120) == 4
    assert hac_maxlags(56) == 3


def test_moving_blocks_are_runs_of_consecutive_days() -> None:
    rng = np.random.default_rng(0)
    indices = moving_block_indices(10, 3, 50, rng)
    assert indices.shape == (50, 10)
    assert indices.min() >= 0 and indices.max() <= 9
    for row in indices:
        for block in range(0, 9, 3):
            run = row[block : block + 3]
            assert list(np.diff(run)) == [1] * (len(run) - 1)
    with pytest.raises(ValueError, match="block length 11"):
        moving_block_indices(10, 11, 1, rng)


def test_point_estimate_is_the_ratio_of_period_sums() -> None:
    base, report = _periods()
    estimate = estimate_change(base, report, "pp")
    base_value = base.sums[:, 0].sum() / base.sums[:, 1].sum()
    report_value = report.sums[:, 0].sum() / report.sums[:, 1].sum()
    assert estimate.change == pytest.approx(100 * (report_value - base_value), rel=1e-12)
    # WLS with the denominator as weight gives the same point estimate for a single ratio.
    assert estimate.hac_change == pytest.approx(estimate.change, rel=1e-9)
    relative = estimate_change(base, report, "%")
    assert relative.change == pytest.approx(100 * (report_value / base_value - 1), rel=1e-12)


def test_bootstrap_is_reproducible_with_its_seed() -> None:
    base, report = _periods()
    first = estimate_change(base, report, "pp", seed=7)
    again = estimate_change(base, report, "pp", seed=7)
    other = estimate_change(base, report, "pp", seed=8)
    assert first == again
    assert first.bootstrap != other.bootstrap
    assert first.block_lengths == (4, 4) and first.replicates == 2000


def test_bootstrap_interval_from_independent_resampling() -> None:
    base, report = _periods()
    estimate = estimate_change(base, report, "pp", seed=11, replicates=500)
    # Recompute: same generator, same draws, a plain Python loop over replicates.
    rng = np.random.default_rng(11)
    changes = []
    draws = []
    for series in (base, report):
        n, length = series.n, block_length(series.n)
        starts = rng.integers(0, n - length + 1, size=(500, math.ceil(n / length)))
        draws.append(starts)
    for r in range(500):
        values = []
        for series, starts in zip((base, report), draws, strict=True):
            days = [s + k for s in starts[r] for k in range(block_length(series.n))][: series.n]
            run = sum(series.sums[d, 0] for d in days)
            planned = sum(series.sums[d, 1] for d in days)
            values.append(run / planned)
        changes.append(100 * (values[1] - values[0]))
    low, high = np.quantile(changes, [0.025, 0.975])
    assert estimate.bootstrap.low == pytest.approx(low, rel=1e-9)
    assert estimate.bootstrap.high == pytest.approx(high, rel=1e-9)
    assert estimate.bootstrap_se == pytest.approx(np.std(changes, ddof=1), rel=1e-9)


def _newey_west_by_hand(
    y: np.ndarray, x: np.ndarray, w: np.ndarray, lags: int
) -> tuple[np.ndarray, np.ndarray]:
    """The HAC covariance of WLS coefficients, Bartlett kernel, n/(n−k) correction."""
    root = np.sqrt(w)
    xw, yw = x * root[:, None], y * root
    beta = np.linalg.lstsq(xw, yw, rcond=None)[0]
    scores = xw * (yw - xw @ beta)[:, None]
    meat = scores.T @ scores
    for lag in range(1, lags + 1):
        gamma = scores[lag:].T @ scores[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)
    bread = np.linalg.inv(xw.T @ xw)
    n, k = x.shape
    return beta, bread @ meat @ bread * n / (n - k)


def test_hac_matches_statsmodels_and_a_hand_newey_west() -> None:
    base, report = _periods(seed=3)
    estimate = estimate_change(base, report, "pp")
    y = np.concatenate([base.daily_values, report.daily_values])
    w = np.concatenate([base.sums[:, 1], report.sums[:, 1]])
    w = w / w.mean()
    x = np.column_stack([np.ones(y.size), np.r_[np.zeros(base.n), np.ones(report.n)]])
    beta, cov = _newey_west_by_hand(y, x, w, lags=4)
    assert estimate.hac_maxlags == 4
    assert estimate.hac_change == pytest.approx(100 * beta[1], rel=1e-9)
    assert estimate.hac_se == pytest.approx(100 * math.sqrt(cov[1, 1]), rel=1e-9)
    fit = sm.WLS(y, x, weights=w).fit(
        cov_type="HAC", cov_kwds={"maxlags": 4, "use_correction": True}
    )
    assert estimate.hac_se == pytest.approx(100 * fit.bse[1], rel=1e-12)
    low = 100 * (beta[1] - 1.959964 * math.sqrt(cov[1, 1]))
    assert estimate.hac.low == pytest.approx(low, rel=1e-6)
    # Relative change: delta method on (b0, b1).
    relative = estimate_change(base, report, "%")
    grad = np.array([-100 * beta[1] / beta[0] ** 2, 100 / beta[0]])
    assert relative.hac_se == pytest.approx(math.sqrt(grad @ cov @ grad), rel=1e-9)


def _effective_by_hand(run: list[float], planned: list[float]) -> tuple[float, float, float]:
    """(variance, rho, effective days) of Σrun / Σplanned: a plain loop over left-out days."""
    n = len(run)
    left_out = [(sum(run) - run[d]) / (sum(planned) - planned[d]) for d in range(n)]
    mean = sum(left_out) / n
    jackknife = (n - 1) / n * sum((v - mean) ** 2 for v in left_out)
    centred = [v - mean for v in left_out]
    rho = sum(centred[d] * centred[d - 1] for d in range(1, n)) / sum(c * c for c in centred)
    rho = min(max(rho + (1 + 4 * rho) / n, 0.0), 0.99)
    return jackknife * (1 + rho) / (1 - rho), rho, n * (1 - rho) / (1 + rho)


def test_effective_days_interval_from_a_plain_computation() -> None:
    base, report = _periods(seed=5)
    estimate = estimate_change(base, report, "pp")
    (var_b, rho_b, n_b), (var_r, rho_r, n_r) = (
        _effective_by_hand(list(s.sums[:, 0]), list(s.sums[:, 1])) for s in (base, report)
    )
    assert [d.rho for d in estimate.effective_days] == pytest.approx([rho_b, rho_r], rel=1e-9)
    assert [d.n_effective for d in estimate.effective_days] == pytest.approx([n_b, n_r])
    terms = (100**2 * var_b, 100**2 * var_r)
    se = math.sqrt(sum(terms))
    dof = sum(terms) ** 2 / (terms[0] ** 2 / (n_b - 1) + terms[1] ** 2 / (n_r - 1))
    assert estimate.effective_se == pytest.approx(se, rel=1e-9)
    assert estimate.effective_dof == pytest.approx(dof, rel=1e-9)
    t = stats.t.ppf(0.975, dof)
    assert estimate.effective.low == pytest.approx(estimate.change - t * se, rel=1e-9)
    assert estimate.effective.high == pytest.approx(estimate.change + t * se, rel=1e-9)
    # MDE: Student t quantiles on the same degrees of freedom, the largest of the three SEs.
    factor = stats.t.ppf(0.975, dof) + stats.t.ppf(0.80, dof)
    largest = max(estimate.bootstrap_se, estimate.hac_se, se)
    assert estimate.mde == pytest.approx(factor * largest, rel=1e-9)
    assert estimate.mde_factor == pytest.approx(factor, rel=1e-9) and factor > MDE_FACTOR
    assert pytest.approx(2.8016, rel=1e-4) == MDE_FACTOR
    # Relative change: the delta method on the two period values.
    relative = estimate_change(base, report, "%")
    b, r = base.value, report.value
    assert b is not None and r is not None
    relative_se = math.sqrt((100 * r / b**2) ** 2 * var_b + (100 / b) ** 2 * var_r)
    assert relative.effective_se == pytest.approx(relative_se, rel=1e-9)


def test_effective_days_of_a_mean_without_autocorrelation() -> None:
    """Equal weights and no autocorrelation: the jackknife variance is s²/n, ρ is 0."""
    values = np.array([0.70, 0.72, 0.69, 0.71, 0.70, 0.73, 0.68, 0.71])
    series = availability_series("baseline", values, np.full(values.size, 28800.0))
    days = effective_days(series)
    assert days.jackknife_variance == pytest.approx(values.var(ddof=1) / values.size, rel=1e-9)
    centred = values - values.mean()
    raw = np.sum(centred[1:] * centred[:-1]) / np.sum(centred**2)
    assert raw + (1 + 4 * raw) / values.size < 0  # negative even after the bias correction
    assert days.rho == 0.0 and days.n_effective == values.size


def test_decisive_interval_is_the_union_of_the_three() -> None:
    base, report = _periods()
    estimate = estimate_change(base, report, "pp")
    intervals = (estimate.bootstrap, estimate.hac, estimate.effective)
    assert estimate.decisive.low == min(i.low for i in intervals)
    assert estimate.decisive.high == max(i.high for i in intervals)
