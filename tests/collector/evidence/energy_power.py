"""How often a short energy baseline passes a null effect, before and after the baseline check
(method §6, energy).

A plant whose daily energy is E = 300 kWh + 0.5 kWh × good output + AR(1) noise (SD 120 kWh,
lag-1 correlation ``rho``; mean energy about 800 kWh, so CV(RMSE) about 15 %, inside G14's
20 %), good output 1,000 parts a day ± 10 % (independent days), working Monday to Friday. The
baseline has ``n`` usable days, the reporting period 60, and the retrofit saved nothing (true
saving 0); the target is a 5 % decrease. Each simulated plant is judged three ways on the same
data:

- ``old``: the rule before issue #16: G14 fit limits only, t on n′ − p degrees of freedom;
- ``annex_b``: t on n − p (G14 Annex B, eemeter) without the baseline check;
- ``new``: the engine's rule: t on n − p and the baseline check (n′, driver range, day types).

``test_energy_power.py`` runs a reduced grid; docs/evidence-method.md §6 quotes a full run:

    .venv/bin/python -m tests.collector.evidence.energy_power --seeds 2000
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from scipy import stats  # type: ignore[import-untyped]  # scipy ships no type hints

from collector.evidence import (
    KpiSeries,
    check_baseline,
    decide,
    energy_savings,
    fit_baseline,
)
from collector.evidence.change import Interval
from collector.evidence.energy import EnergySavings, savings_se_pct
from collector.evidence.sufficiency import PeriodRole
from collector.plan import Target
from tests.collector.evidence.helpers import ar1

TARGET = Target(direction="decrease", size=5.0, unit="%")
REPORTING_DAYS = 60
BASE_LOAD_KWH, KWH_PER_PART, NOISE_SD_KWH = 300.0, 0.5, 120.0
#: The grid of the issue: baselines of 20 … 60 usable days, ρ 0.3 … 0.8.
GRID_DAYS = (20, 25, 30, 40, 60)
GRID_RHO = (0.3, 0.5, 0.65, 0.8)
#: Nominal one-sided rate of the verdict's 95 % interval.
NOMINAL = 0.025


def working_days(count: int, start: date) -> tuple[date, ...]:
    """``count`` consecutive Mondays to Fridays from ``start``."""
    found: list[date] = []
    day = start
    while len(found) < count:
        if day.weekday() < 5:
            found.append(day)
        day += timedelta(days=1)
    return tuple(found)


def energy_series(
    role: PeriodRole, output: np.ndarray, energy: np.ndarray, start: date
) -> KpiSeries:
    """An energy-per-unit series (energy, good output, planned 8 h) on working days."""
    planned = np.full(output.shape, 28800.0)
    return KpiSeries(
        "energy_per_unit",
        role,
        working_days(output.size, start),
        ("energy_kwh", "good_count", "planned_s"),
        np.column_stack([energy, output, planned]),
    )


@dataclass(frozen=True)
class NullRates:
    """Share of simulated null-effect plants passed under each rule, and why the new rule
    refused the others (shares of all seeds)."""

    n: int
    rho: float
    seeds: int
    old: float
    annex_b: float
    new: float
    few_effective_days: float
    outside_range: float


def _passes(target: Target, savings: EnergySavings, dof: float) -> bool:
    t = float(stats.t.ppf(0.975, dof))
    half = t * savings_se_pct(savings.model, savings.reporting_days)
    interval = Interval(-(savings.savings_pct + half), -(savings.savings_pct - half))
    return decide(target, interval) == "pass"


def null_rates(n: int, rho: float, seeds: int, master_seed: int = 16) -> NullRates:
    """Pass rates of a null effect for baselines of ``n`` usable days at ``rho``."""
    rng = np.random.default_rng([master_seed, n, round(rho * 100)])
    output = 1000.0 * (1 + 0.1 * rng.standard_normal((seeds, n + REPORTING_DAYS)))
    noise_base = ar1(rng, (seeds, n), rho=rho, sd=NOISE_SD_KWH)
    noise_report = ar1(rng, (seeds, REPORTING_DAYS), rho=rho, sd=NOISE_SD_KWH)
    energy = BASE_LOAD_KWH + KWH_PER_PART * output
    counts = dict.fromkeys(("old", "annex_b", "new", "few", "outside"), 0)
    for i in range(seeds):
        base = energy_series(
            "baseline", output[i, :n], energy[i, :n] + noise_base[i], date(2026, 1, 5)
        )
        report = energy_series(
            "reporting", output[i, n:], energy[i, n:] + noise_report[i], date(2026, 6, 1)
        )
        model = fit_baseline(base)
        savings = energy_savings(model, report)
        if not model.meets_g14:
            continue
        check = check_baseline(model, base, report)
        counts["old"] += _passes(TARGET, savings, max(model.n_effective - model.p, 1.0))
        annex_b = _passes(TARGET, savings, float(model.n - model.p))
        counts["annex_b"] += annex_b
        counts["new"] += annex_b and not check.reasons
        counts["few"] += "energy_baseline_few_effective_days" in check.reasons
        counts["outside"] += "energy_reporting_outside_baseline_range" in check.reasons
    return NullRates(
        n,
        rho,
        seeds,
        counts["old"] / seeds,
        counts["annex_b"] / seeds,
        counts["new"] / seeds,
        counts["few"] / seeds,
        counts["outside"] / seeds,
    )


def main() -> None:
    """Print the grid's null pass rates under the three rules."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    args = parser.parse_args()
    started = time.monotonic()
    print(
        f"null effect, target -{TARGET.size:g} %, {REPORTING_DAYS} reporting days, "
        f"{args.seeds} seeds"
    )
    print("rho  n   old     annex_b  new     refused: n' / range")
    for rho in GRID_RHO:
        for n in GRID_DAYS:
            r = null_rates(n, rho, args.seeds)
            print(
                f"{rho:<4g} {n:<3d} {r.old:6.2%}  {r.annex_b:6.2%}  {r.new:6.2%}  "
                f"{r.few_effective_days:6.1%} / {r.outside_range:5.1%}",
                flush=True,
            )
    print(f"elapsed {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
