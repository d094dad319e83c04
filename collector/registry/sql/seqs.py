"""Seq records: ``agent_seqs``, ``seq_state`` and ``seq_gaps``, per agent: each seq
new, duplicate or replay, and the gaps below the highest seq.

:meth:`SqlSeqRepository.record` records a batch of seqs in one ``BEGIN IMMEDIATE``
transaction, so the read-check-write of each seq is atomic across processes, and the ingest
acks a batch only once all its seqs are durable.

Seqs start at 1 (docs/wire-contract.md), so the first message of an agent with seq 5 opens the
gap 1..4. A gap is a range; a seq arriving inside it shrinks or splits it, and the range that
loses its last missing seq is closed with the time that seq arrived. When each late seq came is
in ``agent_seqs.first_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from collector.registry.core import check_seq_items, utc_now
from collector.registry.records import SeqGap, SeqOutcome, SeqSummary, format_time, parse_time
from collector.registry.sql.database import Connection, Database

__all__ = ["SqlSeqRepository"]

_OPEN_GAPS = (
    "SELECT agent_id, count(*), sum(last_seq - first_seq + 1) FROM seq_gaps "
    "WHERE closed_at IS NULL GROUP BY agent_id"
)


def _record(conn: Connection, agent_id: str, seq: int, sha256: str, at: str) -> SeqOutcome:
    """Record that ``seq`` arrived with content ``sha256`` at ``at``; say what it was."""
    row = conn.execute(
        "SELECT sha256 FROM agent_seqs WHERE agent_id = ? AND seq = ?", (agent_id, seq)
    ).fetchone()
    if row is not None:
        column = "duplicates" if row[0] == sha256 else "replays"
        conn.execute(
            f"UPDATE agent_seqs SET {column} = {column} + 1 WHERE agent_id = ? AND seq = ?",  # noqa: S608 - column is one of two literals
            (agent_id, seq),
        )
        return "duplicate" if row[0] == sha256 else "replay"
    conn.execute(
        "INSERT INTO agent_seqs (agent_id, seq, sha256, first_at) VALUES (?, ?, ?, ?)",
        (agent_id, seq, sha256, at),
    )
    high = _highest(conn, agent_id) or 0
    if seq > high + 1:
        conn.execute(
            "INSERT INTO seq_gaps (agent_id, first_seq, last_seq, opened_at) VALUES (?, ?, ?, ?)",
            (agent_id, high + 1, seq - 1, at),
        )
    if seq > high:
        conn.execute(
            "INSERT INTO seq_state (agent_id, highest_seq) VALUES (?, ?) "
            "ON CONFLICT (agent_id) DO UPDATE SET highest_seq = excluded.highest_seq",
            (agent_id, seq),
        )
    else:
        _fill(conn, agent_id, seq, at)
    return "new"


def _fill(conn: Connection, agent_id: str, seq: int, at: str) -> None:
    row = conn.execute(
        "SELECT id, first_seq, last_seq, opened_at FROM seq_gaps WHERE agent_id = ? "
        "AND closed_at IS NULL AND first_seq <= ? AND last_seq >= ?",
        (agent_id, seq, seq),
    ).fetchone()
    if row is None:
        return
    gap_id, first, last, opened_at = row
    if first == last:
        conn.execute("UPDATE seq_gaps SET closed_at = ? WHERE id = ?", (at, gap_id))
    elif seq == first:
        conn.execute("UPDATE seq_gaps SET first_seq = ? WHERE id = ?", (seq + 1, gap_id))
    elif seq == last:
        conn.execute("UPDATE seq_gaps SET last_seq = ? WHERE id = ?", (seq - 1, gap_id))
    else:
        conn.execute("UPDATE seq_gaps SET last_seq = ? WHERE id = ?", (seq - 1, gap_id))
        conn.execute(
            "INSERT INTO seq_gaps (agent_id, first_seq, last_seq, opened_at) VALUES (?, ?, ?, ?)",
            (agent_id, seq + 1, last, opened_at),
        )


def _highest(conn: Connection, agent_id: str) -> int | None:
    """Highest seq recorded for the agent, or None if none was."""
    row = conn.execute(
        "SELECT highest_seq FROM seq_state WHERE agent_id = ?", (agent_id,)
    ).fetchone()
    return None if row is None else int(row[0])


def _gaps(conn: Connection, agent_id: str, *, include_closed: bool) -> list[SeqGap]:
    """The agent's gaps in seq order: open ones, and closed ones too if asked."""
    where = "" if include_closed else " AND closed_at IS NULL"
    rows = conn.execute(
        "SELECT first_seq, last_seq, opened_at, closed_at FROM seq_gaps "  # noqa: S608 - literal
        f"WHERE agent_id = ?{where} ORDER BY first_seq, id",
        (agent_id,),
    ).fetchall()
    return [
        SeqGap(
            agent_id,
            first,
            last,
            parse_time(opened),
            None if closed is None else parse_time(closed),
        )
        for first, last, opened, closed in rows
    ]


class SqlSeqRepository:
    """Per-agent seq records: what each seq was, the highest, the gaps below it."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(
        self,
        items: Sequence[tuple[str, int, str]],
        *,
        received_at: dt.datetime | None = None,
    ) -> list[SeqOutcome]:
        """Record ``(agent_id, seq, sha256)`` items in one transaction, in order; say what each
        was. Raises ValueError for a seq outside 1..MAX_SEQ or a malformed sha256."""
        check_seq_items(items)
        at = format_time(received_at or utc_now())
        with self._db.write(*(f"seq:{agent}" for agent, _, _ in items)) as conn:
            return [_record(conn, agent, seq, sha, at) for agent, seq, sha in items]

    def summaries(self) -> dict[str, SeqSummary]:
        """Per agent that sent windows: highest seq, when it came, open gaps (one read).

        Index lookups only (``seq_state``, the ``agent_seqs`` primary key, ``seq_gaps_open``),
        so it stays cheap however many batches the registry holds.
        """
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT s.agent_id, s.highest_seq, a.first_at FROM seq_state s "
                "LEFT JOIN agent_seqs a ON a.agent_id = s.agent_id AND a.seq = s.highest_seq"
            ).fetchall()
            gaps = conn.execute(_OPEN_GAPS).fetchall()
        open_gaps = {str(agent): (int(count), int(missing)) for agent, count, missing in gaps}
        return {
            str(agent): SeqSummary(
                str(agent),
                int(high),
                None if at is None else parse_time(at),
                *open_gaps.get(str(agent), (0, 0)),
            )
            for agent, high, at in rows
        }

    def gaps(self, agent_id: str, *, include_closed: bool = False) -> list[SeqGap]:
        """The agent's open seq gaps (and closed ones if asked), in seq order."""
        with self._db.read() as conn:
            return _gaps(conn, agent_id, include_closed=include_closed)

    def highest(self, agent_id: str) -> int | None:
        """Highest seq recorded for the agent, or None."""
        with self._db.read() as conn:
            return _highest(conn, agent_id)

    def open_gap_counts(self) -> dict[str, tuple[int, int]]:
        """Per agent with open seq gaps: (number of gaps, seqs missing)."""
        with self._db.read() as conn:
            rows = conn.execute(_OPEN_GAPS).fetchall()
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
