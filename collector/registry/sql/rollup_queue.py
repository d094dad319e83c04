"""The rollups' dirty-day queue: ``rollup_dirty``, the (enterprise, device, local day)
whose daily rollup must be refreshed.

Durable, so a refresh owed when a collector stops is done by the next one. Marking a day again
bumps its generation, so a refresh that read it before does not clear it.

Each row also keeps ``earliest_end_ms``, the earliest window end (ms since the epoch) marked
since the day's last refresh: the minimum on conflict. A refresh whose stored row ends before
it adds only the newer windows to the row (collector/store/rollup_merge.py). NULL means not
known (rows marked before schema version 8, or a mark that did not say) and stays NULL until
the day is refreshed and cleared: any window of the day may then have been written, so the
refresh recomputes it whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from collector.registry.ports import DirtyDay, PendingDay
from collector.registry.sql.database import Connection, Database
from contract.days import day_bounds, zone

__all__ = ["SqlRollupQueue", "after_the_day_ms", "mark_dirty"]


def after_the_day_ms(day: dt.date, tz: str) -> int:
    """The mark of a day refreshed with no window written to it (a day seal arrived, to be
    checked): 1 ms after the day's end, later than any window of the day can end, so the
    refresh reads no window the stored row already holds."""
    end = day_bounds(day, zone(tz))[1]
    return int(end.timestamp()) * 1000 + 1


def mark_dirty(conn: Connection, days: Iterable[DirtyDay]) -> None:
    """Mark (enterprise, device, local day, tz, earliest end ms or None) dirty in the caller's
    write transaction."""
    # Sorted: two writers upserting the same days take their row locks in one order. One row
    # per day: a statement may not upsert the same row twice on PostgreSQL.
    earliest: dict[tuple[str, str, str, str], int | None] = {}
    for enterprise, device, day, tz, end_ms in days:
        key = (enterprise, device, day.isoformat(), tz)
        before = earliest.get(key, end_ms)
        earliest[key] = None if before is None or end_ms is None else min(before, end_ms)
    rows = sorted((*key, end_ms) for key, end_ms in earliest.items())
    if rows:
        conn.executemany(
            "INSERT INTO rollup_dirty (enterprise, device, day, tz, earliest_end_ms) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (enterprise, device, day) DO UPDATE SET "
            "generation = rollup_dirty.generation + 1, "
            # The earliest end since the last refresh; NULL (not known) wins over any end.
            "earliest_end_ms = CASE "
            "WHEN rollup_dirty.earliest_end_ms IS NULL OR excluded.earliest_end_ms IS NULL "
            "THEN NULL WHEN excluded.earliest_end_ms < rollup_dirty.earliest_end_ms "
            "THEN excluded.earliest_end_ms ELSE rollup_dirty.earliest_end_ms END",
            rows,
        )


class SqlRollupQueue:
    """Days waiting for a rollup refresh, each with a generation and its earliest end."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def mark(self, days: Iterable[DirtyDay]) -> None:
        """Record (enterprise, device, local day, tz, earliest end ms or None) whose rollup
        must be refreshed."""
        marked = list(days)
        if not marked:
            return
        with self._db.write() as conn:
            mark_dirty(conn, marked)

    def pending(self, limit: int = 1000) -> list[PendingDay]:
        """Days waiting for a refresh: (enterprise, device, day, tz, generation, earliest end
        ms or None)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT enterprise, device, day, tz, generation, earliest_end_ms "
                "FROM rollup_dirty ORDER BY day LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            (e, d, dt.date.fromisoformat(day), tz, g, None if end is None else int(end))
            for e, d, day, tz, g, end in rows
        ]

    def clear(self, done: Iterable[tuple[str, str, dt.date, int]]) -> None:
        """Forget refreshed days, unless marked again since (their generation moved on)."""
        rows = sorted((e, d, day.isoformat(), g) for e, d, day, g in done)
        with self._db.write() as conn:
            conn.executemany(
                "DELETE FROM rollup_dirty WHERE enterprise = ? AND device = ? AND day = ? "
                "AND generation = ?",
                rows,
            )
