"""Errors of the evidence engine.

EvidenceError
├── UndefinedChange   a change that cannot be computed (reason code on the error)
└── ConstantDriver    an energy-model driver with one value on every baseline day
"""

from __future__ import annotations

__all__ = ["ConstantDriver", "EvidenceError", "UndefinedChange"]


class EvidenceError(Exception):
    """Base of the evidence engine's errors."""


class UndefinedChange(EvidenceError):
    """A KPI's change is undefined; ``reason`` is the code the verdict reports."""

    def __init__(self, kpi: str, reason: str) -> None:
        super().__init__(f"{kpi}: change undefined ({reason})")
        self.kpi = kpi
        self.reason = reason


class ConstantDriver(EvidenceError, ValueError):
    """A driver of the energy model (``driver``: ``good_count`` or ``planned_h``) has the same
    value on every baseline day, so OLS cannot tell its coefficient from the intercept."""

    def __init__(self, driver: str, value: float) -> None:
        super().__init__(
            f"{driver} is {value:g} on every baseline day: its coefficient is not identifiable"
        )
        self.driver = driver
        self.value = value
