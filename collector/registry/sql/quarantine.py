"""Quarantine: ``quarantine``, every message the ingest rejects, with its reason.

What is kept of a message (its first bytes, clipped texts, length and hash) is decided by
:mod:`collector.registry.quarantine`; this module stores, counts, lists and exports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TextIO

from collector.registry.quarantine import claimed_agent, export_line, kept
from collector.registry.records import QuarantineEntry, format_time, parse_time
from collector.registry.sql.database import Database
from collector.registry.sql.filters import Clause, topic_or_agent, where
from contract import wire

__all__ = ["SqlQuarantine"]

_COLUMNS = "id, received_at, topic, reason, detail, agent_id, raw_length, raw_sha256"


def _entry(row: Sequence[object], raw: bytes = b"") -> QuarantineEntry:
    entry_id, received_at, topic, reason, detail, agent_id, raw_length, raw_sha256 = row
    return QuarantineEntry(
        id=int(str(entry_id)),
        received_at=parse_time(str(received_at)),
        topic=str(topic),
        reason=str(reason),
        detail=str(detail),
        agent_id=None if agent_id is None else str(agent_id),
        raw_length=int(str(raw_length)),
        raw_sha256=str(raw_sha256),
        raw=raw,
    )


def _reason_since(reason: str | None, since: dt.datetime | None) -> list[Clause]:
    return [
        ("reason = ?", [reason]) if reason is not None else ("", []),
        ("received_at >= ?", [format_time(since)]) if since is not None else ("", []),
    ]


class SqlQuarantine:
    """Rejected messages: kept, counted per reason and per agent, listed, exported."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(
        self,
        raw: bytes,
        topic: str,
        received_at: dt.datetime,
        reason_code: str,
        detail: str,
        agent_id: str | None = None,
    ) -> int:
        """Keep a rejected message; return its id. Raises ValueError for a bad reason code."""
        at = format_time(received_at)
        entry = kept(raw, topic=topic, reason_code=reason_code, detail=detail, agent_id=agent_id)
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO quarantine (received_at, topic, reason, detail, agent_id, raw, "
                "raw_length, raw_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    at, entry.topic, entry.reason, entry.detail, entry.agent_id, entry.raw,
                    entry.raw_length, entry.raw_sha256,
                ),
            )  # fmt: skip
            return int(cursor.fetchone()[0])

    def counts_since(self, since: dt.datetime) -> dict[str, int]:
        """Entries per reason code received at or after ``since`` (uses the index)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT reason, count(*) FROM quarantine WHERE received_at >= ? GROUP BY reason",
                (format_time(since),),
            ).fetchall()
        return {str(reason): int(count) for reason, count in rows}

    def counts(self) -> dict[str, int]:
        """Entries per reason code."""
        with self._db.read() as conn:
            rows = conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason")
            return {str(reason): int(count) for reason, count in rows.fetchall()}

    def counts_for(
        self, platform: str, enterprise: str, agent_ids: Sequence[str] = ()
    ) -> dict[str, dict[str, int]]:
        """Entries of one enterprise: agent id → reason code → count (see Registry)."""
        prefix = f"{wire.TOPIC_ROOT}/{platform}/{enterprise}/"
        marks = ", ".join("?" for _ in agent_ids) or "NULL"
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT topic, agent_id, reason, count(*) FROM quarantine "  # noqa: S608 - marks are ?s
                f"WHERE substr(topic, 1, ?) = ? OR agent_id IN ({marks}) "
                "GROUP BY topic, agent_id, reason",
                (len(prefix), prefix, *agent_ids),
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for topic, agent_id, reason, count in rows:
            agent = claimed_agent(str(topic), None if agent_id is None else str(agent_id), prefix)
            per_reason = counts.setdefault(agent, {})
            per_reason[str(reason)] = per_reason.get(str(reason), 0) + int(count)
        return counts

    def listing(
        self, *, reason: str | None = None, since: dt.datetime | None = None, limit: int = 100
    ) -> list[QuarantineEntry]:
        """Entries newest first, without their bytes."""
        clause, params = where(_reason_since(reason, since))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM quarantine{clause} ORDER BY id DESC LIMIT ?",  # noqa: S608 - literals
                (*params, limit),
            ).fetchall()
        return [_entry(row) for row in rows]

    def get(self, entry_id: int) -> QuarantineEntry | None:
        """One entry with its stored bytes, or None."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, raw FROM quarantine WHERE id = ?",  # noqa: S608 - literal
                (entry_id,),
            ).fetchone()
        return None if row is None else _entry(row[:-1], bytes(row[-1]))

    def export(
        self, out: TextIO, *, reason: str | None = None, since: dt.datetime | None = None
    ) -> int:
        """Write entries to ``out`` as JSON lines, oldest first; return how many."""
        clause, params = where(_reason_since(reason, since))
        count = 0
        with self._db.read() as conn:
            cursor = conn.execute(
                f"SELECT {_COLUMNS}, raw FROM quarantine{clause} ORDER BY id",  # noqa: S608 - literals
                params,
            )
            for row in cursor:
                out.write(export_line(_entry(row[:-1], bytes(row[-1]))) + "\n")
                count += 1
        return count

    def page(
        self,
        *,
        scope: tuple[Sequence[str], Sequence[str]] | None,
        reason: str | None = None,
        since: str | None = None,
        entry_id: int | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[QuarantineEntry], int]:
        """Entries newest first, without their bytes, within ``scope``; and how many match.

        ``scope`` is (topic prefixes, agent ids), None for every entry; ``since`` is a stored
        time text; ``entry_id`` picks one entry (see Registry.quarantine_page).
        """
        clause, params = where(
            [
                topic_or_agent(scope),
                ("reason = ?" if reason else "", [reason] if reason else []),
                ("received_at >= ?" if since else "", [since] if since else []),
                ("id = ?" if entry_id is not None else "", [] if entry_id is None else [entry_id]),
            ]
        )
        with self._db.read() as conn:
            total = int(
                conn.execute(f"SELECT count(*) FROM quarantine{clause}", params).fetchone()[0]  # noqa: S608 - built from literals
            )
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM quarantine{clause} ORDER BY id DESC LIMIT ? OFFSET ?",  # noqa: S608 - built from literals
                (*params, limit, offset),
            ).fetchall()
        return [_entry(row) for row in rows], total
