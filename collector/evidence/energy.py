"""Production-adjusted energy baseline with ASHRAE Guideline 14 statistics (method §4).

Daily energy is regressed on daily good output (optionally planned hours) over the baseline
with OLS (IPMVP option B/C); the model is projected onto the reporting period's actual output;
savings uncertainty follows G14 Annex B with the autocorrelation correction n′ = n(1−ρ)/(1+ρ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats  # type: ignore[import-untyped]  # scipy ships no type hints

# From their own modules, not statsmodels.api, which imports every model statsmodels has:
# about 0.4 s less CPU at each start of the verifier and the CLI (measured under load).
from statsmodels.regression.linear_model import OLS  # type: ignore[import-untyped]  # statsmodels ships no type hints
from statsmodels.tools.tools import add_constant  # type: ignore[import-untyped]  # statsmodels ships no type hints

from collector.evidence.daily import FloatArray
from collector.evidence.errors import ConstantDriver
from collector.evidence.sufficiency import KpiSeries

__all__ = [
    "G14_MAX_ABS_NMBE_PCT",
    "G14_MAX_CV_RMSE_PCT",
    "G14_MAX_FSU_68",
    "SAVINGS_DOF_CONVENTION",
    "EnergyModel",
    "EnergySavings",
    "energy_savings",
    "fit_baseline",
    "g14_statistics",
    "savings_dof",
    "savings_half_width_pct",
    "savings_se_pct",
]

#: Largest CV(RMSE) of the baseline model, %: G14's prescriptive whole-facility limit with under
#: 12 months of post-retrofit data (method §4 on the source and why daily data take it).
G14_MAX_CV_RMSE_PCT = 20.0
#: Largest |NMBE| of the baseline model, %.
G14_MAX_ABS_NMBE_PCT = 0.5
#: G14's compliance test: savings uncertainty under 50 % of the savings at 68 % confidence.
G14_MAX_FSU_68 = 0.50
#: G14 Annex B's empirical factor in the savings-uncertainty formula.
_ANNEX_B_FACTOR = 1.26
#: The savings interval's t degrees of freedom, as the document names it (method §4): n − p as in
#: G14 Annex B and eemeter; autocorrelation enters through (n / n′)(1 + 2 / n′) only.
SAVINGS_DOF_CONVENTION = "n - p"
_MAX_RHO = 0.99


@dataclass(frozen=True, slots=True)
class EnergyModel:
    """The baseline model E = b₀ + b₁·G (+ b₂·H) and its G14 fit statistics.

    ``coefficients`` are (kWh/day, kWh/part[, kWh/h]); ``rho`` is the lag-1 autocorrelation
    of the residuals (clipped to 0 … 0.99), ``n_effective`` = n (1 − ρ) / (1 + ρ);
    ``output_range`` and ``hours_range`` (with the planned-hours driver only) are the baseline
    days' lowest and highest good output and planned hours.
    """

    drivers: tuple[str, ...]
    coefficients: tuple[float, ...]
    n: int
    p: int
    mean_kwh: float
    r_squared: float
    cv_rmse_pct: float
    nmbe_pct: float
    rho: float
    n_effective: float
    output_range: tuple[float, float]
    hours_range: tuple[float, float] | None = None

    @property
    def failures(self) -> tuple[str, ...]:
        """Which G14 limits the model breaks (empty when it meets them)."""
        failed = []
        if not self.cv_rmse_pct <= G14_MAX_CV_RMSE_PCT:
            failed.append(f"cv_rmse {self.cv_rmse_pct:.2f} % > {G14_MAX_CV_RMSE_PCT:g} %")
        if not abs(self.nmbe_pct) <= G14_MAX_ABS_NMBE_PCT:
            failed.append(f"|nmbe| {abs(self.nmbe_pct):.3f} % > {G14_MAX_ABS_NMBE_PCT:g} %")
        return tuple(failed)

    @property
    def meets_g14(self) -> bool:
        """True when CV(RMSE) and NMBE are within G14's limits."""
        return not self.failures

    def predict(self, output: FloatArray, hours: FloatArray | None = None) -> FloatArray:
        """Daily energy (kWh) the baseline model gives for these outputs (and hours)."""
        columns = [np.ones_like(output), output]
        if "planned_h" in self.drivers:
            if hours is None:
                raise ValueError("this model needs planned hours")
            columns.append(hours)
        return np.asarray(np.column_stack(columns) @ np.array(self.coefficients), dtype=np.float64)


