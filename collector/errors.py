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
        │                         (an agent id reused, a key registered twice, a revoked agent)
        └── RegistryUnavailable   SQLite could not be used (locked past the busy timeout, disk
                                  full, not a registry file); ``retryable`` says if a later try
                                  can help

A message says where, what was given, what was expected and what happens next, as in the agent.
"""

from __future__ import annotations

from agent.errors import ConfigIssue

__all__ = [
    "CollectorError",
    "ConflictError",
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


class RegistryUnavailable(RegistryError):
    """SQLite could not be used; ``retryable`` is True when the cause is a lock held too long."""

    def __init__(self, detail: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(detail)
