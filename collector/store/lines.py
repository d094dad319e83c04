"""InfluxDB line protocol encoding: pure functions, no I/O.

``measurement,tag=value field=value,... timestamp``: measurement names escape commas and
spaces; tag keys, tag values and field keys escape commas, equals signs and spaces; string
field values are double-quoted with ``"`` and ``\\`` escaped. Newlines cannot be escaped
anywhere (a newline ends the line), and a backslash in a name or tag value is ambiguous
between the 1.x and 2.x parsers, so both are refused with ValueError rather than guessed at.
Our identifiers (``contract.wire.IDENTIFIER_PATTERN``) never contain any of these characters;
the escaping is there so that nothing else can break a line either.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

from collector.store.schema import FieldKind

__all__ = [
    "FieldValue",
    "encode_line",
    "encode_series",
    "escape_key",
    "escape_measurement",
    "format_field_value",
]

FieldValue = float | int | bool | str

_MEASUREMENT_ESCAPES = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_ESCAPES = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
# int64 is the range of an InfluxDB integer field.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _refuse_unescapable(text: str, what: str) -> None:
    if not text:
        raise ValueError(f"{what} is empty: line protocol has no empty names or tag values")
    if "\n" in text or "\r" in text or "\\" in text:
        raise ValueError(f"{what} {text[:80]!r} contains a newline or backslash")


def escape_measurement(name: str) -> str:
    """Escape a measurement name; raise ValueError if it is empty or holds a newline."""
    _refuse_unescapable(name, "measurement")
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(text: str, what: str = "tag or field key") -> str:
    """Escape a tag key, tag value or field key; raise ValueError if it cannot be escaped."""
    escaped = _escaped_key(text)
    if escaped is None:
        _refuse_unescapable(text, what)  # raises, naming what is wrong
        raise ValueError(f"{what} {text[:80]!r} cannot be escaped")
    return escaped


@functools.lru_cache(maxsize=65_536)
def _escaped_key(text: str) -> str | None:
    # Field keys come from a fixed schema and tag values from a few hundred ids, yet every
    # point escapes all of them: profiled at a fifth of ingest's CPU before this cache.
    if not text or "\n" in text or "\r" in text or "\\" in text:
        return None
    return text.translate(_KEY_ESCAPES)


def format_field_value(kind: FieldKind, value: FieldValue, name: str = "field") -> str:
    """Write ``value`` as a field of ``kind``; raise ValueError if it does not fit that kind."""
    if kind is FieldKind.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: expected a number, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{name}: {number} cannot be stored (line protocol has no NaN/inf)")
        # repr is the shortest text that reads back as the same float ('1e-07', '60.0').
        return repr(number)
    if kind is FieldKind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name}: expected an integer, got {type(value).__name__}")
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{name}: {value} is outside InfluxDB's int64 range")
        return f"{value}i"
    if kind is FieldKind.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"{name}: expected a bool, got {type(value).__name__}")
        return "true" if value else "false"
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected a string, got {type(value).__name__}")
    if "\n" in value or "\r" in value:
        raise ValueError(f"{name}: string field values may not contain a newline")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, FieldValue | None],
    time_ms: int,
    kinds: Mapping[str, FieldKind],
) -> str:
    """One point as a line of line protocol with a millisecond timestamp (``precision=ms``).

    ``None`` fields are left out (line protocol has no null). Each field is written as the kind
    ``kinds`` declares for it. Raises ValueError for an undeclared field, a value that does not
    fit its kind, a point without fields, or a name that cannot be escaped.
    """
    parts = []
    for name, value in fields.items():
        if value is None:
            continue
        kind = kinds.get(name)
        if kind is None:
            raise ValueError(f"field {name!r} is not in the schema of {measurement!r}")
        parts.append(f"{escape_key(name, 'field key')}={format_field_value(kind, value, name)}")
    if not parts:
        raise ValueError(f"a {measurement!r} point needs at least one field")
    return f"{encode_series(measurement, tags)} {','.join(parts)} {time_ms}"


def encode_series(measurement: str, tags: Mapping[str, str]) -> str:
    """``measurement,tag=value,...``: a line's series key, tags sorted by key.

    Raises ValueError for a name or tag value that cannot be escaped.
    """
    tag_text = "".join(
        f",{escape_key(key, 'tag key')}={escape_key(value, f'tag {key}')}"
        for key, value in sorted(tags.items())
    )
    return escape_measurement(measurement) + tag_text
