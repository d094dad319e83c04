"""The implementation plan (实施方案): the model, the file that holds it, the programme's rules.

What a province submits per batch (platforms, pilot enterprises with their periods and KPI
targets, the agents installed at each) as pydantic models (:mod:`.model`); reading a plan file
with line marks, its canonical content and digest (:mod:`.file`); the rules across values and
the programme's rules, each written once with its reason (:mod:`.rules`); and why a plan cannot
be used (:mod:`.errors`). A plan is read from YAML or from a workbook (:func:`load_plan` picks
by the file's name; :mod:`.workbook`, docs/plan-workbook.md) and written back as either
(:func:`plan_yaml`, :func:`collector.plan.workbook.plan_workbook_bytes`). See docs/plan.md.

Pure: no database, no network. The registry stores plans; the evidence engine reads them; both
import this face.
"""

from collector.plan.errors import PlanError, PlanFileError, PlanInvalidError
from collector.plan.file import (
    LoadedPlan,
    collision_issues,
    load_plan_yaml,
    parse_plan,
    plan_changes,
    plan_content,
    plan_digest,
    stored_plan,
)
from collector.plan.load import WORKBOOK_SUFFIXES, load_plan
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
from collector.plan.yaml_export import plan_yaml

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
    "WORKBOOK_SUFFIXES",
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
    "load_plan_yaml",
    "min_period_days",
    "parse_plan",
    "plan_changes",
    "plan_content",
    "plan_digest",
    "plan_yaml",
    "stored_plan",
]
