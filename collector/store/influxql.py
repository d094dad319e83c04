"""Quoting for InfluxQL text we build: identifiers, string literals, times, measurement paths."""

from __future__ import annotations

import re
from datetime import datetime

from collector.store.records import to_ms

_INTO = re.compile(r"\bINTO\b", re.IGNORECASE)

__all__ = ["is_read_only", "measurement_path", "quote_identifier", "quote_literal", "time_literal"]


def quote_identifier(name: str) -> str:
    """``"name"`` with backslashes and double quotes escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(text: str) -> str:
    """``'text'`` with backslashes and single quotes escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def time_literal(moment: datetime) -> str:
    """An absolute time as an epoch duration literal in ms (``1795593600000ms``)."""
    return f"{to_ms(moment)}ms"


def measurement_path(database: str, retention_policy: str | None, measurement: str) -> str:
    """``"db"."rp"."measurement"``; ``"db".."measurement"`` for the default retention policy."""
    rp = quote_identifier(retention_policy) if retention_policy else ""
    return f"{quote_identifier(database)}.{rp}.{quote_identifier(measurement)}"


def is_read_only(influxql: str) -> bool:
    """True if every statement is a SELECT without INTO, or a SHOW: those may go over GET."""
    statements = [s.strip() for s in influxql.split(";") if s.strip()]
    if not statements:
        return False
    for statement in statements:
        head = statement.split(None, 1)[0].upper()
        if head == "SHOW":
            continue
        if head != "SELECT" or _INTO.search(statement):
            return False
    return True
