"""The registry: the implementation plan (实施方案), agents and their keys, audit, quarantine,
users of the web app and review decisions.

:class:`Registry` is the one way SQLite registry state is read and written; plan files are read
with :func:`load_plan`. See docs/plan.md.
"""

from collector.registry.decisions import MAX_COMMENT_CHARS, OUTCOMES, Decision, Outcome
from collector.registry.ownership import collisions_among, registry_refusal
from collector.registry.plan import (
    KPI_DIRECTION,
    KPI_NAMES,
    SHARE_KPIS,
    AgentPlan,
    Enterprise,
    Period,
    Plan,
    Platform,
    Province,
    SubIndustry,
    Target,
)
from collector.registry.planfile import (
    LoadedPlan,
    collision_issues,
    load_plan,
    parse_plan,
    plan_digest,
)
from collector.registry.quarantine import QUARANTINE_RAW_LIMIT, REASON_PATTERN
from collector.registry.records import (
    AgentEntry,
    AgentStatus,
    AuditEntry,
    PlanLoadResult,
    PlanVersion,
    PlanVersionInfo,
    QuarantineEntry,
    SeqGap,
    SeqOutcome,
    SeqSummary,
)
from collector.registry.rules import (
    MIN_DATA_DAYS,
    MIN_ENTERPRISES_PER_PLATFORM,
    MIN_PERIOD_DAYS,
    check_plan,
)
from collector.registry.runs import RunSlot, SlotClaim
from collector.registry.store import DEFAULT_BUSY_TIMEOUT_S, Registry
from collector.registry.throttle import FailureOutcome, ThrottleLimits
from collector.registry.users import ROLES, IssuedToken, Role, Session, TokenEntry, User

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "KPI_DIRECTION",
    "KPI_NAMES",
    "MAX_COMMENT_CHARS",
    "MIN_DATA_DAYS",
    "MIN_ENTERPRISES_PER_PLATFORM",
    "MIN_PERIOD_DAYS",
    "OUTCOMES",
    "QUARANTINE_RAW_LIMIT",
    "REASON_PATTERN",
    "ROLES",
    "SHARE_KPIS",
    "AgentEntry",
    "AgentPlan",
    "AgentStatus",
    "AuditEntry",
    "Decision",
    "Enterprise",
    "FailureOutcome",
    "IssuedToken",
    "LoadedPlan",
    "Outcome",
    "Period",
    "Plan",
    "PlanLoadResult",
    "PlanVersion",
    "PlanVersionInfo",
    "Platform",
    "Province",
    "QuarantineEntry",
    "Registry",
    "Role",
    "RunSlot",
    "SeqGap",
    "SeqOutcome",
    "SeqSummary",
    "Session",
    "SlotClaim",
    "SubIndustry",
    "Target",
    "ThrottleLimits",
    "TokenEntry",
    "User",
    "check_plan",
    "collision_issues",
    "collisions_among",
    "load_plan",
    "parse_plan",
    "plan_digest",
    "registry_refusal",
]
