"""Quarantine: ``quarantine``, every message the ingest rejects, with its reason; and
``quarantine_pruned``, what the retention deleted of it, counted.

What is kept of a message (its first bytes, clipped texts, length and hash) is decided by
:mod:`collector.registry.quarantine`; this module stores, counts, lists, exports and prunes it.

Pruning (the ``registry.quarantine_retention_days`` setting, ``registry prune-quarantine``)
deletes the entries received before a time and, in the same transaction, appends one
``quarantine_pruned`` row per (topic, agent id, reason) with how many messages went and when
they were received, and one audit row. What the evidence uses of the quarantine is its counts
per agent and reason (:meth:`SqlQuarantine.counts_for`, all time, in the bundle's integrity
section and its ``quarantined_messages`` flag): those count the pruned rows too, so a bundle
built again after a prune is the same. What goes is each message's stored bytes and texts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TextIO

from collector.registry.quarantine import claimed_agent, export_line, kept
from collector.registry.records import QuarantineEntry, format_time, parse_time
from collector.registry.sql.database import Database, audit
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


#: Pruned counts in the shape of the live rows' grouped counts (``UNION ALL`` beside them).
_PRUNED_COUNTS = "SELECT topic, agent_id, reason, sum(messages) FROM quarantine_pruned"


class SqlQuarantine:
    """Rejected messages: kept, counted per reason and per agent, listed, exported, pruned."""

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
        """Entries per reason code received at or after ``since`` (uses the index); entries
        pruned are not counted (the retention is days, this is for the last hour)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT reason, count(*) FROM quarantine WHERE received_at >= ? GROUP BY reason",
                (format_time(since),),
            ).fetchall()
        return {str(reason): int(count) for reason, count in rows}

    def counts(self) -> dict[str, int]:
        """Messages per reason code, ever: the entries, and those pruned (their counts)."""
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT reason, count(*) FROM quarantine GROUP BY reason UNION ALL "
                "SELECT reason, sum(messages) FROM quarantine_pruned GROUP BY reason"
            ).fetchall()
        counts: dict[str, int] = {}
        for reason, count in rows:
            counts[str(reason)] = counts.get(str(reason), 0) + int(count)
        return counts

    def counts_for(
        self, platform: str, enterprise: str, agent_ids: Sequence[str] = ()
    ) -> dict[str, dict[str, int]]:
        """Messages of one enterprise, ever (entries and pruned counts): agent id → reason code
        → count (see Registry)."""
        prefix = f"{wire.TOPIC_ROOT}/{platform}/{enterprise}/"
        marks = ", ".join("?" for _ in agent_ids) or "NULL"
        scope = (
            f" WHERE substr(topic, 1, ?) = ? OR agent_id IN ({marks}) "
            "GROUP BY topic, agent_id, reason"
        )
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT topic, agent_id, reason, count(*) FROM quarantine{scope} "  # noqa: S608 - marks are ?s
                f"UNION ALL {_PRUNED_COUNTS}{scope}",
                (len(prefix), prefix, *agent_ids) * 2,
            ).fetchall()
        counts: dict[str, dict[str, int]] = {}
        for topic, agent_id, reason, count in rows:
            agent = claimed_agent(str(topic), None if agent_id is None else str(agent_id), prefix)
            per_reason = counts.setdefault(agent, {})
            per_reason[str(reason)] = per_reason.get(str(reason), 0) + int(count)
        return counts

    def prune(
        self, before: dt.datetime, *, by: str, now: dt.datetime | None = None
    ) -> dict[str, int]:
        """Delete the entries received before ``before``, keeping their counts and an audit
        row (none if nothing was deleted); return the messages deleted per reason code."""
        cutoff = format_time(before)
        at = format_time(now or dt.datetime.now(dt.UTC))
        with self._db.write("quarantine:prune") as conn:
            gone = conn.execute(
                "DELETE FROM quarantine WHERE received_at < ? "
                "RETURNING topic, agent_id, reason, received_at",
                (cutoff,),
            ).fetchall()
            tallies = _tallies(gone)
            if not tallies:
                return {}
            conn.executemany(
                "INSERT INTO quarantine_pruned (pruned_at, topic, agent_id, reason, "
                "first_received_at, last_received_at, messages) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(at, *key, *tally) for key, tally in sorted(tallies.items(), key=_tally_order)],
            )
            per_reason: dict[str, int] = {}
            for (_, _, reason), (_, _, messages) in tallies.items():
                per_reason[reason] = per_reason.get(reason, 0) + messages
            audit(conn, at, by, "quarantine.prune", "quarantine", received_before=cutoff,
                  deleted=len(gone), reasons=per_reason)  # fmt: skip
        return per_reason

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


_TallyKey = tuple[str, str | None, str]


def _tallies(rows: Sequence[Sequence[object]]) -> dict[_TallyKey, tuple[str, str, int]]:
    # (topic, agent id, reason) -> (first received, last received, messages).
    tallies: dict[_TallyKey, tuple[str, str, int]] = {}
    for topic, agent_id, reason, received_at in rows:
        key = (str(topic), None if agent_id is None else str(agent_id), str(reason))
        at = str(received_at)
        first, last, count = tallies.get(key, (at, at, 0))
        tallies[key] = (min(first, at), max(last, at), count + 1)
    return tallies


def _tally_order(item: tuple[_TallyKey, tuple[str, str, int]]) -> tuple[str, str, str, str]:
    (topic, agent_id, reason), (first, _, _) = item
    return (first, topic, agent_id or "", reason)
