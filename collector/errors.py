"""The collector's errors: what a caller may catch, and the data it needs to decide what to do.

::

    CollectorError
    ├── PlanError                 an implementation plan cannot be used; ``issues`` lists why
    │   ├── PlanFileError         the file could not be read at all (missing, a directory,
    │   │                         binary, too large): ``plan validate`` exits 2
    │   └── PlanInvalidError      the file was read but breaks the schema or the programme's
    │                             rules: exits 1
    └── RegistryError             the registry refused or could not do an operation
        ├── NotFoundError         no such plan, version, agent, platform or enterprise
        ├── ConflictError         the change contradicts what the registry already holds
        │   │                     (an agent id reused, a key registered twice, a revoked agent)
        │   └── IdCollisionError  a platform, enterprise or agent id claimed by two plans;
        │                         ``collisions`` lists each (kind, id, plan keys)
        └── RegistryUnavailable   SQLite could not be used (locked past the busy timeout, disk
                                  full, not a registry file); ``retryable`` says if a later try
                                  can help

A message says where, what was given, what was expected and what happens next, as in the agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contract.errors import ConfigIssue

__all__ = [
    "CollectorError",
    "ConflictError",
    "IdCollision",
    "IdCollisionError",
    "IdKind",
    "NotFoundError",
    "PlanError",
    "PlanFileError",
    "PlanInvalidError",
    "RegistryError",
    "RegistryUnavailable",
]


class CollectorError(Exception):
    """Base of every error the collector raises on purpose."""


class PlanError(CollectorError):
    """The plan cannot be used; ``issues`` holds every problem found (errors only), in file order.

    ``warnings`` holds what was found besides, so a caller can show both.
    """

    def __init__(
        self, issues: tuple[ConfigIssue, ...], warnings: tuple[ConfigIssue, ...] = ()
    ) -> None:
        self.issues = issues
        self.warnings = warnings
        super().__init__("\n".join(str(issue) for issue in issues))


class PlanFileError(PlanError):
    """The plan file could not be read (missing, a directory, binary, too large, not UTF-8)."""


class PlanInvalidError(PlanError):
    """The plan file was read, but its content breaks the schema or the programme's rules."""


class RegistryError(CollectorError):
    """The registry refused an operation or could not carry it out."""

    retryable = False


class NotFoundError(RegistryError):
    """No such plan, plan version, agent, platform or enterprise in the registry."""


class ConflictError(RegistryError):
    """The change contradicts the registry's state; nothing was written."""


#: What an id names: ids are unique per kind across every plan in the registry.
IdKind = Literal["platform", "enterprise", "agent"]


@dataclass(frozen=True, slots=True)
class IdCollision:
    """One id that more than one plan claims: its kind, the id, and those plans' keys (sorted)."""

    kind: IdKind
    id: str
    plan_keys: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} (plans {', '.join(self.plan_keys)})"


class IdCollisionError(ConflictError):
    """Platform, enterprise or agent ids that two plans claim; nothing was written.

    ``plan_key`` is the plan being loaded (None when the registry itself already holds the
    collisions, as one written before ids were checked across plans).
    """

    def __init__(
        self, message: str, collisions: tuple[IdCollision, ...], plan_key: str | None = None
    ) -> None:
        self.collisions = collisions
        self.plan_key = plan_key
        super().__init__(message)


class RegistryUnavailable(RegistryError):
    """SQLite could not be used; ``retryable`` is True when the cause is a lock held too long."""

    def __init__(self, detail: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(detail)
