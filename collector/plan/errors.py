"""Why an implementation plan cannot be used: what a caller may catch, with every issue found.

::

    CollectorError                (collector.errors)
    └── PlanError                 an implementation plan cannot be used; ``issues`` lists why
        ├── PlanFileError         the file could not be read at all (missing, a directory,
        │                         binary, too large): ``plan validate`` exits 2
        └── PlanInvalidError      the file was read but breaks the schema or the programme's
                                  rules: exits 1

Each issue says file, line and key path, what was given and what was expected.
"""

from __future__ import annotations

from collector.errors import CollectorError
from contract.errors import ConfigIssue

__all__ = ["PlanError", "PlanFileError", "PlanInvalidError"]


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
