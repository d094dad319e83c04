"""Seq records: ``agent_seqs``, ``seq_state`` and ``seq_gaps``, per agent: each seq
new, duplicate or replay, and the gaps below the highest seq.

:meth:`SqlSeqRepository.record` records a batch of seqs in one write transaction holding
each of its agents' lock (SQLite: the file's; PostgreSQL: an advisory lock per agent), so the
read-check-write of each seq is atomic across processes and hosts, and the ingest acks a batch
only once all its seqs are durable. The batch is read in three look-ups, decided in memory
(:mod:`~collector.registry.sql.seq_batch`) and written in a few batched statements: a few round
trips per batch, not several per seq.

Seqs start at 1 (docs/wire-contract.md), so the first message of an agent with seq 5 opens the
gap 1..4. A gap is a range; a seq arriving inside it shrinks or splits it, and the range that
loses its last missing seq is closed with the time that seq arrived. When each late seq came is
in ``agent_seqs.first_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar

from collector.registry.core import check_seq_items, utc_now
from collector.registry.records import SeqGap, SeqOutcome, SeqSummary, format_time, parse_time
from collector.registry.sql.database import Connection, Database
from collector.registry.sql.seq_batch import Gap, SeqBatch

__all__ = ["SqlSeqRepository"]

_T = TypeVar("_T")

_OPEN_GAPS = (
    "SELECT agent_id, count(*), sum(last_seq - first_seq + 1) FROM seq_gaps "
    "WHERE closed_at IS NULL GROUP BY agent_id"
)


#: Items (or agents) per look-up statement: two parameters each, far under SQLite's 32,766.
_CHUNK = 500


def _chunks(values: Sequence[_T]) -> list[Sequence[_T]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _marks(count: int, mark: str = "?") -> str:
    return ", ".join([mark] * count)


def _state(conn: Connection, items: Sequence[tuple[str, int, str]], at: str) -> SeqBatch:
    """What the database holds for the batch: its seqs' content, its agents' highest seq and
    open gaps (three look-ups, chunked)."""
    pairs = sorted({(agent, seq) for agent, seq, _ in items})
    agents = sorted({agent for agent, _ in pairs})
    stored: dict[tuple[str, int], str] = {}
    for chunk in _chunks(pairs):
        rows = conn.execute(
            "SELECT agent_id, seq, sha256 FROM agent_seqs WHERE (agent_id, seq) IN "  # noqa: S608 - marks only
            f"(VALUES {_marks(len(chunk), '(?, ?)')})",
            [value for pair in chunk for value in pair],
        ).fetchall()
        stored.update({(str(a), int(q)): str(sha) for a, q, sha in rows})
    highest: dict[str, int] = {}
    gaps: dict[str, list[Gap]] = {}
    for some in _chunks(agents):
        marks = _marks(len(some))
        rows = conn.execute(
            f"SELECT agent_id, highest_seq FROM seq_state WHERE agent_id IN ({marks})",  # noqa: S608 - marks only
            list(some),
        ).fetchall()
        highest.update({str(agent): int(high) for agent, high in rows})
        rows = conn.execute(
            "SELECT id, agent_id, first_seq, last_seq, opened_at FROM seq_gaps "  # noqa: S608 - marks only
            f"WHERE closed_at IS NULL AND agent_id IN ({marks}) ORDER BY id",
            list(some),
        ).fetchall()
        for gap_id, agent, first, last, opened in rows:
            gaps.setdefault(str(agent), []).append(
                Gap(int(gap_id), str(agent), int(first), int(last), str(opened))
            )
    return SeqBatch(at, stored, highest, gaps)


def _write(conn: Connection, batch: SeqBatch) -> None:
    """Store what the batch decided: a few statements, each for every row it touches."""
    if batch.new_rows:
        conn.executemany(
            "INSERT INTO agent_seqs (agent_id, seq, sha256, first_at) VALUES (?, ?, ?, ?)",
            batch.new_rows,
        )
    if batch.counters:
        conn.executemany(
            "UPDATE agent_seqs SET duplicates = duplicates + ?, replays = replays + ? "
            "WHERE agent_id = ? AND seq = ?",
            [(dup, rep, agent, seq) for (agent, seq), (dup, rep) in batch.counters.items()],
        )
    if batch.raised:
        conn.executemany(
            "INSERT INTO seq_state (agent_id, highest_seq) VALUES (?, ?) "
            "ON CONFLICT (agent_id) DO UPDATE SET highest_seq = excluded.highest_seq",
            [(agent, batch.highest[agent]) for agent in sorted(batch.raised)],
        )
    inserted, updated = batch.changed_gaps()
    if updated:
        conn.executemany(
            "UPDATE seq_gaps SET first_seq = ?, last_seq = ?, closed_at = ? WHERE id = ?",
            [(g.first_seq, g.last_seq, g.closed_at, g.gap_id) for g in updated],
        )
    if inserted:
        conn.executemany(
            "INSERT INTO seq_gaps (agent_id, first_seq, last_seq, opened_at, closed_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(g.agent_id, g.first_seq, g.last_seq, g.opened_at, g.closed_at) for g in inserted],
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
            batch = _state(conn, items, at)
            outcomes = [batch.record(agent, seq, sha) for agent, seq, sha in items]
            _write(conn, batch)
        return outcomes

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
