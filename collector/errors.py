"""The collector's errors: what a caller may catch, and the data it needs to decide what to do.

::

    CollectorError
    ├── PlanError                 an implementation plan cannot be used (its family lives in
    │                             collector.plan.errors: PlanFileError, PlanInvalidError)
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

__all__ = [
    "CollectorError",
    "ConflictError",
    "IdCollision",
    "IdCollisionError",
    "IdKind",
    "NotFoundError",
    "RegistryError",
    "RegistryUnavailable",
]


class CollectorError(Exception):
    """Base of every error the collector raises on purpose."""


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
