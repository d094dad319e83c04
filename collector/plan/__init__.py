"""The implementation plan (实施方案): the model, the file that holds it, the programme's rules.

What a province submits per batch (platforms, pilot enterprises with their periods and KPI
targets, the agents installed at each) as pydantic models (:mod:`.model`); reading a plan file
with line marks, its canonical content and digest (:mod:`.file`); the rules across values and
the programme's rules, each written once with its reason (:mod:`.rules`); and why a plan cannot
be used (:mod:`.errors`). See docs/plan.md.

Pure: no database, no network. The registry stores plans; the evidence engine reads them; both
import this face.
"""

from collector.plan.errors import PlanError, PlanFileError, PlanInvalidError
from collector.plan.file import (
    LoadedPlan,
    collision_issues,
    load_plan,
    parse_plan,
    plan_changes,
    plan_content,
    plan_digest,
)
from collector.plan.model import (
    KPI_DIRECTION,
    KPI_NAMES,
    SHARE_KPIS,
    SUB_INDUSTRY_CATEGORIES,
    AgentPlan,
    EnergyBoundary,
    EnergyDriver,
    Enterprise,
    KpiName,
    Period,
    Plan,
    Platform,
    Province,
    Rectification,
    SubIndustry,
    SubIndustryCategory,
    Target,
)
from collector.plan.rules import (
    MAX_PERIOD_DAYS,
    MAX_PLATFORMS_PER_SUB_INDUSTRY,
    MAX_SUB_INDUSTRIES_PER_BATCH,
    MIN_DATA_DAYS,
    MIN_ENTERPRISES_PER_PLATFORM,
    MIN_PERIOD_DAYS,
    Finding,
    check_plan,
    min_period_days,
)

__all__ = [
    "KPI_DIRECTION",
    "KPI_NAMES",
    "MAX_PERIOD_DAYS",
    "MAX_PLATFORMS_PER_SUB_INDUSTRY",
    "MAX_SUB_INDUSTRIES_PER_BATCH",
    "MIN_DATA_DAYS",
    "MIN_ENTERPRISES_PER_PLATFORM",
    "MIN_PERIOD_DAYS",
    "SHARE_KPIS",
    "SUB_INDUSTRY_CATEGORIES",
    "AgentPlan",
    "EnergyBoundary",
    "EnergyDriver",
    "Enterprise",
    "Finding",
    "KpiName",
    "LoadedPlan",
    "Period",
    "Plan",
    "PlanError",
    "PlanFileError",
    "PlanInvalidError",
    "Platform",
    "Province",
    "Rectification",
    "SubIndustry",
    "SubIndustryCategory",
    "Target",
    "check_plan",
    "collision_issues",
    "load_plan",
    "min_period_days",
    "parse_plan",
    "plan_changes",
    "plan_content",
    "plan_digest",
]
