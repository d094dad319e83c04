"""What stamps every evidence document: the software and method that made it, and the
plan, platform, province, enterprise and subsidy headers it repeats from the plan.

:func:`current_software` (the only one reading anything: installed versions) and
:func:`method_doc` say which code and constants decided the figures; :func:`evidence_sha256`
is the hash a roll-up cites for each document it sums up. The rest are pure conversions.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform as python_platform

import numpy as np
import scipy  # type: ignore[import-untyped]  # scipy ships no type hints
import statsmodels  # type: ignore[import-untyped]  # statsmodels ships no type hints

from collector.evidence.baseline_check import (
    MAX_OUTSIDE_RANGE_SHARE,
    MIN_BASELINE_DAYS_PER_TYPE,
    MIN_EFFECTIVE_BASELINE_DAYS,
)
from collector.evidence.change import CONFIDENCE, MDE_FACTOR, POWER, REPLICATES
from collector.evidence.daily import MIN_STATE_CODE_SHARE
from collector.evidence.document import (
    EnterpriseDoc,
    EnterpriseEvidence,
    MethodDoc,
    PeriodDoc,
    PlatformDoc,
    PlatformRollup,
    ProvinceDoc,
    SoftwareDoc,
    SubIndustryDoc,
    SubsidyDoc,
    TargetDoc,
    canonical_json,
)
from collector.evidence.energy import (
    G14_MAX_ABS_NMBE_PCT,
    G14_MAX_CV_RMSE_PCT,
    G14_MAX_FSU_68,
    SAVINGS_DOF_CONVENTION,
)
from collector.evidence.subsidy import EnterpriseSubsidy
from collector.evidence.sufficiency import MAX_REPORTING_IMPORTED_SHARE, MIN_COVERAGE
from collector.plan import MIN_DATA_DAYS, Enterprise, Period, Plan, Platform, Target

__all__ = [
    "current_software",
    "enterprise_doc",
    "evidence_sha256",
    "method_doc",
    "period_doc",
    "platform_doc",
    "province_doc",
    "subsidy_doc",
    "target_doc",
]


def current_software() -> SoftwareDoc:
    """The versions of this process's code and libraries that decide the figures."""
    try:
        ours = importlib.metadata.version("retrofit-verify")
    except importlib.metadata.PackageNotFoundError:
        ours = "unknown"
    return SoftwareDoc(
        retrofit_verify=ours,
        python=python_platform.python_version(),
        numpy=np.__version__,
        scipy=str(scipy.__version__),
        statsmodels=str(statsmodels.__version__),
    )


def method_doc(seed: int) -> MethodDoc:
    """The method's constants as this engine applies them (docs/evidence-method.md)."""
    return MethodDoc(
        seed=seed,
        replicates=REPLICATES,
        confidence=CONFIDENCE,
        power=POWER,
        mde_factor=MDE_FACTOR,
        min_coverage=MIN_COVERAGE,
        max_reporting_imported_share=MAX_REPORTING_IMPORTED_SHARE,
        min_data_days=dict(MIN_DATA_DAYS),
        g14_max_cv_rmse_pct=G14_MAX_CV_RMSE_PCT,
        g14_max_abs_nmbe_pct=G14_MAX_ABS_NMBE_PCT,
        g14_max_fsu_68=G14_MAX_FSU_68,
        min_effective_baseline_days=MIN_EFFECTIVE_BASELINE_DAYS,
        max_outside_range_share=MAX_OUTSIDE_RANGE_SHARE,
        min_baseline_days_per_type=MIN_BASELINE_DAYS_PER_TYPE,
        g14_savings_dof=SAVINGS_DOF_CONVENTION,
        min_state_code_share=MIN_STATE_CODE_SHARE,
    )


def evidence_sha256(document: EnterpriseEvidence | PlatformRollup) -> str:
    """SHA-256 (hex) of a document's canonical JSON: the bytes its bundle file holds."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


def period_doc(period: Period) -> PeriodDoc:
    """A plan period as the document shows it."""
    return PeriodDoc(start=period.start, end=period.end)


def target_doc(kpi: str, target: Target) -> TargetDoc:
    """A KPI target as the document shows it; meters and drivers only for energy per unit."""
    energy = kpi == "energy_per_unit"
    return TargetDoc(
        kpi=kpi,
        direction=target.direction,
        size=target.size,
        unit=target.unit,
        required=target.required,
        boundary=target.boundary if energy else None,
        meters=sorted(target.meters) if energy else [],
        drivers=list(target.drivers) if energy else [],
    )


def platform_doc(plan: Plan, platform: Platform) -> PlatformDoc:
    """The platform and its sub-industry, from the plan."""
    sub = next(s for s in plan.sub_industries if s.id == platform.sub_industry)
    return PlatformDoc(
        id=platform.id,
        name=platform.name,
        sub_industry=SubIndustryDoc(id=sub.id, name=sub.name, category=sub.category),
    )


def province_doc(plan: Plan) -> ProvinceDoc:
    """The plan's province."""
    return ProvinceDoc(code=plan.province.code, name=plan.province.name)


def subsidy_doc(item: EnterpriseSubsidy) -> SubsidyDoc:
    """One enterprise's subsidy as the document shows it."""
    return SubsidyDoc(
        passed=item.passed,
        cost_fen=item.cost_fen,
        share_fen=item.share_fen,
        subsidy_fen=item.subsidy_fen,
        capped=item.capped,
        plan_cost_fen=item.plan_cost_fen,
        invoiced_fen=item.invoiced_fen,
        costs_differ=item.costs_differ,
    )


def enterprise_doc(enterprise: Enterprise) -> EnterpriseDoc:
    """The enterprise's header: its plan record, periods and targets."""
    return EnterpriseDoc(
        id=enterprise.id,
        name=enterprise.name,
        industry=enterprise.industry,
        solution=enterprise.solution,
        timezone=enterprise.timezone,
        retrofit_cost_fen=enterprise.retrofit_cost_fen,
        baseline=period_doc(enterprise.baseline),
        go_live=enterprise.go_live,
        reporting=period_doc(enterprise.reporting),
        targets=[target_doc(kpi, target) for kpi, target in enterprise.targets.items()],
    )
