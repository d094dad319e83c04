"""Simulated data with a known effect: pass rates of the full verdict rule (method §6).

The simulation is :mod:`tests.collector.evidence.power` (AR(1) days, ρ = 0.5, 60 + 60 days,
target +5 pp). Here 300 seeds per rate keep the run short; the rates quoted in
docs/evidence-method.md §6 come from that module run with 4,000 seeds.
"""

from __future__ import annotations

import functools

from .power import TARGET, Rates
from .power import pass_rates as simulate

SEEDS = 300


@functools.cache
def pass_rates(true_change_pp: float, master_seed: int, seeds: int) -> Rates:
    """The simulation's rates, run once per arguments in this module."""
    return simulate(true_change_pp, master_seed, seeds)


def test_no_change_is_never_passed() -> None:
    rates = pass_rates(0.0, master_seed=100, seeds=SEEDS)
    print(f"true change 0 pp: pass rate {rates.passed:.3f}")
    assert rates.passed == 0.0


def test_change_equal_to_the_target_passes_at_about_the_nominal_rate() -> None:
    rates = pass_rates(TARGET.size, master_seed=200, seeds=SEEDS)
    print(
        f"true change = target: pass rate {rates.passed:.3f} "
        f"(bootstrap and HAC alone {rates.passed_without_correction:.3f})"
    )
    # Nominal 2.5 % (one-sided bound of a 95 % interval); the binomial SD over 300 seeds is
    # 0.9 pp. Bootstrap and HAC alone under-cover with 60 autocorrelated days (about 6 %):
    # the effective-days interval is what brings the rule to the nominal rate.
    assert rates.passed <= 0.045
    assert rates.passed_without_correction > rates.passed


def test_change_of_target_plus_mde_passes_about_four_times_in_five() -> None:
    boundary = pass_rates(TARGET.size, master_seed=200, seeds=SEEDS)
    rates = pass_rates(TARGET.size + boundary.mean_mde, master_seed=400, seeds=SEEDS)
    print(f"mean MDE {boundary.mean_mde:.2f} pp: pass rate {rates.passed:.3f}")
    assert 0.72 <= rates.passed <= 0.88
