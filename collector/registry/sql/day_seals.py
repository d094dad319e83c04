"""Day seals: ``day_seals``, every seal an agent sent, append-only; and ``day_checks``, the
outcome of each daily row's check against its seal, upserted.

Storing a seal marks its day dirty for a rollup refresh in the same transaction, so the
refresh's check (``collector.ingest.day_checks``) follows the seal's arrival whatever happens
to the process. The records are :mod:`collector.registry.day_seals`'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from collector.registry.day_seals import (
    CHECK_OUTCOMES,
    CHECKERS,
    DayCheck,
    DaySealEntry,
    SealStored,
    differences_from_json,
    differences_json,
    latest_versions,
    merged_check,
    seal_order,
)
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Connection, Database
from collector.registry.sql.rollup_queue import after_the_day_ms, mark_dirty
from contract import wire

__all__ = ["SqlDaySeals"]

_SEAL_COLUMNS = (
    "seal_sha256, agent_id, platform, enterprise, device, day, tz, version, chain_index, "
    "prev_sha256, supersedes_sha256, seq, received_at, raw"
)
_CHECK_COLUMNS = (
    "agent_id, device, provenance, day, platform, enterprise, outcome, seal_sha256, "
    "differences, root_checked, checked_at, checked_by"
)


def _seal_entry(row: Sequence[Any]) -> DaySealEntry:  # Any: a driver's row
    (sha, agent, platform, enterprise, device, day, tz, version, index, prev, supersedes, seq,
     received_at, raw) = row  # fmt: skip
    return DaySealEntry(
        seal_sha256=str(sha),
        agent_id=str(agent),
        platform=str(platform),
        enterprise=str(enterprise),
        device=str(device),
        day=dt.date.fromisoformat(str(day)),
        tz=str(tz),
        version=int(str(version)),
        chain_index=int(str(index)),
        prev_sha256=None if prev is None else str(prev),
        supersedes_sha256=None if supersedes is None else str(supersedes),
        seq=int(str(seq)),
        received_at=parse_time(str(received_at)),
        raw=bytes(raw),  # BLOB: bytes (sqlite3) or memoryview (psycopg)
    )


def _check_entry(row: Sequence[object]) -> DayCheck:
    (agent, device, provenance, day, platform, enterprise, outcome, sha, differences, root,
     checked_at, checked_by) = row  # fmt: skip
    return DayCheck(
        agent_id=str(agent),
        device=str(device),
        provenance=str(provenance),
        day=dt.date.fromisoformat(str(day)),
        platform=str(platform),
        enterprise=str(enterprise),
        outcome=str(outcome),  # type: ignore[arg-type]  # the table's CHECK holds it to CheckOutcome
        seal_sha256=None if sha is None else str(sha),
        differences=differences_from_json(str(differences)),
        root_checked=bool(int(str(root))),
        checked_at=parse_time(str(checked_at)),
        checked_by=str(checked_by),  # type: ignore[arg-type]  # the table's CHECK holds it to Checker
    )


def _check_row(check: DayCheck) -> tuple[object, ...]:
    if check.outcome not in CHECK_OUTCOMES:
        raise ValueError(f"got outcome {check.outcome!r}, expected one of {CHECK_OUTCOMES}")
    if check.checked_by not in CHECKERS:
        raise ValueError(f"got checked_by {check.checked_by!r}, expected one of {CHECKERS}")
    if (check.outcome == "unsealed") != (check.seal_sha256 is None):
        raise ValueError("a check names its seal unless the row is unsealed")
    return (
        check.agent_id, check.device, check.provenance, check.day.isoformat(), check.platform,
        check.enterprise, check.outcome, check.seal_sha256, differences_json(check.differences),
        int(check.root_checked), format_time(check.checked_at), check.checked_by,
    )  # fmt: skip


class SqlDaySeals:
    """Day seals kept as received, their chains, and the checks of daily rows against them."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, seal: wire.DaySeal, raw: bytes, *, received_at: dt.datetime) -> SealStored:
        """Keep a verified seal and mark its day dirty, in one transaction.

        ``raw`` are the bytes ``seal`` was decoded from. Same hash again: ``duplicate``
        (nothing written, the day marked again); another seal at its (agent, device, index):
        ``conflict``, nothing written.
        """
        sha = wire.day_seal_sha256(raw)
        row = (
            sha, seal.agent, seal.platform, seal.enterprise, seal.device, seal.day.isoformat(),
            seal.tz, seal.version, seal.index, seal.prev, seal.supersedes, seal.seq,
            format_time(received_at), raw,
        )  # fmt: skip
        # One chain at a time: the check below and the insert see the same index.
        with self._db.write(f"day_seals:{seal.agent}:{seal.device}") as conn:
            held = _held_at(conn, seal.agent, seal.device, seal.index)
            if held is not None and held != sha:
                return SealStored("conflict", sha, held)
            if held is None:
                conn.execute(
                    f"INSERT INTO day_seals ({_SEAL_COLUMNS}) "  # noqa: S608 - fixed columns
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            # A seal writes no window: its day is checked, its rollup need not be recomputed.
            mark = after_the_day_ms(seal.day, seal.tz)
            mark_dirty(conn, [(seal.enterprise, seal.device, seal.day, seal.tz, mark)])
        return SealStored("new" if held is None else "duplicate", sha, sha)

    def get(self, seal_sha256: str) -> DaySealEntry | None:
        """The seal with this hash, or None."""
        with self._db.statement() as conn:
            row = conn.execute(
                f"SELECT {_SEAL_COLUMNS} FROM day_seals WHERE seal_sha256 = ?",  # noqa: S608
                (seal_sha256,),
            ).fetchone()
        return None if row is None else _seal_entry(row)

    def of_days(self, days: Iterable[tuple[str, str, dt.date]]) -> list[DaySealEntry]:
        """Every seal (all versions) of these (enterprise, device, local day), by (agent,
        device, day, version, chain index)."""
        keys = sorted({(e, d, day.isoformat()) for e, d, day in days})
        found: list[DaySealEntry] = []
        with self._db.read() as conn:
            for enterprise, device, day in keys:
                found += [
                    _seal_entry(row)
                    for row in conn.execute(
                        f"SELECT {_SEAL_COLUMNS} FROM day_seals WHERE enterprise = ? "  # noqa: S608
                        "AND device = ? AND day = ?",
                        (enterprise, device, day),
                    )
                ]
        return sorted(found, key=seal_order)

    def latest(self, enterprise: str, start_day: dt.date, end_day: dt.date) -> list[DaySealEntry]:
        """The latest version of each (agent, device, day) of an enterprise, days
        ``start_day..end_day`` inclusive, by (agent, device, day)."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_SEAL_COLUMNS} FROM day_seals WHERE enterprise = ? "  # noqa: S608
                "AND day >= ? AND day <= ?",
                (enterprise, start_day.isoformat(), end_day.isoformat()),
            ).fetchall()
        return latest_versions(_seal_entry(row) for row in rows)

    def chain(
        self, agent_id: str, device: str, *, first_index: int = 1, last_index: int | None = None
    ) -> list[DaySealEntry]:
        """The seals of one (agent, device) from ``first_index`` to ``last_index`` (None: the
        newest held), in chain order. A missing index is simply absent: the caller judges."""
        high = last_index if last_index is not None else wire.MAX_SEQ
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_SEAL_COLUMNS} FROM day_seals WHERE agent_id = ? "  # noqa: S608
                "AND device = ? AND chain_index >= ? AND chain_index <= ? ORDER BY chain_index",
                (agent_id, device, first_index, high),
            ).fetchall()
        return [_seal_entry(row) for row in rows]

    def segment(self, agent_id: str, device: str, since_day: dt.date) -> list[DaySealEntry]:
        """The chain segment a bundle from ``since_day`` carries: from the last seal of a day
        before ``since_day`` (or index 1) to the newest held, every version, in chain order."""
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT max(chain_index) FROM day_seals WHERE agent_id = ? AND device = ? "
                "AND day < ?",
                (agent_id, device, since_day.isoformat()),
            ).fetchone()
            first = 1 if found is None or found[0] is None else int(str(found[0]))
            rows = conn.execute(
                f"SELECT {_SEAL_COLUMNS} FROM day_seals WHERE agent_id = ? "  # noqa: S608
                "AND device = ? AND chain_index >= ? ORDER BY chain_index",
                (agent_id, device, first),
            ).fetchall()
        return [_seal_entry(row) for row in rows]

    def put_checks(self, checks: Sequence[DayCheck]) -> None:
        """Record the outcome of each daily row, replacing the one held, except that a
        sums-only check keeps the raw-window differences of the same seal
        (:func:`~collector.registry.day_seals.merged_check`); ValueError for a malformed
        check."""
        for check in checks:
            _check_row(check)  # every check valid before the transaction opens
        if not checks:
            return
        ordered = sorted(checks, key=lambda c: (c.agent_id, c.device, c.provenance, c.day))
        with self._db.write("day_checks") as conn:
            rows = [_check_row(merged_check(_held_check(conn, c), c)) for c in ordered]
            conn.executemany(
                f"INSERT INTO day_checks ({_CHECK_COLUMNS}) "  # noqa: S608 - fixed columns
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (agent_id, device, provenance, day) DO UPDATE SET "
                "platform = excluded.platform, enterprise = excluded.enterprise, "
                "outcome = excluded.outcome, seal_sha256 = excluded.seal_sha256, "
                "differences = excluded.differences, root_checked = excluded.root_checked, "
                "checked_at = excluded.checked_at, checked_by = excluded.checked_by",
                rows,
            )

    def checks(
        self,
        enterprise: str,
        start_day: dt.date,
        end_day: dt.date,
        *,
        outcome: str | None = None,
    ) -> list[DayCheck]:
        """The checks of an enterprise's rows, days ``start_day..end_day`` inclusive (of one
        outcome if given), by (day, device, agent, provenance)."""
        query = (
            f"SELECT {_CHECK_COLUMNS} FROM day_checks WHERE enterprise = ? "  # noqa: S608
            "AND day >= ? AND day <= ?"
        )
        params: list[object] = [enterprise, start_day.isoformat(), end_day.isoformat()]
        if outcome is not None:
            query += " AND outcome = ?"
            params.append(outcome)
        with self._db.read() as conn:
            rows = conn.execute(
                query + " ORDER BY day, device, agent_id, provenance", params
            ).fetchall()
        return [_check_entry(row) for row in rows]


def _held_check(conn: Connection, check: DayCheck) -> DayCheck | None:
    if check.root_checked:  # a full check replaces whatever is held: no read needed
        return None
    row = conn.execute(
        f"SELECT {_CHECK_COLUMNS} FROM day_checks WHERE agent_id = ? AND device = ? "  # noqa: S608
        "AND provenance = ? AND day = ?",
        (check.agent_id, check.device, check.provenance, check.day.isoformat()),
    ).fetchone()
    return None if row is None else _check_entry(row)


def _held_at(conn: Connection, agent: str, device: str, index: int) -> str | None:
    row = conn.execute(
        "SELECT seal_sha256 FROM day_seals WHERE agent_id = ? AND device = ? AND chain_index = ?",
        (agent, device, index),
    ).fetchone()
    return None if row is None else str(row[0])
