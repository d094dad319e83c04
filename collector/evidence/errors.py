"""Errors of the evidence engine.

EvidenceError
└── UndefinedChange   a change that cannot be computed (reason code on the error)
"""

from __future__ import annotations

__all__ = ["EvidenceError", "UndefinedChange"]


class EvidenceError(Exception):
    """Base of the evidence engine's errors."""


class UndefinedChange(EvidenceError):
    """A KPI's change is undefined; ``reason`` is the code the verdict reports."""

    def __init__(self, kpi: str, reason: str) -> None:
        super().__init__(f"{kpi}: change undefined ({reason})")
        self.kpi = kpi
        self.reason = reason
