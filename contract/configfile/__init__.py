"""Configuration-like files: YAML with line marks, validated by pydantic models, every problem
named as ``file:line key.path: got X, expected Y`` and reported all at once.

The agent's configuration, the collector's, the implementation plan and the simulator's plant
file are all read this way: :func:`read_config_text` (bounded, a regular file),
:func:`parse_document` (YAML 1.2, ``${VAR}``, the model), :func:`print_issues` (a terminal).

:func:`print_issues` is loaded on first use: it brings rich, and the agent's long-running
``run`` (which reads its configuration here) prints no issue through a terminal console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contract.configfile.document import ordered_issues, parse_document
from contract.configfile.issues import validation_issues
from contract.configfile.types import (
    Address,
    ConfigModel,
    ConfigPath,
    Hostname,
    Identifier,
    IssueList,
    Port,
    TimeOfDay,
    describe_value,
    float_range,
    int_range,
    problem,
)
from contract.configfile.yamlload import (
    KeyPath,
    MarkedData,
    format_path,
    parse_yaml,
    read_config_text,
)

if TYPE_CHECKING:
    from contract.configfile.console import print_issues


def __getattr__(name: str) -> Any:
    if name == "print_issues":
        from contract.configfile.console import print_issues

        return print_issues
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The face names types.py's exports again, as a face does: the house's (and httpx's) habit.
# pylint: disable=duplicate-code
__all__ = [
    "Address",
    "ConfigModel",
    "ConfigPath",
    "Hostname",
    "Identifier",
    "IssueList",
    "KeyPath",
    "MarkedData",
    "Port",
    "TimeOfDay",
    "describe_value",
    "float_range",
    "format_path",
    "int_range",
    "ordered_issues",
    "parse_document",
    "parse_yaml",
    "print_issues",
    "problem",
    "read_config_text",
    "validation_issues",
]
