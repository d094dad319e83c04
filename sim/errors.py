"""Errors of the plant simulator.

::

    SimError
    ├── PlantFileError      the plant file cannot be read or is invalid (all problems at once)
    │   └── ScriptError     a scripted machine's CSV cannot be read or is invalid (the same)
    └── ControlError        a fault or control command was malformed or named an unknown target
"""

from __future__ import annotations

__all__ = ["ControlError", "PlantFileError", "ScriptError", "SimError"]


class SimError(Exception):
    """Base of every error the simulator raises on purpose."""


class PlantFileError(SimError):
    """The plant file is unreadable or invalid; ``problems`` lists every message found."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems))


class ScriptError(PlantFileError):
    """A scripted machine's CSV is unreadable or invalid; ``problems`` lists every one found."""


class ControlError(SimError):
    """A control command is malformed or names an unknown machine, unit or signal."""
