"""The outbox: a SQLite file that holds every closed window until the broker has it.

Windows enter as **pending** rows the moment they close. The publisher **seals** the oldest into
a signed envelope, and the seq number is assigned in that same transaction, so a seq is never
reused and survives restarts. A **batch** row (the exact envelope bytes) is deleted only after
the broker's PUBACK; after a crash the same bytes go again with the same seq, which the
collector counts as a duplicate, never as a replay. The delete rides in the next write
transaction (:meth:`Outbox.ack`): a PUBACK lost to a power cut is one such duplicate more.

Power loss: the file runs in WAL mode with ``synchronous=FULL``, so every commit is on disk
before it returns. ``NORMAL`` would be faster but, in WAL mode, can lose the last commits on
power loss; a lost seal would let the next run reuse a seq for different content (which the
collector must quarantine as a replay). A window edge costs one fsync in the stream: its store
and seal share a transaction (``add_windows(seal=...)``), which also deletes what was acked.

When full (``capacity_windows`` pending rows), the policy serves evidence best by losing
resolution before losing data: the oldest pending windows of each device are **merged** into
15-minute windows (their sums are exact, so every KPI over a day or a period is unchanged; 15
minutes divides every time zone's offset, so days stay whole). Only if merged windows fill it
too are the oldest **dropped**, each drop recorded in the ``gaps`` table, counted, and logged.

Each batch is also queued, in its transaction, for the day ledger (:mod:`agent.day_ledger`):
its windows are copied into ``fold_queue``, and :meth:`Outbox.fold_batches` folds the queue
into the device-day parts in one transaction of its own (the publisher calls it about once a
second and when it stops). :meth:`Outbox.seal_days` folds first, in its own transaction, then
writes the day seals it issues into ``batches`` as kind ``day_seals``: they take the next seq
and go out, and are resent, exactly as window batches.

Delivery confirmed (#19, :mod:`agent.delivery`): when batches are kept until the collector
confirms them stored, a PUBACKed batch is marked **awaiting confirmation** (``acked_ms``); a
signed confirmation deletes it, and one still awaiting after the timeout goes again with its
seq and bytes. The publisher bounds them: past its limit it seals no more, so windows wait as
pending rows under the full-outbox policy above.

Schema versions (``PRAGMA user_version``): 0, the first layout; 1 adds ``batches.kind`` and
the ledger's tables; 2 the fold queue; 3 ``batches.acked_ms``. An older file is migrated when
opened, in one transaction (in version 1 every batch sent is folded, so the queue starts empty;
in version 2 every batch waits for its PUBACK); a newer agent's file is refused.

Why one module of ~810 lines: the schema, its migrations and every transaction on the file
are one crash-safety contract, each read beside those it must not interleave with, under the
one lock of the connection (the day ledger's rules live in :mod:`agent.day_ledger`). The
confirmations' (#19) and retirement's (#17) transactions are the part to move out next.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from agent import day_ledger
from agent.day_ledger import DaySealMaker, DeviceSeals
from contract import wire

__all__ = [
    "SCHEMA_VERSION",
    "AddResult",
    "BatchKind",
    "EnvelopeMaker",
    "Outbox",
    "OutboxError",
    "OutboxStats",
    "Retirement",
    "SealedBatch",
    "merge_windows",
]

log = logging.getLogger(__name__)

#: Merged windows are this long: a divisor of every UTC offset in use (15 min), so a local day
#: is always a whole number of them.
COMPACT_TO_S = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    merged INTEGER NOT NULL DEFAULT 0,
    record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_by_device ON pending (device, start_ms);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    sealed_ms INTEGER NOT NULL,
    records INTEGER NOT NULL,
    envelope BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (device TEXT PRIMARY KEY, end_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS covered (
    device TEXT NOT NULL,
    provenance TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS covered_by_device ON covered (device, start_ms);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS gaps (
    device TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    reason TEXT NOT NULL
);
"""

_DELETE_BATCH = "DELETE FROM batches WHERE seq = ?"

