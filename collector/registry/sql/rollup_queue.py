"""The rollups' dirty-day queue: ``rollup_dirty``, the (enterprise, device, local day)
whose daily rollup must be recomputed.

Durable, so a refresh owed when a collector stops is done by the next one. Marking a day again
bumps its generation, so a refresh that read it before does not clear it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from collector.registry.sql.database import Connection, Database

__all__ = ["SqlRollupQueue", "mark_dirty"]


def mark_dirty(conn: Connection, days: Iterable[tuple[str, str, dt.date, str]]) -> None:
    """Mark (enterprise, device, local day, tz) dirty in the caller's write transaction."""
    # Sorted: two writers upserting the same days take their row locks in one order.
    rows = sorted((e, d, day.isoformat(), tz) for e, d, day, tz in days)
    if rows:
        conn.executemany(
            "INSERT INTO rollup_dirty (enterprise, device, day, tz) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (enterprise, device, day) DO UPDATE SET "
            "generation = rollup_dirty.generation + 1",
            rows,
        )


class SqlRollupQueue:
    """Days waiting for a rollup refresh, each with a generation."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def mark(self, days: Iterable[tuple[str, str, dt.date, str]]) -> None:
        """Record (enterprise, device, local day, tz) whose rollup must be recomputed."""
        marked = list(days)
        if not marked:
            return
        with self._db.write() as conn:
            mark_dirty(conn, marked)

    def pending(self, limit: int = 1000) -> list[tuple[str, str, dt.date, str, int]]:
        """Days waiting for a refresh: (enterprise, device, day, tz, generation)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT enterprise, device, day, tz, generation FROM rollup_dirty "
                "ORDER BY day LIMIT ?",
                (limit,),
            ).fetchall()
        return [(e, d, dt.date.fromisoformat(day), tz, g) for e, d, day, tz, g in rows]

    def clear(self, done: Iterable[tuple[str, str, dt.date, int]]) -> None:
        """Forget refreshed days, unless marked again since (their generation moved on)."""
        rows = sorted((e, d, day.isoformat(), g) for e, d, day, g in done)
        with self._db.write() as conn:
            conn.executemany(
                "DELETE FROM rollup_dirty WHERE enterprise = ? AND device = ? AND day = ? "
                "AND generation = ?",
                rows,
            )
