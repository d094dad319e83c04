"""Pass rates of the verdict rule on simulated enterprises with a known true change (method §6).

Daily availability of one enterprise: baseline mean 70 %, AR(1) day-to-day noise (SD 4 pp,
lag-1 correlation ``rho``), planned time 20,000–30,000 s a day, 60 + 60 days, target +5 pp.
``tests/collector/evidence/test_power.py`` runs a few hundred seeds; the figures quoted in
docs/evidence-method.md §6 come from a larger run of this module:

    .venv/bin/python -m tests.collector.evidence.power --seeds 4000

It prints, per autocorrelation, the pass rate at no change, at a change equal to the target
and at target + MDE, for the rule as documented (the union of bootstrap, Newey–West and
effective-days intervals) and for the union of the first two alone (the rule before the
small-sample correction), both judged on the same simulated data.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from collector.evidence import decide, estimate_change
from collector.evidence.change import ChangeEstimate, Interval
from collector.plan import Target
from tests.collector.evidence.helpers import ar1, availability_series

DAYS = 60
TARGET = Target(direction="increase", size=5.0, unit="pp")
BASELINE_AVAILABILITY = 0.70


@dataclass(frozen=True)
class Rates:
    """Share of simulated enterprises passed, by rule, and the mean MDE of the estimates."""

    seeds: int
    passed: float
    passed_without_correction: float
    mean_mde: float
    mean_mde_without_correction: float


def _without_correction(estimate: ChangeEstimate) -> Interval:
    return Interval(
        min(estimate.bootstrap.low, estimate.hac.low),
        max(estimate.bootstrap.high, estimate.hac.high),
    )


def pass_rates(true_change_pp: float, master_seed: int, seeds: int, *, rho: float = 0.5) -> Rates:
    """Pass rates over ``seeds`` simulated enterprises whose true change is given."""
    rng = np.random.default_rng(master_seed)
    planned = rng.uniform(20000, 30000, size=(seeds, 2, DAYS))
    noise = ar1(rng, (seeds, 2, DAYS), rho=rho, sd=0.04)
    passed = passed_before = 0
    mdes, mdes_before = [], []
    for i in range(seeds):
        base = availability_series("baseline", BASELINE_AVAILABILITY + noise[i, 0], planned[i, 0])
        after = BASELINE_AVAILABILITY + true_change_pp / 100 + noise[i, 1]
        report = availability_series("reporting", after, planned[i, 1])
        estimate = estimate_change(base, report, "pp", seed=i, replicates=1000)
        passed += decide(TARGET, estimate.decisive) == "pass"
        passed_before += decide(TARGET, _without_correction(estimate)) == "pass"
        mdes.append(estimate.mde)
        # The MDE as it was: 2.80 × the bootstrap's SE.
        mdes_before.append(2.8016 * estimate.bootstrap_se)
    return Rates(
        seeds,
        passed / seeds,
        passed_before / seeds,
        float(np.mean(mdes)),
        float(np.mean(mdes_before)),
    )


def _report(seeds: int, rho: float) -> None:
    null = pass_rates(0.0, 100, seeds, rho=rho)
    boundary = pass_rates(TARGET.size, 200, seeds, rho=rho)
    at_mde = pass_rates(TARGET.size + boundary.mean_mde, 400, seeds, rho=rho)
    at_old_mde = pass_rates(TARGET.size + boundary.mean_mde_without_correction, 400, seeds, rho=rho)
    print(f"rho {rho:g}, {seeds} seeds per row, 60 + 60 days, target +{TARGET.size:g} pp")
    print(
        f"  true 0 pp: {null.passed:.2%} (without correction {null.passed_without_correction:.2%})"
    )
    print(
        f"  true {TARGET.size:g} pp: {boundary.passed:.2%} "
        f"(without correction {boundary.passed_without_correction:.2%})"
    )
    print(
        f"  true target + MDE = {TARGET.size + boundary.mean_mde:.2f} pp "
        f"(mean MDE {boundary.mean_mde:.2f}): {at_mde.passed:.2%}"
    )
    print(
        f"  true target + old MDE = {TARGET.size + boundary.mean_mde_without_correction:.2f} pp "
        f"(mean old MDE {boundary.mean_mde_without_correction:.2f}): {at_old_mde.passed:.2%} "
        f"(without correction {at_old_mde.passed_without_correction:.2%})",
        flush=True,
    )


def main() -> None:
    """Print the pass rates for each autocorrelation asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--rho", type=float, nargs="+", default=[0.5])
    args = parser.parse_args()
    started = time.monotonic()
    for rho in args.rho:
        _report(args.seeds, rho)
    print(f"elapsed {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
