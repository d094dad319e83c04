"""One KPI's sections of an evidence document: the sufficiency of each period, the estimated
change, and the energy model with its savings (pure).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from collector.evidence.baseline_check import BaselineCheck
from collector.evidence.change import ChangeEstimate
from collector.evidence.document import (
    BaselineCheckDoc,
    ChangeDoc,
    EffectiveDaysDoc,
    EnergyDoc,
    EnergyModelDoc,
    IntervalDoc,
    PeriodDoc,
    SufficiencyDoc,
)
from collector.evidence.energy import EnergySavings, savings_dof
from collector.evidence.series import energy_points
from collector.evidence.sufficiency import KpiSeries, Sufficiency

__all__ = [
    "baseline_check_doc",
    "change_doc",
    "energy_doc",
    "sufficiency_doc",
]


def sufficiency_doc(record: Sufficiency, series: KpiSeries) -> SufficiencyDoc:
    """One period's sufficiency section, with the KPI's input sums and value."""
    return SufficiencyDoc(
        role=record.role,
        period=PeriodDoc(start=record.start, end=record.end),
        calendar_days=record.calendar_days,
        scheduled_days=record.scheduled_days,
        usable_days=record.usable_days,
        min_days=record.min_days,
        coverage=record.coverage,
        imported_share=record.imported_share,
        comm_loss_share=record.comm_loss_share,
        reasons=list(record.reasons),
        sums={name: float(series.column(name).sum()) for name in series.fields},
        value=series.value,
    )


def change_doc(change: ChangeEstimate) -> ChangeDoc:
    """The change section: the estimate, its three intervals and their inputs."""
    return ChangeDoc(
        unit=change.unit,
        baseline_value=change.baseline_value,
        reporting_value=change.reporting_value,
        change=change.change,
        confidence=change.confidence,
        bootstrap=IntervalDoc(low=change.bootstrap.low, high=change.bootstrap.high),
        bootstrap_se=change.bootstrap_se,
        block_lengths=change.block_lengths,
        replicates=change.replicates,
        seed=change.seed,
        undefined_replicates=change.undefined_replicates,
        hac_change=change.hac_change,
        hac=IntervalDoc(low=change.hac.low, high=change.hac.high),
        hac_se=change.hac_se,
        hac_maxlags=change.hac_maxlags,
        mde=change.mde,
        power=change.power,
        effective=IntervalDoc(low=change.effective.low, high=change.effective.high),
        effective_se=change.effective_se,
        effective_days=[
            EffectiveDaysDoc(
                role=role,
                n=days.n,
                jackknife_variance=days.jackknife_variance,
                rho=days.rho,
                variance=days.variance,
                n_effective=days.n_effective,
            )
            for role, days in zip(("baseline", "reporting"), change.effective_days, strict=True)
        ],
        effective_dof=None if math.isinf(change.effective_dof) else change.effective_dof,
        mde_factor=change.mde_factor,
    )


def baseline_check_doc(check: BaselineCheck) -> BaselineCheckDoc:
    """The energy baseline's checks against the reporting period, with their figures."""
    return BaselineCheckDoc(
        n_effective=check.n_effective,
        min_effective_days=check.min_effective_days,
        reporting_days=check.reporting_days,
        outside_days=check.outside_days,
        outside_share=check.outside_share,
        max_outside_share=check.max_outside_share,
        baseline_day_types=dict(check.baseline_day_types),
        reporting_day_types=dict(check.reporting_day_types),
        missing_day_types=list(check.missing_day_types),
        reasons=list(check.reasons),
    )


def energy_doc(
    savings: EnergySavings, series: Sequence[KpiSeries], check: BaselineCheck | None = None
) -> EnergyDoc:
    """The energy section: the baseline model, the savings, its checks and the chart points."""
    model = savings.model
    return EnergyDoc(
        model=EnergyModelDoc(
            drivers=list(model.drivers),
            coefficients=list(model.coefficients),
            n=model.n,
            p=model.p,
            mean_kwh=model.mean_kwh,
            r_squared=model.r_squared,
            cv_rmse_pct=model.cv_rmse_pct,
            nmbe_pct=model.nmbe_pct,
            rho=model.rho,
            n_effective=model.n_effective,
            output_range=model.output_range,
            meets_g14=model.meets_g14,
            failures=list(model.failures),
            hours_range=model.hours_range,
        ),
        reporting_days=savings.reporting_days,
        actual_kwh=savings.actual_kwh,
        adjusted_baseline_kwh=savings.adjusted_baseline_kwh,
        avoided_kwh=savings.avoided_kwh,
        savings_pct=savings.savings_pct,
        se_pct=savings.se_pct,
        half_width_68_pct=savings.half_width_68_pct,
        half_width_95_pct=savings.half_width_95_pct,
        fsu_68=savings.fsu_68,
        g14_uncertainty_ok=savings.g14_uncertainty_ok,
        extrapolated_days=savings.extrapolated_days,
        points=list(energy_points(savings, series)),
        extrapolated_hours_days=savings.extrapolated_hours_days,
        dof=savings_dof(model),
        baseline_check=None if check is None else baseline_check_doc(check),
    )