#: The schema version this code writes (``PRAGMA user_version``) and the steps to reach it.
SCHEMA_VERSION = 3
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "ALTER TABLE batches ADD COLUMN kind TEXT NOT NULL DEFAULT 'windows'",
        *day_ledger.LEDGER_TABLES,
    ),
    day_ledger.QUEUE_TABLES,
    # When the broker acknowledged a batch kept for the collector's confirmation (#19); NULL
    # while it waits for its PUBACK. Every batch of an older file waits for its PUBACK.
    ("ALTER TABLE batches ADD COLUMN acked_ms INTEGER",),
)

#: The kinds of batch, named as their topics' last level.
BatchKind = Literal["windows", "day_seals"]


class OutboxError(Exception):
    """The outbox file cannot be opened or written (disk full, read-only, corrupt)."""


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """A signed message waiting for its PUBACK: ``seq`` and the exact bytes to publish.

    ``kind`` says which topic it goes to: an envelope of ``records`` windows, or a day seal
    (``records`` 0).
    """

    seq: int
    envelope: bytes
    records: int
    kind: BatchKind = "windows"


@dataclass(frozen=True, slots=True)
class AddResult:
    """What making room cost when windows were added, and the batch sealed with them."""

    merged: int
    dropped: int
    sealed: SealedBatch | None = None


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """The outbox as the status message and metrics report it."""

    pending_windows: int
    sealed_batches: int
    oldest_pending_end_ms: int | None
    next_seq: int
    merged_total: int
    dropped_total: int
    capacity_windows: int
    merged_pending: int = 0
    #: Of ``sealed_batches``, the day seals.
    sealed_day_seals: int = 0
    #: Windows sent and not yet folded into their day parts (the day ledger's queue).
    unfolded_windows: int = 0
    #: Of ``sealed_batches``, those the broker acknowledged, kept for the collector's
    #: confirmation that they are stored (#19).
    awaiting_confirmation: int = 0

    @property
    def full(self) -> bool:
        """True while the full-outbox policy is in effect: at capacity, or merged windows (which
        exist only because it was full) still waiting to be sent."""
        return self.pending_windows >= self.capacity_windows or self.merged_pending > 0


#: ``make_envelope(seq, records)``: sign and encode; records are stored canonical bytes.
EnvelopeMaker = Callable[[int, list[bytes]], bytes]


@dataclass(frozen=True, slots=True)
class Retirement:
    """What :meth:`Outbox.retire` did: when the agent was retired, and what it issued."""

    retired_ms: int
    batches: int
    seals: int
    #: Changed device-days left without a seal (a seal that could not be built: logged).
    unsealed_days: int


class _PendingAgain(Exception):
    """A window became pending between the last batch and the retirement (an import)."""


