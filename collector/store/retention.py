"""Retention policies on InfluxDB 1.x: raw windows for years, daily rollups forever.

Pure: statements and the comparison of what exists with what is wanted. Why the figures are
what they are is in ``docs/storage.md`` (Retention).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.store.influxql import quote_identifier

__all__ = [
    "DEFAULT_RAW_RETENTION_DAYS",
    "RetentionPolicySpec",
    "create_statement",
    "duration_hours",
    "mismatches",
]

#: Raw windows are kept five years (and a few days): a baseline of up to a year before go-live,
#: the one-year implementation period, review, a rectification period and its second review,
#: and the years after in which an audit may ask for the data behind a paid subsidy.
DEFAULT_RAW_RETENTION_DAYS = 1830

_GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True, slots=True)
class RetentionPolicySpec:
    """A retention policy we want: ``days`` None keeps data forever (InfluxQL ``INF``)."""

    name: str
    days: int | None
    shard_group_days: int
    default: bool

    @property
    def duration(self) -> str:
        """The InfluxQL duration literal: ``1830d`` or ``INF``."""
        return "INF" if self.days is None else f"{self.days}d"


def create_statement(database: str, spec: RetentionPolicySpec) -> str:
    """``CREATE RETENTION POLICY`` for ``spec`` on ``database``."""
    return (
        f"CREATE RETENTION POLICY {quote_identifier(spec.name)} ON {quote_identifier(database)} "
        f"DURATION {spec.duration} REPLICATION 1 SHARD DURATION {spec.shard_group_days}d"
        + (" DEFAULT" if spec.default else "")
    )


def duration_hours(text: str) -> int:
    """Hours in a Go duration as SHOW RETENTION POLICIES prints it (``43920h0m0s``; 0s = INF)."""
    match = _GO_DURATION.fullmatch(text)
    if not match or not text:
        raise ValueError(f"unexpected retention duration {text!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours + (minutes * 60 + seconds) // 3600


def mismatches(
    wanted: Sequence[RetentionPolicySpec], existing: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Why each existing policy differs from the wanted one (duration or default), if it does."""
    problems = []
    for spec in wanted:
        have = existing.get(spec.name)
        if have is None:
            continue
        hours = duration_hours(str(have["duration"]))
        want_hours = 0 if spec.days is None else spec.days * 24
        if hours != want_hours:
            problems.append(
                f"retention policy {spec.name!r} keeps {have['duration']}, configured "
                f"{spec.duration}"
            )
        if spec.default and not have.get("default"):
            problems.append(f"retention policy {spec.name!r} is not the database's default")
    return problems
