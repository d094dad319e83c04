"""Why the verifier could not even start: the bundle or the plan cannot be read (exit 2).

::

    VerifyError
    ├── BundleUnreadable   no such folder, not a bundle (no manifest.json or evidence.json),
    │                      a file that is not what it claims to be at the document level
    └── PlanUnreadable     the reviewer's plan file is missing, unreadable or invalid

Everything the verifier finds *inside* a readable bundle is a :class:`~collector.verify.Finding`
(exit 1), never an exception.
"""

from __future__ import annotations

__all__ = ["BundleUnreadable", "PlanUnreadable", "VerifyError"]


class VerifyError(Exception):
    """Base of the verifier's errors: ``where`` (a path) and ``detail`` (what is wrong)."""

    def __init__(self, where: str, detail: str) -> None:
        self.where = where
        self.detail = detail
        super().__init__(f"{where}: {detail}")


class BundleUnreadable(VerifyError):
    """The bundle folder cannot be read as an enterprise bundle at all."""


class PlanUnreadable(VerifyError):
    """The reviewer's plan file cannot be read or is not a valid plan."""