def g14_statistics(measured: FloatArray, predicted: FloatArray, p: int) -> tuple[float, float]:
    """(CV(RMSE) %, NMBE %) per G14 with n − p degrees of freedom; ValueError if n <= p."""
    n = measured.size
    if n <= p:
        raise ValueError(f"{n} days for {p} parameters: expected more days than parameters")
    residuals = measured - predicted
    mean = float(measured.mean())
    cv = 100.0 * math.sqrt(float(np.sum(residuals**2)) / (n - p)) / mean
    nmbe = 100.0 * float(np.sum(residuals)) / ((n - p) * mean)
    return cv, nmbe


def _lag1(residuals: FloatArray) -> float:
    centred = residuals - residuals.mean()
    denominator = float(np.sum(centred**2))
    if denominator == 0:
        return 0.0
    rho = float(np.sum(centred[1:] * centred[:-1])) / denominator
    return min(max(rho, 0.0), _MAX_RHO)


def _planned_hours(series: KpiSeries) -> FloatArray:
    return series.column("planned_s") / 3600.0


def _design(series: KpiSeries, with_hours: bool) -> FloatArray:
    drivers = {"good_count": series.column("good_count")}
    if with_hours:
        drivers["planned_h"] = _planned_hours(series)
    for driver, column in drivers.items():
        # A driver that never varies is a second intercept: OLS (a pseudo-inverse in
        # statsmodels) would split the base load between them arbitrarily, and the split
        # decides the adjusted baseline as soon as the reporting days differ.
        if column.size > 1 and float(np.ptp(column)) == 0.0:
            raise ConstantDriver(driver, float(column[0]))
    columns = np.column_stack(list(drivers.values()))
    return np.asarray(add_constant(columns, has_constant="add"))


def fit_baseline(baseline: KpiSeries, *, with_hours: bool = False) -> EnergyModel:
    """Fit the baseline model on ``baseline`` (an ``energy_per_unit`` series with hours).

    ConstantDriver when a driver has one value on every baseline day; ValueError when there
    are no more days than parameters or no baseline energy.
    """
    energy = baseline.column("energy_kwh")
    design = _design(baseline, with_hours)
    p = design.shape[1]
    if baseline.n <= p:
        raise ValueError(f"{baseline.n} days for {p} parameters: expected more days")
    if not float(energy.mean()) > 0:
        # CV(RMSE) and NMBE divide by the mean daily energy (G14): no energy, no model.
        raise ValueError("the baseline's mean daily energy is not positive: nothing to model")
    fit = OLS(energy, design).fit()
    predicted = np.asarray(fit.fittedvalues, dtype=np.float64)
    cv, nmbe = g14_statistics(energy, predicted, p)
    rho = _lag1(energy - predicted)
    output = baseline.column("good_count")
    hours = _planned_hours(baseline)
    return EnergyModel(
        drivers=("good_count", "planned_h") if with_hours else ("good_count",),
        coefficients=tuple(float(c) for c in fit.params),
        n=baseline.n,
        p=p,
        mean_kwh=float(energy.mean()),
        r_squared=float(fit.rsquared),
        cv_rmse_pct=cv,
        nmbe_pct=nmbe,
        rho=rho,
        n_effective=baseline.n * (1 - rho) / (1 + rho),
        output_range=(float(output.min()), float(output.max())),
        hours_range=(float(hours.min()), float(hours.max())) if with_hours else None,
    )


