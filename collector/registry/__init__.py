"""The registry: the stored versions of the implementation plans, agents and their keys, seq
records, audit, quarantine, users of the web app, review decisions, and the agents' day seals
with the checks of daily rows against them.

:class:`Registry` is the one way registry state is read and written: one method per call, each
one transaction, delegated to a repository per concern (``Registry.repositories``). The
repositories' protocols (:mod:`collector.registry.ports`) are implemented once
(:mod:`collector.registry.sql`) over a database seam with two engines: a SQLite file
(:mod:`collector.registry.sqlite`, the default) and PostgreSQL (:mod:`collector.registry.postgres`,
for several hosts). :func:`transfer_registry` copies a SQLite registry into PostgreSQL and
checks the copy (:mod:`collector.registry.transfer`). The plan itself (its model, file and
rules) is :mod:`collector.plan`. See docs/plan.md and docs/scaling.md.

Importing this package imports only :mod:`~collector.registry.settings` (the ``registry:``
configuration key, which ``collector.config`` needs); everything else is imported when first
named, so loading the configuration loads no database code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collector.lazy import lazy_face
from collector.registry.settings import (
    RegistryLocation,
    RegistrySettings,
    is_postgres_url,
    sqlite_path,
)

if TYPE_CHECKING:
    from collector.registry.attachments import (
        Attachment,
        AttachResult,
        Withdrawal,
        invoiced_fen,
    )
    from collector.registry.day_seals import (
        CHECK_OUTCOMES,
        CheckOutcome,
        DayCheck,
        DaySealEntry,
        SealDifference,
        SealStored,
        latest_versions,
    )
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
    from collector.registry.throttle import FailureOutcome, ThrottleLimits
    from collector.registry.transfer import GroupCopy, TransferReport, transfer_registry
    from collector.registry.users import ROLES, IssuedToken, Role, Session, TokenEntry, User

__all__ = [
    "CHECK_OUTCOMES",
    "DEFAULT_BUSY_TIMEOUT_S",
    "MAX_COMMENT_CHARS",
    "OUTCOMES",
    "QUARANTINE_RAW_LIMIT",
    "REASON_PATTERN",
    "ROLES",
    "AgentEntry",
    "AgentStatus",
    "AttachResult",
    "Attachment",
    "AuditEntry",
    "CheckOutcome",
    "DayCheck",
    "DaySealEntry",
    "Decision",
    "FailureOutcome",
    "GroupCopy",
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
    "SealDifference",
    "SealStored",
    "SeqGap",
    "SeqOutcome",
    "SeqSummary",
    "Session",
    "SlotClaim",
    "ThrottleLimits",
    "TokenEntry",
    "TransferReport",
    "User",
    "Withdrawal",
    "collisions_among",
    "invoiced_fen",
    "is_postgres_url",
    "latest_versions",
    "registry_refusal",
    "sqlite_path",
    "transfer_registry",
]

#: Names imported on first use, by module: the registry's database code and its records.
_LAZY = {
    "AgentEntry": "collector.registry.records",
    "AgentStatus": "collector.registry.records",
    "AttachResult": "collector.registry.attachments",
    "Attachment": "collector.registry.attachments",
    "AuditEntry": "collector.registry.records",
    "CHECK_OUTCOMES": "collector.registry.day_seals",
    "CheckOutcome": "collector.registry.day_seals",
    "DayCheck": "collector.registry.day_seals",
    "DaySealEntry": "collector.registry.day_seals",
    "DEFAULT_BUSY_TIMEOUT_S": "collector.registry.registry",
    "Decision": "collector.registry.decisions",
    "FailureOutcome": "collector.registry.throttle",
    "GroupCopy": "collector.registry.transfer",
    "IssuedToken": "collector.registry.users",
    "MAX_COMMENT_CHARS": "collector.registry.decisions",
    "OUTCOMES": "collector.registry.decisions",
    "Outcome": "collector.registry.decisions",
    "PlanLoadResult": "collector.registry.records",
    "PlanVersion": "collector.registry.records",
    "PlanVersionInfo": "collector.registry.records",
    "QUARANTINE_RAW_LIMIT": "collector.registry.quarantine",
    "QuarantineEntry": "collector.registry.records",
    "REASON_PATTERN": "collector.registry.quarantine",
    "ROLES": "collector.registry.users",
    "Registry": "collector.registry.registry",
    "Repositories": "collector.registry.ports",
    "Role": "collector.registry.users",
    "RunSlot": "collector.registry.runs",
    "SealDifference": "collector.registry.day_seals",
    "SealStored": "collector.registry.day_seals",
    "SeqGap": "collector.registry.records",
    "SeqOutcome": "collector.registry.records",
    "SeqSummary": "collector.registry.records",
    "Session": "collector.registry.users",
    "SlotClaim": "collector.registry.runs",
    "ThrottleLimits": "collector.registry.throttle",
    "TokenEntry": "collector.registry.users",
    "TransferReport": "collector.registry.transfer",
    "User": "collector.registry.users",
    "Withdrawal": "collector.registry.attachments",
    "collisions_among": "collector.registry.ownership",
    "invoiced_fen": "collector.registry.attachments",
    "latest_versions": "collector.registry.day_seals",
    "registry_refusal": "collector.registry.ownership",
    "transfer_registry": "collector.registry.transfer",
}

__getattr__, __dir__ = lazy_face(__name__, _LAZY, globals(), __all__)
