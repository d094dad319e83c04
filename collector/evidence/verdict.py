"""Verdicts: per KPI against the plan's target, per enterprise on its required targets (§5).

A KPI passes when the conservative bound of its 95 % interval clears the target (increase:
low ≥ size; decrease: high ≤ −size), fails otherwise, and is ``insufficient_data`` when a
period lacks evidence, the change is undefined, or the energy model fails ASHRAE G14 or its
baseline cannot judge the reporting period (few effective days, drivers out of range, a day
type missing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from collector.evidence.baseline_check import BaselineCheck, check_baseline
from collector.evidence.change import (
    DEFAULT_SEED,
    ChangeEstimate,
    Interval,
    estimate_change,
    mde_factor,
)
from collector.evidence.daily import EnterpriseDay
from collector.evidence.energy import EnergySavings, energy_savings, fit_baseline, savings_dof
from collector.evidence.errors import ConstantDriver, UndefinedChange
from collector.evidence.sufficiency import KpiSeries, Sufficiency, period_series
from collector.plan import Period, Target

__all__ = [
    "Judged",
    "KpiVerdict",
    "Status",
    "decide",
    "enterprise_status",
    "judge_kpi",
]

Status = Literal["pass", "fail", "insufficient_data"]


@dataclass(frozen=True, slots=True)
class KpiVerdict:
    """One KPI's verdict with everything behind it.

    ``interval`` is the decisive 95 % interval of the change in the target's unit (for energy
    per unit: minus the G14 savings ± half-width); ``needed_for_80pct_pass`` is the size of
    true change that passes four times in five (target + MDE), in the same unit.
    """

    kpi: str
    target: Target
    status: Status
    reasons: tuple[str, ...]
    baseline: Sufficiency
    reporting: Sufficiency
    change: ChangeEstimate | None
    energy: EnergySavings | None
    interval: Interval | None
    needed_for_80pct_pass: float | None
    #: Energy per unit only: the baseline's effective days, driver range and day types.
    energy_baseline: BaselineCheck | None = None


def decide(target: Target, interval: Interval) -> Status:
    """Pass when the interval's conservative bound clears the target, else fail."""
    if target.direction == "increase":
        return "pass" if interval.low >= target.size else "fail"
    return "pass" if interval.high <= -target.size else "fail"


def _insufficient(
    kpi: str, target: Target, base: Sufficiency, report: Sufficiency, reasons: Sequence[str]
) -> KpiVerdict:
    return KpiVerdict(
        kpi, target, "insufficient_data", tuple(reasons), base, report, None, None, None, None
    )


def _change_or_reason(
    base: KpiSeries, report: KpiSeries, target: Target, seed: int
) -> ChangeEstimate | str:
    try:
        return estimate_change(base, report, target.unit, seed=seed)
    except UndefinedChange as exc:
        return exc.reason


def judge_kpi(
    kpi: str,
    target: Target,
    days: Sequence[EnterpriseDay],
    baseline: Period,
    reporting: Period,
    *,
    seed: int = DEFAULT_SEED,
) -> KpiVerdict:
    """The verdict for one KPI of one enterprise from its enterprise days.

    Energy per unit's baseline model takes the target's ``drivers`` (planned hours beside
    good output when the plan lists ``planned_h``). ValueError for a ``pp`` target on energy
    per unit (a ratio with units of its own).
    """
    base, base_ok = period_series(days, kpi, "baseline", baseline.start, baseline.end)
    report, report_ok = period_series(days, kpi, "reporting", reporting.start, reporting.end)
    if not (base_ok.sufficient and report_ok.sufficient):
        return _insufficient(kpi, target, base_ok, report_ok, base_ok.reasons + report_ok.reasons)
    change = _change_or_reason(base, report, target, seed)
    if isinstance(change, str):
        return _insufficient(kpi, target, base_ok, report_ok, [change])
    needed = target.size + change.mde
    if kpi != "energy_per_unit":
        interval = change.decisive
        return KpiVerdict(
            kpi,
            target,
            decide(target, interval),
            (),
            base_ok,
            report_ok,
            change,
            None,
            interval,
            needed,
        )
    if target.unit != "%":
        raise ValueError(f"energy_per_unit target in {target.unit}: expected %")
    with_hours = "planned_h" in target.drivers
    return _judge_energy(target, base, report, base_ok, report_ok, change, with_hours)


def _judge_energy(
    target: Target,
    base: KpiSeries,
    report: KpiSeries,
    base_ok: Sufficiency,
    report_ok: Sufficiency,
    change: ChangeEstimate,
    with_hours: bool,
) -> KpiVerdict:
    kpi = "energy_per_unit"
    try:
        savings = energy_savings(fit_baseline(base, with_hours=with_hours), report)
    except ValueError as exc:
        # A driver that never varied in the baseline, no baseline energy, or a model that
        # predicts no energy for the reporting output: there is no adjusted baseline to
        # compare with (method §4).
        reason = "energy_driver_constant" if isinstance(exc, ConstantDriver) else None
        return KpiVerdict(
            kpi,
            target,
            "insufficient_data",
            (reason or "energy_model_unusable",),
            base_ok,
            report_ok,
            change,
            None,
            None,
            None,
        )
    baseline_check = check_baseline(savings.model, base, report)
    # Both the G14 fit limits and the baseline's sufficiency for this reporting period (§4):
    # either missing gives no verdict, and every reason is named with its figures.
    reasons: tuple[str, ...] = () if savings.model.meets_g14 else ("energy_model_fails_g14",)
    reasons += baseline_check.reasons
    if reasons:
        return KpiVerdict(
            kpi,
            target,
            "insufficient_data",
            reasons,
            base_ok,
            report_ok,
            change,
            savings,
            None,
            None,
            baseline_check,
        )
    half = savings.half_width_95_pct
    interval = Interval(-(savings.savings_pct + half), -(savings.savings_pct - half))
    # The same t degrees of freedom as the G14 half-width (n − p).
    needed = target.size + mde_factor(savings_dof(savings.model)) * savings.se_pct
    return KpiVerdict(
        kpi,
        target,
        decide(target, interval),
        (),
        base_ok,
        report_ok,
        change,
        savings,
        interval,
        needed,
        baseline_check,
    )


class _Required(Protocol):
    @property
    def required(self) -> bool: ...


class Judged(Protocol):
    """A KPI's verdict as far as the enterprise's status needs it (KpiVerdict, KpiDoc)."""

    @property
    def status(self) -> str: ...
    @property
    def target(self) -> _Required: ...


def enterprise_status(verdicts: Sequence[Judged]) -> Status:
    """Fail if a required KPI failed, pass if all required passed, else insufficient data."""
    required = [verdict.status for verdict in verdicts if verdict.target.required]
    if "fail" in required:
        return "fail"
    if required and all(status == "pass" for status in required):
        return "pass"
    return "insufficient_data"