def savings_half_width_pct(model: EnergyModel, m: int, confidence: float) -> float:
    """G14 Annex B half-width of the savings, in % of the adjusted baseline, for m days.

    U = 100 · t(n − p) · 1.26 · CV · √((n / n′)(1 + 2 / n′) / m), t two-sided at
    ``confidence`` (:func:`savings_dof`).
    """
    t = float(stats.t.ppf(0.5 + confidence / 2, savings_dof(model)))
    return t * savings_se_pct(model, m)


def savings_dof(model: EnergyModel) -> float:
    """The t degrees of freedom of the savings interval: n − p (G14 Annex B, eemeter).

    Not n′ − p: n′ is already in the variance through (n / n′)(1 + 2 / n′), and taking it
    again in t would count the autocorrelation twice (method §4). The baseline check (a
    minimum n′, method §4) is what keeps a baseline with few independent days out.
    """
    return float(model.n - model.p)


def savings_se_pct(model: EnergyModel, m: int) -> float:
    """G14 Annex B savings uncertainty without t: 100 · 1.26 · CV · √((n/n′)(1 + 2/n′)/m), %."""
    n, n_eff = model.n, model.n_effective
    cv = model.cv_rmse_pct / 100.0
    return 100.0 * _ANNEX_B_FACTOR * cv * math.sqrt((n / n_eff) * (1 + 2 / n_eff) / m)


@dataclass(frozen=True, slots=True)
class EnergySavings:
    """Avoided energy over the reporting period against the adjusted baseline.

    kWh over the period's usable days; ``savings_pct`` = 100 × avoided / adjusted baseline;
    ``half_width_95_pct`` and ``fsu_68`` per G14 Annex B.
    """

    model: EnergyModel
    reporting_days: int
    actual_kwh: float
    adjusted_baseline_kwh: float
    avoided_kwh: float
    savings_pct: float
    se_pct: float
    half_width_68_pct: float
    half_width_95_pct: float
    fsu_68: float | None
    extrapolated_days: int
    #: With the planned-hours driver: reporting days whose planned hours lie outside the
    #: baseline's range (None without it).
    extrapolated_hours_days: int | None = None

    @property
    def g14_uncertainty_ok(self) -> bool:
        """G14's compliance test: FSU at 68 % below 50 % (False when there are no savings)."""
        return self.fsu_68 is not None and self.fsu_68 < G14_MAX_FSU_68


def energy_savings(model: EnergyModel, reporting: KpiSeries) -> EnergySavings:
    """Project ``model`` onto the reporting days' actual output and compare with measured energy.

    ValueError when the reporting series is empty or the adjusted baseline is not positive.
    """
    if reporting.n == 0:
        raise ValueError("no reporting days")
    output = reporting.column("good_count")
    hours = _planned_hours(reporting) if "planned_h" in model.drivers else None
    adjusted = float(model.predict(output, hours).sum())
    if adjusted <= 0:
        raise ValueError(f"adjusted baseline {adjusted:.3f} kWh: expected a positive energy")
    actual = float(reporting.column("energy_kwh").sum())
    savings_pct = 100.0 * (adjusted - actual) / adjusted
    half_68 = savings_half_width_pct(model, reporting.n, 0.68)
    low, high = model.output_range
    return EnergySavings(
        model=model,
        reporting_days=reporting.n,
        actual_kwh=actual,
        adjusted_baseline_kwh=adjusted,
        avoided_kwh=adjusted - actual,
        savings_pct=savings_pct,
        se_pct=savings_se_pct(model, reporting.n),
        half_width_68_pct=half_68,
        half_width_95_pct=savings_half_width_pct(model, reporting.n, 0.95),
        fsu_68=half_68 / savings_pct if savings_pct > 0 else None,
        extrapolated_days=int(np.sum((output < low) | (output > high))),
        extrapolated_hours_days=_outside(hours, model.hours_range),
    )


def _outside(values: FloatArray | None, bounds: tuple[float, float] | None) -> int | None:
    """How many ``values`` lie outside ``bounds`` (None when either is None)."""
    if values is None or bounds is None:
        return None
    low, high = bounds
    return int(np.sum((values < low) | (values > high)))