class Outbox:
    """One agent's outbox file, safe to share between threads.

    One SQLite connection, so a lock serialises its use: every transaction and every read
    holds it. The service also orders its outbox calls with an asyncio lock (which says when
    each may run); this lock is what keeps a caller that forgot that one (a test, an import
    beside the run) from opening a transaction inside another thread's on the same connection.
    """

    def __init__(
        self,
        path: Path,
        *,
        capacity_windows: int = 200_000,
        timezone: str = day_ledger.DEFAULT_TIMEZONE,
    ) -> None:
        if capacity_windows < 1:
            raise ValueError("capacity_windows must be at least 1")
        self.path = path
        self.capacity_windows = capacity_windows
        #: The zone the day ledger cuts days in (``agent.timezone``).
        self.timezone = timezone
        self._parts = day_ledger.PartCache()
        self._lock = threading.RLock()
        #: Seqs acknowledged (:meth:`ack`) whose rows the next write transaction deletes.
        self._acked: set[int] = set()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a transaction holds
            # the write lock from its first statement and no two writers interleave.
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from exc
        try:
            self._migrate()
        except OutboxError:
            self._db.close()
            raise

    def _migrate(self) -> None:
        """Bring an older file to :data:`SCHEMA_VERSION`, one transaction; refuse a newer one."""
        with self._transaction() as db:
            version: int = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise OutboxError(
                    f"outbox {self.path} has schema version {version}, this agent knows up to "
                    f"{SCHEMA_VERSION}: it was written by a newer agent (upgrade this one)"
                )
            for step in _MIGRATIONS[version:]:
                for statement in step:
                    db.execute(statement)
            if version < SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                log.info("outbox %s: schema %d -> %d", self.path, version, SCHEMA_VERSION)

    def close(self) -> None:
        """Delete the acknowledged batches, close the file (checkpointing the WAL)."""
        with self._lock:
            if self._acked:
                with contextlib.suppress(OutboxError), self._transaction():
                    pass  # if not (disk full), they go again next run: duplicates, not loss
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, which first deletes the batches acknowledged since the last."""
        with self._lock:
            acked, self._acked = self._acked, set()
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(_DELETE_BATCH, [(seq,) for seq in acked])
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
                acked = set()
            except sqlite3.Error as exc:
                raise OutboxError(f"outbox {self.path}: {exc}") from exc
            finally:
                self._acked |= acked  # not committed: the next transaction deletes them

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads, no other thread's statement or transaction beside them."""
        with self._lock:
            yield self._db

    # --- windows in -----------------------------------------------------------------------

    def add_windows(
        self,
        windows: Sequence[wire.KpiWindow],
        *,
        unless_retired: bool = False,
        seal: tuple[int, EnvelopeMaker] | None = None,
    ) -> AddResult:
        """Store closed windows durably (one transaction) and make room if over capacity.

        ``unless_retired`` (an import, which runs beside the agent rather than in it): raise
        OutboxError, storing nothing, if the agent was retired, checked in the transaction.
        ``seal`` (max records, envelope maker): then seal the oldest pending windows as
        :meth:`seal_batch` does, in the same transaction (one fsync for both).
        """
        with self._transaction() as db:
            if unless_retired and self._counter(db, "retired_ms", default=0):
                raise OutboxError(f"outbox {self.path}: the agent was retired (retrofit-agent "
                                  "retire): it sends nothing any more")  # fmt: skip
            for window in windows:
                db.execute(
                    "INSERT INTO pending (device, start_ms, end_ms, record) VALUES (?, ?, ?, ?)",
                    (window.device, _ms(window.start), _ms(window.end), _record_bytes(window)),
                )
                if window.provenance == "measured":
                    db.execute(
                        "INSERT INTO progress (device, end_ms) VALUES (?, ?) ON CONFLICT (device) "
                        "DO UPDATE SET end_ms = max(end_ms, excluded.end_ms)",
                        (window.device, _ms(window.end)),
                    )
                _cover(db, window)
            merged, dropped = self._make_room(db)
            sealed = None if seal is None else self._seal(db, *seal)
        if merged or dropped:
            log.warning(
                "outbox full (%d windows): merged %d windows into %d-min ones, dropped %d",
                self.capacity_windows,
                merged,
                COMPACT_TO_S // 60,
                dropped,
            )
        return AddResult(merged=merged, dropped=dropped, sealed=sealed)

    def resume_points(self) -> dict[str, float]:
        """Where each device's last *measured* window ended (seconds since the epoch).

        Imported windows do not move it: an import of last year's baseline must not make the
        agent's next run fill the time since then with comm-loss windows.
        """
        with self._reading() as db:
            rows = db.execute("SELECT device, end_ms FROM progress").fetchall()
        return {device: end_ms / 1000 for device, end_ms in rows}

    def covered(self, device: str) -> list[tuple[str, float, float]]:
        """Time ever stored for ``device``: (provenance, start, end) ranges, oldest first.

        Kept after the windows are sent, so an import can be refused where it would count
        the same time twice (with measured data or an earlier import).
        """
        with self._reading() as db:
            rows = db.execute(
                "SELECT provenance, start_ms, end_ms FROM covered WHERE device = ? "
                "ORDER BY start_ms",
                (device,),
            ).fetchall()
        return [(provenance, start / 1000, end / 1000) for provenance, start, end in rows]

    # --- making room ----------------------------------------------------------------------

    def _pending_count(self, db: sqlite3.Connection) -> int:
        count: int = db.execute("SELECT count(*) FROM pending").fetchone()[0]
        return count

    def _make_room(self, db: sqlite3.Connection) -> tuple[int, int]:
        excess = self._pending_count(db) - self.capacity_windows
        if excess <= 0:
            return 0, 0
        merged = self._merge_oldest(db, excess)
        excess = self._pending_count(db) - self.capacity_windows
        dropped = self._drop_oldest(db, excess) if excess > 0 else 0
        return merged, dropped

    def _merge_oldest(self, db: sqlite3.Connection, excess: int) -> int:
        """Merge windows block by block, oldest block first, until ``excess`` rows are freed.

        A block is one device's 15 minutes; a block already merged to one row frees nothing
        and is passed over, and a merged row takes in later windows of its block (merging is
        exact however often it happens). Only the rows of the blocks visited are read.
        """
        block_ms = COMPACT_TO_S * 1000
        freed = 0
        row = db.execute("SELECT min(start_ms) FROM pending").fetchone()
        block = None if row[0] is None else row[0] // block_ms
        while block is not None and freed < excess:
            rows = db.execute(
                "SELECT id, device, record FROM pending WHERE start_ms >= ? AND start_ms < ? "
                "ORDER BY start_ms, id",
                (block * block_ms, (block + 1) * block_ms),
            ).fetchall()
            by_device: dict[str, list[tuple[int, bytes]]] = {}
            for row_id, device, record in rows:
                by_device.setdefault(device, []).append((row_id, record))
            for members in by_device.values():
                if len(members) > 1 and freed < excess:
                    freed += self._merge_group(
                        db, [(row_id, _window_from(record)) for row_id, record in members]
                    )
            following = db.execute(
                "SELECT min(start_ms) FROM pending WHERE start_ms >= ?", ((block + 1) * block_ms,)
            ).fetchone()[0]
            block = None if following is None else following // block_ms
        self._bump(db, "merged_total", freed)
        return freed

    def _merge_group(self, db: sqlite3.Connection, group: list[tuple[int, wire.KpiWindow]]) -> int:
        freed = 0
        for run in _contiguous_runs(group):
            if len(run) < 2:
                continue
            merged = merge_windows([window for _, window in run])
            ids = [row_id for row_id, _ in run]
            db.execute(
                "UPDATE pending SET start_ms = ?, end_ms = ?, merged = 1, record = ? WHERE id = ?",
                (_ms(merged.start), _ms(merged.end), _record_bytes(merged), ids[0]),
            )
            db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids[1:]])
            freed += len(ids) - 1
        return freed

    def _drop_oldest(self, db: sqlite3.Connection, excess: int) -> int:
        victims = db.execute(
            "SELECT id, device, start_ms, end_ms FROM pending ORDER BY start_ms, id LIMIT ?",
            (excess,),
        ).fetchall()
        for row_id, device, start_ms, end_ms in victims:
            db.execute("DELETE FROM pending WHERE id = ?", (row_id,))
            day_ledger.note_dropped(db, device, end_ms)
            db.execute(
                "INSERT INTO gaps (device, start_ms, end_ms, reason) VALUES (?, ?, ?, ?)",
                (device, start_ms, end_ms, "outbox full"),
            )
        self._bump(db, "dropped_total", len(victims))
        return len(victims)

    # --- batches out ----------------------------------------------------------------------

    def seal_batch(self, max_records: int, make_envelope: EnvelopeMaker) -> SealedBatch | None:
        """Seal the oldest pending windows into the next envelope; None if nothing is pending.

        ``make_envelope(seq, records)`` signs and encodes; it runs inside the transaction, so
        the seq, the batch, the removal of its windows and their place in the day ledger's
        queue are stored together or not at all. No transaction (no fsync) if none is pending.
        """
        with self._lock:
            if self._db.execute("SELECT 1 FROM pending LIMIT 1").fetchone() is None:
                return None
            with self._transaction() as db:
                return self._seal(db, max_records, make_envelope)

    def _seal(
        self, db: sqlite3.Connection, max_records: int, make_envelope: EnvelopeMaker
    ) -> SealedBatch | None:
        rows = db.execute(
            "SELECT id, device, start_ms, end_ms, record FROM pending ORDER BY end_ms, id LIMIT ?",
            (max_records,),
        ).fetchall()
        if not rows:
            return None
        seq = self._counter(db, "next_seq", default=1)
        # The records go as stored: canonical bytes written when each window closed.
        batched = [(device, start, end, bytes(record)) for _, device, start, end, record in rows]
        envelope = make_envelope(seq, [record for *_, record in batched])
        day_ledger.queue_batch(db, seq, batched)
        db.execute(
            "INSERT INTO batches (seq, sealed_ms, records, envelope) VALUES (?, ?, ?, ?)",
            (seq, round(time.time() * 1000), len(rows), envelope),
        )
        db.executemany("DELETE FROM pending WHERE id = ?", [(row[0],) for row in rows])
        self._set(db, "next_seq", seq + 1)
        return SealedBatch(seq=seq, envelope=envelope, records=len(rows))

    def fold_batches(self) -> int:
        """Fold the batches sent since the last fold into their day parts; the windows folded.

        One transaction: the queue's rows and the parts' new state commit together, so a
        window is folded exactly once whatever moment a kill comes at. Raises OutboxError if
        the file cannot be written, ValueError naming the batch and window if a queued record
        cannot be folded (nothing is then folded, and no day is sealed until it is resolved).
        """
        try:
            with self._transaction() as db:
                return day_ledger.fold_queued(db, self.timezone, self._parts)
        except BaseException:
            self._parts.clear()  # it may hold folded windows that did not commit
            raise

    def seal_days(
        self,
        *,
        now: float,
        grace_s: int,
        devices: Collection[str] | None,
        make_day_seal: DaySealMaker,
        limit: int = 8,
    ) -> list[SealedBatch]:
        """Seal up to ``limit`` device-days that are due (:mod:`agent.day_ledger`), oldest first.

        ``now`` is the agent's clock (s since the epoch); ``devices`` the configured ones
        (None: those with measured progress).
        Each seal takes the next seq and is stored as a batch of kind ``day_seals`` in the
        same transaction as its ledger row. The queue is folded first, in the same transaction,
        so the days are judged on every window sent. Raises as :meth:`fold_batches`.
        """
        try:
            with self._transaction() as db:
                day_ledger.fold_queued(db, self.timezone, self._parts)
                sealed = day_ledger.seal_due_days(
                    db,
                    now_ms=round(now * 1000),
                    grace_s=grace_s,
                    devices=devices,
                    take_seq=self._take_seq,
                    make_day_seal=make_day_seal,
                    limit=limit,
                )
        except BaseException:
            self._parts.clear()  # the fold's parts in memory did not commit
            raise
        return [SealedBatch(seq=s.seq, envelope=s.raw, records=0, kind="day_seals") for s in sealed]

    def day_seals(
        self, *, now: float, grace_s: int, devices: Collection[str] | None
    ) -> dict[str, DeviceSeals]:
        """Per device: the newest sealed day and the days waiting (status and health)."""
        with self._reading() as db:
            return day_ledger.ledger_report(
                db, now_ms=round(now * 1000), grace_s=grace_s, devices=devices
            )

    def _take_seq(self, db: sqlite3.Connection) -> int:
        seq = self._counter(db, "next_seq", default=1)
        self._set(db, "next_seq", seq + 1)
        return seq

    def unacked(self) -> list[SealedBatch]:
        """Sealed batches still waiting for a PUBACK, in seq order (resent after a restart)."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT seq, envelope, records, kind FROM batches WHERE acked_ms IS NULL "
                "AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq",  # acked: ack()
                (json.dumps(sorted(self._acked)),),
            ).fetchall()
        return [_sealed(*row) for row in rows]

    def ack(self, seq: int) -> None:
        """The broker has the batch: forget it. Its row goes in the next write transaction
        (the next store, seal or fold, or :meth:`close`), not in one of its own: an fsync less
        an edge. A power cut before then sends it again, same seq and bytes (a duplicate)."""
        with self._lock:
            self._acked.add(seq)

    # --- delivery confirmed (#19) ---------------------------------------------------------

    def await_confirmation(self, seq: int, acked_ms: int) -> None:
        """The broker has the batch: keep it, awaiting the collector's confirmation, from
        ``acked_ms`` (ms since the epoch; a re-send's PUBACK starts its wait again)."""
        with self._transaction() as db:
            db.execute("UPDATE batches SET acked_ms = ? WHERE seq = ?", (acked_ms, seq))

    def confirm(self, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """The collector has stored, or refused for good, these ``(first, last)`` seq ranges:
        forget their batches, awaiting or not, in one transaction. Returns how many batches
        each range let go, in the ranges' order."""
        with self._transaction() as db:
            return [
                db.execute("DELETE FROM batches WHERE seq BETWEEN ? AND ?", bounds).rowcount
                for bounds in ranges
            ]

    def unconfirmed(self, acked_before_ms: int, limit: int) -> list[SealedBatch]:
        """Up to ``limit`` batches acknowledged by the broker before ``acked_before_ms`` and
        still not confirmed stored, oldest seq first: to be sent again."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT seq, envelope, records, kind FROM batches "
                "WHERE acked_ms IS NOT NULL AND acked_ms < ? ORDER BY seq LIMIT ?",
                (acked_before_ms, limit),
            ).fetchall()
        return [_sealed(*row) for row in rows]

    def forget_awaiting(self) -> int:
        """Forget every batch the broker acknowledged (confirmations turned off: a PUBACK is
        enough again); returns how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM batches WHERE acked_ms IS NOT NULL").rowcount

    def awaiting_confirmation(self) -> int:
        """Batches acknowledged by the broker and not yet confirmed stored."""
        with self._reading() as db:
            count: int = db.execute(
                "SELECT count(*) FROM batches WHERE acked_ms IS NOT NULL"
            ).fetchone()[0]
        return count

    def flag(self, name: str) -> bool:
        """A flag kept in the file's counters (0 or absent: False)."""
        with self._reading() as db:
            return bool(self._counter(db, name))

    def set_flag(self, name: str) -> None:
        """Set a flag in the file's counters, durably."""
        with self._transaction() as db:
            self._set(db, name, 1)

    # --- retiring -------------------------------------------------------------------------

    def retired_ms(self) -> int | None:
        """When ``retrofit-agent retire`` retired this agent (ms since the epoch), or None."""
        with self._reading() as db:
            row = db.execute("SELECT value FROM counters WHERE name = 'retired_ms'").fetchone()
        return None if row is None else int(row[0])

    def retire(
        self,
        *,
        now: float,
        batch_records: int,
        make_envelope: EnvelopeMaker,
        make_day_seal: DaySealMaker,
    ) -> Retirement:
        """Batch every pending window, seal every changed day (the open one included) and
        record the retirement; the caller then sends what the outbox holds.

        The seals and the retirement commit in one transaction, so a kill leaves either both or
        neither; called again (to send what is left), it issues only what changed since and
        keeps the first retirement's time. Raises OutboxError if the file cannot be written or
        windows keep arriving (an import running beside it).
        """
        batches = 0
        for _attempt in range(3):
            while self.seal_batch(batch_records, make_envelope) is not None:
                batches += 1
            try:
                with self._transaction() as db:
                    if self._pending_count(db):
                        raise _PendingAgain
                    day_ledger.fold_queued(db, self.timezone, self._parts)
                    sealed = day_ledger.seal_every_day(
                        db, take_seq=self._take_seq, make_day_seal=make_day_seal
                    )
                    retired_ms = self._counter(db, "retired_ms", default=round(now * 1000))
                    self._set(db, "retired_ms", retired_ms)
                    unsealed: int = db.execute(
                        "SELECT count(*) FROM (SELECT DISTINCT device, day FROM day_parts "
                        "WHERE changed = 1)"
                    ).fetchone()[0]
            except _PendingAgain:
                continue
            except BaseException:
                self._parts.clear()  # the fold's parts in memory did not commit
                raise
            log.info("outbox %s: agent retired; %d batches and %d day seals issued", self.path,
                     batches, len(sealed))  # fmt: skip
            return Retirement(retired_ms, batches, len(sealed), unsealed)
        raise OutboxError(
            f"outbox {self.path}: windows keep arriving while retiring (an import running?)"
        )

    # --- reporting ------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        """Depths and totals for status messages, metrics and ``retrofit-agent status``."""
        with self._reading() as db:
            pending, oldest, merged = db.execute(
                "SELECT count(*), min(end_ms), coalesce(sum(merged), 0) FROM pending"
            ).fetchone()
            sealed, day_seals, awaiting = db.execute(
                "SELECT count(*), coalesce(sum(kind = 'day_seals'), 0), count(acked_ms) "
                "FROM batches WHERE seq NOT IN (SELECT value FROM json_each(?))",  # see ack()
                (json.dumps(sorted(self._acked)),),
            ).fetchone()
            unfolded: int = db.execute("SELECT count(*) FROM fold_queue").fetchone()[0]
            return OutboxStats(
                pending_windows=pending,
                sealed_batches=sealed,
                oldest_pending_end_ms=oldest,
                next_seq=self._counter(db, "next_seq", default=1),
                merged_total=self._counter(db, "merged_total"),
                dropped_total=self._counter(db, "dropped_total"),
                capacity_windows=self.capacity_windows,
                merged_pending=merged,
                sealed_day_seals=day_seals,
                unfolded_windows=unfolded,
                awaiting_confirmation=awaiting,
            )

    def gaps(self) -> list[tuple[str, float, float, str]]:
        """Windows dropped when full: (device, start, end, reason), oldest first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT device, start_ms, end_ms, reason FROM gaps ORDER BY start_ms"
            ).fetchall()
        return [(d, s / 1000, e / 1000, r) for d, s, e, r in rows]

    # --- counters -------------------------------------------------------------------------

    @staticmethod
    def _counter(db: sqlite3.Connection, name: str, default: int = 0) -> int:
        row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return default if row is None else int(row[0])

    @staticmethod
    def _set(db: sqlite3.Connection, name: str, value: int) -> None:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def _bump(self, db: sqlite3.Connection, name: str, by: int) -> None:
        if by:
            self._set(db, name, self._counter(db, name) + by)


def _cover(db: sqlite3.Connection, window: wire.KpiWindow) -> None:
    """Add a window's time to its device's covered ranges, joining ranges that touch."""
    start, end = _ms(window.start), _ms(window.end)
    touching = db.execute(
        "SELECT rowid, start_ms, end_ms FROM covered WHERE device = ? AND provenance = ? "
        "AND start_ms <= ? AND end_ms >= ?",
        (window.device, window.provenance, end, start),
    ).fetchall()
    for rowid, low, high in touching:
        start, end = min(start, low), max(end, high)
        db.execute("DELETE FROM covered WHERE rowid = ?", (rowid,))
    db.execute(
        "INSERT INTO covered (device, provenance, start_ms, end_ms) VALUES (?, ?, ?, ?)",
        (window.device, window.provenance, start, end),
    )


# --- merging ------------------------------------------------------------------------------


def _mergeable(left: wire.KpiWindow, right: wire.KpiWindow) -> bool:
    return (
        left.end == right.start
        and left.device == right.device
        and left.provenance == right.provenance
        and left.config_digest == right.config_digest
        and left.ideal_cycle_s == right.ideal_cycle_s
    )


def _contiguous_runs(
    group: list[tuple[int, wire.KpiWindow]],
) -> list[list[tuple[int, wire.KpiWindow]]]:
    runs: list[list[tuple[int, wire.KpiWindow]]] = []
    for item in sorted(group, key=lambda pair: pair[1].start):
        if runs and _mergeable(runs[-1][-1][1], item[1]):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def merge_windows(windows: Sequence[wire.KpiWindow]) -> wire.KpiWindow:
    """One window whose base quantities are the sums of contiguous windows of one device.

    Raises ValueError if the windows are not contiguous or differ in device, provenance,
    configuration or ideal cycle time (sums across those would not mean one thing).
    """
    first = windows[0]
    for left, right in itertools.pairwise(windows):
        if not _mergeable(left, right):
            raise ValueError(f"windows of {first.device} at {right.start} cannot be merged")
    fields = first.model_dump()
    for name in wire.SUMMED_FIELDS:
        values = [getattr(w, name) for w in windows]
        fields[name] = None if values[0] is None else sum(v or 0 for v in values)
    for name in wire.DataQuality.model_fields:
        fields["quality"][name] = sum(getattr(w.quality, name) for w in windows)
    fields["end"] = windows[-1].end
    fields["partial"] = any(w.partial for w in windows)
    return wire.KpiWindow.model_validate(fields)


# --- encoding -----------------------------------------------------------------------------


def _sealed(seq: int, envelope: bytes, records: int, kind: str) -> SealedBatch:
    """A ``batches`` row (seq, envelope, records, kind) as the publisher sends it."""
    if kind not in ("windows", "day_seals"):
        raise OutboxError(f"batch of unknown kind {kind!r} in the outbox")
    return SealedBatch(seq, envelope, records, "windows" if kind == "windows" else "day_seals")


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _record_bytes(window: wire.KpiWindow) -> bytes:
    return wire.canonical_bytes(window.model_dump(mode="json"))


def _window_from(record: bytes) -> wire.KpiWindow:
    return wire.KpiWindow.model_validate(json.loads(record))
