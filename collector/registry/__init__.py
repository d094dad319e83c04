"""The registry: the stored versions of the implementation plans, agents and their keys, seq
records, audit, quarantine, users of the web app and review decisions.

:class:`Registry` is the one way registry state is read and written: one method per call, each
one transaction, delegated to a repository per concern (``Registry.repositories``). The
repositories' protocols (:mod:`collector.registry.ports`) are implemented once
(:mod:`collector.registry.sql`) over a database seam with two engines: a SQLite file
(:mod:`collector.registry.sqlite`, the default) and PostgreSQL (:mod:`collector.registry.postgres`,
for several hosts). The plan itself (its model, file and rules) is :mod:`collector.plan`. See
docs/plan.md and docs/scaling.md.
"""

from collector.registry.decisions import MAX_COMMENT_CHARS, OUTCOMES, Decision, Outcome
from collector.registry.ownership import collisions_among, registry_refusal
from collector.registry.ports import Repositories
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
from collector.registry.registry import DEFAULT_BUSY_TIMEOUT_S, Registry
from collector.registry.runs import RunSlot, SlotClaim
from collector.registry.settings import (
    RegistryLocation,
    RegistrySettings,
    is_postgres_url,
    sqlite_path,
)
from collector.registry.throttle import FailureOutcome, ThrottleLimits
from collector.registry.users import ROLES, IssuedToken, Role, Session, TokenEntry, User

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "MAX_COMMENT_CHARS",
    "OUTCOMES",
    "QUARANTINE_RAW_LIMIT",
    "REASON_PATTERN",
    "ROLES",
    "AgentEntry",
    "AgentStatus",
    "AuditEntry",
    "Decision",
    "FailureOutcome",
    "IssuedToken",
    "Outcome",
    "PlanLoadResult",
    "PlanVersion",
    "PlanVersionInfo",
    "QuarantineEntry",
    "Registry",
    "RegistryLocation",
    "RegistrySettings",
    "Repositories",
    "Role",
    "RunSlot",
    "SeqGap",
    "SeqOutcome",
    "SeqSummary",
    "Session",
    "SlotClaim",
    "ThrottleLimits",
    "TokenEntry",
    "User",
    "collisions_among",
    "is_postgres_url",
    "registry_refusal",
    "sqlite_path",
]
