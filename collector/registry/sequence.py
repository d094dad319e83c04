"""Per-agent sequence bookkeeping: new, duplicate or replay, and the gaps below the highest seq.

Every function here runs inside a write transaction the caller holds (``BEGIN IMMEDIATE``), so
the read-check-write of one seq is atomic across processes.

Seqs start at 1 (docs/wire-contract.md), so the first message of an agent with seq 5 opens the
gap 1..4. A gap is a range; a seq arriving inside it shrinks or splits it, and the range that
loses its last missing seq is closed with the time that seq arrived. When each late seq came is
in ``agent_seqs.first_at``.
"""

from __future__ import annotations

import sqlite3

from collector.registry.records import SeqGap, SeqOutcome, parse_time

__all__ = ["gaps", "highest", "record"]


def record(conn: sqlite3.Connection, agent_id: str, seq: int, sha256: str, at: str) -> SeqOutcome:
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
    high = highest(conn, agent_id) or 0
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


def _fill(conn: sqlite3.Connection, agent_id: str, seq: int, at: str) -> None:
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


def highest(conn: sqlite3.Connection, agent_id: str) -> int | None:
    """Highest seq recorded for the agent, or None if none was."""
    row = conn.execute(
        "SELECT highest_seq FROM seq_state WHERE agent_id = ?", (agent_id,)
    ).fetchone()
    return None if row is None else int(row[0])


def gaps(conn: sqlite3.Connection, agent_id: str, *, include_closed: bool) -> list[SeqGap]:
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
