"""Turning pydantic's validation errors into ``file:line key.path: got X, expected Y`` issues."""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails, ValidationError

from contract.configfile.types import describe_value
from contract.configfile.yamlload import KeyPath, MarkedData, format_path
from contract.errors import ConfigIssue

__all__ = ["validation_issues"]

# Location parts pydantic adds that are not keys of the file: union member names and
# validator labels. Discriminator values are resolved from the models below.
_TYPE_LABELS = frozenset({"int", "str", "bool", "float", "none", "dict", "list", "tuple"})


def validation_issues(
    exc: ValidationError,
    marked: MarkedData,
    source: str,
    *,
    root: type[BaseModel],
) -> list[ConfigIssue]:
    """One issue per pydantic error, at the line and key path the error is about.

    ``root`` is the model the file was validated against (the agent's configuration unless
    another file kind, such as the collector's implementation plan, says otherwise); it names
    the known keys in "unknown key" messages.
    """
    issues = []
    for error in exc.errors():
        if _echo_of_item_errors(error):
            continue
        path = _data_path(error["loc"], marked.data, root)
        message = _message(error, root)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, str(error.get("ctx", {}).get("discriminator", "")).strip("'"))
        issues.append(ConfigIssue(source, marked.line_of(path), format_path(path), message))
    return issues


def _echo_of_item_errors(error: ErrorDetails) -> bool:
    # pydantic checks a collection's min_length after dropping the items that failed, so a list
    # with one bad device also says "too short"; the item's own error is the one that matters.
    given, minimum = error["input"], error.get("ctx", {}).get("min_length")
    return (
        error["type"] == "too_short"
        and isinstance(given, list | dict | tuple)
        and isinstance(minimum, int)
        and len(given) >= minimum
    )


def _step(current: Any, part: str | int) -> tuple[bool, Any, str | int]:
    """Follow one location part into the data: (found, child, the key as the file has it)."""
    if isinstance(current, dict):
        if part in current:
            return True, current[part], part
        for key, child in current.items():
            # pydantic writes non-string dict keys (dates, numbers) as strings in locations.
            if str(key) == str(part):
                return True, child, key if isinstance(key, str | int) else str(key)
        return False, None, part
    if isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
        return True, current[part], part
    return False, None, part


def _is_label(part: str | int, tags: frozenset[str]) -> bool:
    return isinstance(part, str) and (part in tags or part in _TYPE_LABELS or "[" in part)


def _data_path(loc: tuple[str | int, ...], data: Any, root: type[BaseModel]) -> KeyPath:
    """The key path in the file that a pydantic location points at (labels removed)."""
    tags = _discriminator_tags(root)
    path: list[str | int] = []
    current, resolving = data, True
    for index, part in enumerate(loc):
        if resolving:
            found, child, key = _step(current, part)
            if found:
                path.append(key)
                current = child
                continue
            follows = index + 1 < len(loc) and _step(current, loc[index + 1])[0]
            if follows or _is_label(part, tags):
                continue
            resolving = False
        if not _is_label(part, tags):
            path.append(part)
    return tuple(path)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``None`` from an annotation."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _union_member(annotation: Any, tag: str | int) -> Any:
    for member in get_args(annotation):
        fields = member.model_fields if _is_model(member) else {}
        if "protocol" in fields and tag in get_args(fields["protocol"].annotation):
            return member
    return None


@functools.cache
def _discriminator_tags(root: type[BaseModel]) -> frozenset[str]:
    """The tags of every tagged union in ``root``'s tree (the agent's devices, by protocol).

    A tagged union here is a union of models that each have a ``protocol`` literal, as
    :func:`_union_member` resolves them; a root without one (a plan, the collector's
    configuration) has no tags.
    """
    tags: set[str] = set()
    seen: set[type[BaseModel]] = set()
    pending: list[Any] = [root]
    while pending:
        annotation = _unwrap(pending.pop())
        if _is_model(annotation):
            if annotation not in seen:
                seen.add(annotation)
                pending.extend(field.annotation for field in annotation.model_fields.values())
            continue
        members = get_args(annotation)
        for member in members:
            if len(members) > 1 and _is_model(member) and "protocol" in member.model_fields:
                tags.update(str(t) for t in get_args(member.model_fields["protocol"].annotation))
        pending.extend(members)
    return frozenset(tags)


def _model_at(loc: tuple[str | int, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    """The configuration model found at a pydantic location, if the location ends at one."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if get_origin(current) in (typing.Union, types.UnionType):
            current = _union_member(current, part)
        elif _is_model(current):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            current = field.annotation if field is not None else None
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) in (tuple, list):
            current = get_args(current)[0]
        else:
            return None
        if current is None:
            return None
    current = _unwrap(current)
    return current if _is_model(current) else None


def _unknown_key(error: ErrorDetails, root: type[BaseModel]) -> str:
    key = str(error["loc"][-1])
    model = _model_at(error["loc"][:-1], root)
    if model is None:
        return "unknown key"
    known = [name for name in model.model_fields if name != "protocol"]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (expected one of: {', '.join(known)})"


def _got(value: Any) -> str:
    return f"got {describe_value(value)}"


def _quote_hint(value: Any) -> str:
    if isinstance(value, bool | int | float | dt.date):
        return f" (quote it: '{describe_value(value)}')"
    return ""


_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer (no fractional part)",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
    "tuple_type": "a list",
    "date_type": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_inexact": "a date YYYY-MM-DD",
    "datetime_type": "a date and time with its UTC offset, e.g. 2026-03-02T06:00:00+08:00",
    "datetime_parsing": "a date and time with its UTC offset, e.g. 2026-03-02T06:00:00+08:00",
    "datetime_from_date_parsing": "a date and time with its UTC offset",
    "timezone_aware": "a date and time with its UTC offset, e.g. 2026-03-02T06:00:00+08:00",
    "path_type": "a file path",
}


def _message(error: ErrorDetails, root: type[BaseModel]) -> str:
    kind, given, ctx = error["type"], error["input"], error.get("ctx", {})
    if kind == "config":
        return error["msg"]
    if kind == "missing":
        return "missing, this key is required"
    if kind == "extra_forbidden":
        return _unknown_key(error, root)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = ", ".join(sorted(_discriminator_tags(root)))
        tag = ctx.get("tag")
        shown = "missing" if tag is None else f"got {describe_value(tag)}"
        return f"{shown}, expected one of: {expected}"
    if kind in ("literal_error", "enum"):
        return f"{_got(given)}, expected {ctx.get('expected')}"
    if kind == "string_type":
        return f"{_got(given)}, expected a string{_quote_hint(given)}"
    if kind in ("too_short", "too_long"):
        bound = "at least" if kind == "too_short" else "at most"
        count = ctx.get("min_length", ctx.get("max_length"))
        return f"{_got(given)}, expected {bound} {count} item{'s' if count != 1 else ''}"
    if kind in ("string_too_short", "string_too_long"):
        bound = "at least" if kind == "string_too_short" else "at most"
        count = ctx.get("min_length", ctx.get("max_length"))
        return f"{_got(given)}, expected {bound} {count} character{'s' if count != 1 else ''}"
    if kind in _EXPECTED:
        return f"{_got(given)}, expected {_EXPECTED[kind]}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{_got(given)}: {message}"
