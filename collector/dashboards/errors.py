"""Errors of the dashboards package.

::

    DashboardError
    ├── DashboardFileError    a dashboard file cannot be read or uses what we cannot check;
    │                         ``problems`` lists every reason
    └── DashboardPushError    Grafana refused or could not take a dashboard; ``status_code``
                              (None when no answer came) and ``retryable`` say what to do
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DashboardError", "DashboardFileError", "DashboardPushError"]


class DashboardError(Exception):
    """Base of the dashboards package's errors."""


class DashboardFileError(DashboardError, ValueError):
    """A dashboard file that cannot be read or is not one we can check; ``problems`` lists why."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class DashboardPushError(DashboardError):
    """Grafana did not take a dashboard (or a folder); the message says which and why."""

    def __init__(self, message: str, *, status_code: int | None, retryable: bool) -> None:
        self.status_code = status_code
        self.retryable = retryable
        super().__init__(message)
