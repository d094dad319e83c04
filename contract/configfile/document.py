"""One path for every configuration-like file: YAML with line marks, validated by a model.

The agent's configuration, the collector's, the implementation plan: each is read by
:func:`parse_document`, so every file kind reports its problems the same way, all at once, as
``file:line key.path: got X, expected Y``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from contract.configfile.issues import validation_issues
from contract.configfile.types import describe_value
from contract.configfile.yamlload import MarkedData, parse_yaml
from contract.errors import ConfigInvalidError, ConfigIssue

__all__ = ["ordered_issues", "parse_document"]

_Model = TypeVar("_Model", bound=BaseModel)


def parse_document(
    text: str,
    source: str,
    model: type[_Model],
    *,
    env: Mapping[str, str] | None,
    expected: str,
    context: dict[str, Any] | None = None,
) -> tuple[_Model, MarkedData]:
    """A YAML document validated as ``model``, with every problem named by file, line and key.

    The one path for every configuration-like file (the agent's configuration, the
    collector's, the implementation plan): YAML with line marks, ``${VAR}`` substitution from
    ``env`` (None: the process environment; {} refuses any), top-level ``x-`` keys ignored
    (shared blocks for YAML anchors, as in compose files). Raises ConfigInvalidError with all
    issues at once, in file order.
    """
    marked = parse_yaml(text, source, env)
    if not isinstance(marked.data, dict):
        given = "an empty file" if marked.data is None else describe_value(marked.data)
        raise ConfigInvalidError(
            (*marked.issues, ConfigIssue(source, 1, "", f"got {given}, expected {expected}"))
        )
    data = {key: value for key, value in marked.data.items() if not str(key).startswith("x-")}
    try:
        document = model.model_validate(data, context=context)
    except ValidationError as exc:
        issues = ordered_issues(marked.issues, validation_issues(exc, marked, source, root=model))
        raise ConfigInvalidError(issues) from None
    if marked.issues:
        raise ConfigInvalidError(ordered_issues(marked.issues, []))
    return document, marked


def ordered_issues(
    file_issues: list[ConfigIssue], model_issues: list[ConfigIssue]
) -> tuple[ConfigIssue, ...]:
    """File-level and model issues together, in file order, without a model echo of a file issue."""
    # A value broken in the file (a missing ${VAR}, a duplicate key) also fails validation;
    # the file-level message is the one that says what to fix, so the echo is dropped.
    broken = [issue.path for issue in file_issues if issue.path]
    kept = [
        issue
        for issue in model_issues
        if not any(
            issue.path == path or issue.path.startswith((f"{path}.", f"{path}[")) for path in broken
        )
    ]
    unique = dict.fromkeys([*file_issues, *kept])
    return tuple(sorted(unique, key=lambda issue: (issue.line or 0, issue.path)))
