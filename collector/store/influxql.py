"""Quoting for InfluxQL text we build: identifiers, string literals, times, measurement paths."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from collector.store.errors import OutOfRange
from collector.store.records import to_ms

_INTO = re.compile(r"\bINTO\b", re.IGNORECASE)

__all__ = [
    "EARLIEST_TIME",
    "LATEST_TIME",
    "is_read_only",
    "measurement_path",
    "quote_identifier",
    "quote_literal",
    "time_literal",
]

#: InfluxDB's times are int64 nanoseconds: 1677-09-21T00:12:43Z to 2262-04-11T23:47:16Z.
#: These whole days inside that range are what a query may name.
EARLIEST_TIME = datetime(1677, 9, 22, tzinfo=UTC)
LATEST_TIME = datetime(2262, 4, 11, tzinfo=UTC)


def quote_identifier(name: str) -> str:
    """``"name"`` with backslashes and double quotes escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_literal(text: str) -> str:
    """``'text'`` with backslashes and single quotes escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def time_literal(moment: datetime) -> str:
    """An absolute time as an epoch duration literal in ms (``1795593600000ms``).

    Raises OutOfRange for a time InfluxDB cannot hold (:data:`EARLIEST_TIME` ..
    :data:`LATEST_TIME`): it would refuse the query with its own words, or misread it.
    """
    if not EARLIEST_TIME <= moment < LATEST_TIME:
        raise OutOfRange(
            f"got the time {moment.isoformat()}, expected one from {EARLIEST_TIME.date()} "
            f"to before {LATEST_TIME.date()} (what InfluxDB can hold); nothing was sent"
        )
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
