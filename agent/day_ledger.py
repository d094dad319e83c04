"""The day ledger: what the agent sent of each device's local day, and the day seals it issued.

A seal commits to what was *sent*: windows leave ``pending`` when they are batched, after the
full-outbox policy may have merged or dropped some, so the agent can never re-read a day.
:func:`queue_batch` therefore runs inside :meth:`agent.outbox.Outbox.seal_batch`'s
transaction and copies the batch's records, as sent and with its seq, into ``fold_queue``;
:func:`fold_queued` later folds every queued window into its part's running figures (a
``contract.daysums.DayAccumulator``, kept as a ``day_parts`` row of 1.5 to 2 KB, with the
Merkle frontier) and deletes the queue rows, in one transaction. So a window is in the queue or
in its part, never both and never neither, whatever moment a kill comes at; and a part's state
is written once a fold, not once a batch (in a stream of batches of 20 windows of 20 devices,
every batch touched 20 parts: a 1.5 KB state written per window, docs/performance.md).
The publisher folds about once a second and when it stops, and :meth:`Outbox.seal_days` folds
in its own transaction before it decides which day is due: no day is sealed while a window
sent in it waits in the queue (:func:`waiting_reason` says ``fold`` if one ever did).

A device's day is sealed when :func:`waiting_reason` finds nothing to wait for
(docs/configuration.md, ``agent.seal_grace_s``):

- **grace**: ``now`` is at least the day's end plus ``seal_grace_s``;
- **progress**: the device's measured progress has reached the day's end, or the device has
  none (import-only history), or it is no longer configured (its day will never fill up): after
  a SIGKILL the next run first fills the gap with comm-loss windows, and the day waits for them
  instead of being sealed short;
- **pending**: no pending window of the device ends in the day (a broker outage keeps drafts
  there);
- **fold**: no window of the device that ends in the day waits in ``fold_queue``.

:func:`seal_due_days` writes each seal into ``batches`` (kind ``day_seals``) under the next seq,
with its ``day_seals`` row (version, chain index, hash), in the caller's transaction: a kill
either loses the whole seal or none of it, so an index is never issued twice with two contents.
A day that gains windows after its seal (an import into it) is marked changed and sealed again
as version + 1, ``supersedes`` naming the previous version; every seal of a device, any day or
version, is one link of its chain (``index``, ``prev``). Nothing is pruned: the parts are small
and keep a later import's re-seal correct.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from contract import days, wire
from contract.daysums import DayAccumulator, part_from

__all__ = [
    "DEFAULT_TIMEZONE",
    "LEDGER_TABLES",
    "QUEUE_TABLES",
    "DayDraft",
    "DaySealMaker",
    "DeviceSeals",
    "LedgerDay",
    "PartCache",
    "SealedDay",
    "WaitReason",
    "closed_days",
    "fold_queued",
    "ledger_report",
    "note_dropped",
    "queue_batch",
    "seal_due_days",
    "seal_every_day",
    "waiting_reason",
]

log = logging.getLogger(__name__)

#: The zone days are cut in when ``agent.timezone`` is not set: the plan's default zone, so a
#: default plant's agent and collector agree by default.
DEFAULT_TIMEZONE = "Asia/Shanghai"

#: The ledger's tables, created by the outbox's schema step 1 (``PRAGMA user_version``).
LEDGER_TABLES = (
    # One row per (device, zone, local day, provenance): the running figures of what was sent.
    # ``changed`` is 1 from a window's arrival until the day's next seal.
    """CREATE TABLE IF NOT EXISTS day_parts (
        device TEXT NOT NULL,
        tz TEXT NOT NULL,
        day TEXT NOT NULL,
        provenance TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (device, tz, day, provenance)
    )""",
    "CREATE INDEX IF NOT EXISTS day_parts_changed ON day_parts (changed, end_ms, device)",
    # Every seal issued, kept: the chain's tail and every day's latest version come from here.
    """CREATE TABLE IF NOT EXISTS day_seals (
        device TEXT NOT NULL,
        chain_index INTEGER NOT NULL,
        tz TEXT NOT NULL,
        day TEXT NOT NULL,
        version INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        sealed_ms INTEGER NOT NULL,
        PRIMARY KEY (device, chain_index),
        UNIQUE (device, tz, day, version)
    )""",
)

#: The fold queue, created by the outbox's schema step 2: the windows of each batch sent, as
#: sent, until :func:`fold_queued` folds them into their parts. Read in (seq, rowid) order: the
#: rows of one batch go in in (end, id) order, the order the ledger folds them.
QUEUE_TABLES = (
    """CREATE TABLE IF NOT EXISTS fold_queue (
        seq INTEGER NOT NULL,
        device TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        record BLOB NOT NULL
    )""",
)

#: Why a day is not sealed yet (``None`` when it is due).
WaitReason = Literal["grace", "progress", "pending", "fold"]


@dataclass(frozen=True, slots=True, order=True)
class LedgerDay:
    """One device's local day in the ledger; sorts by its end, then device."""

    end_ms: int
    device: str
    tz: str
    day: str
    start_ms: int


@dataclass(frozen=True, slots=True)
class DayDraft:
    """Everything a day seal says but its header and signature: what the signer is handed."""

    seq: int
    device: str
    day: date
    tz: str
    version: int
    supersedes: str | None
    index: int
    prev: str | None
    dropped_windows: int
    parts: tuple[wire.DaySealPart, ...]


#: ``make_day_seal(draft)``: sign and encode; the bytes are published and hashed as they are.
DaySealMaker = Callable[[DayDraft], bytes]


@dataclass(frozen=True, slots=True)
class SealedDay:
    """A seal written to ``batches``: its seq, bytes and hash, and which day and version."""

    seq: int
    raw: bytes
    sha256: str
    device: str
    day: str
    version: int
    index: int


@dataclass(frozen=True, slots=True)
class DeviceSeals:
    """One device's seals as status shows them: the newest sealed day and the days waiting."""

    newest_day: str | None
    newest_version: int | None
    #: Changed days not sealed yet, by day: what each waits for, ``due`` if for nothing.
    waiting: dict[str, WaitReason | Literal["due"]]


# --- ledgering a batch ----------------------------------------------------------------------


#: A batched window: (device, start_ms, end_ms, canonical record bytes), as ``pending`` holds it.
BatchRow = tuple[str, int, int, bytes]
PartKey = tuple[str, str, str, str]  # device, zone, day, provenance
#: In canonical JSON a quote inside a string is escaped, so this text occurs in a window's
#: record only as its own provenance member: the part is known without parsing the record.
_IMPORTED = b'"provenance":"imported"'


class PartCache:
    """The day parts as committed, kept in memory: a batch then reads no part's state back.

    Only the agent's outbox folding writes ``day_parts`` (an import writes ``pending`` only,
    ``retrofit-agent status`` only reads), so the
    cache stays true while its owner clears it whenever a transaction that ledgered a batch
    does not commit (:meth:`clear`). Bounded: past ``limit`` parts it starts again empty.
    """

    def __init__(self, limit: int = 4096) -> None:
        self._parts: dict[PartKey, DayAccumulator] = {}
        self._limit = limit

    def part(self, db: sqlite3.Connection, key: PartKey) -> DayAccumulator:
        """The committed part ``key`` (empty if it has no window yet)."""
        accumulator = self._parts.get(key)
        if accumulator is None:
            if len(self._parts) >= self._limit:
                self._parts.clear()
            accumulator = self._parts[key] = _load_part(db, key)
        return accumulator

    def clear(self) -> None:
        """Forget every part: the transaction that changed them rolled back."""
        self._parts.clear()


def queue_batch(db: sqlite3.Connection, seq: int, rows: Sequence[BatchRow]) -> None:
    """Queue the windows of batch ``seq`` for folding; call inside the batch's transaction.

    ``rows`` in the order the batch holds them ((end, id) order): the fold keeps it.
    """
    db.executemany(
        "INSERT INTO fold_queue (seq, device, start_ms, end_ms, record) VALUES (?, ?, ?, ?, ?)",
        [(seq, device, start_ms, end_ms, record) for device, start_ms, end_ms, record in rows],
    )


def fold_queued(db: sqlite3.Connection, tz_name: str, parts: PartCache | None = None) -> int:
    """Fold every queued window into its day part and empty the queue; the windows folded.

    Call inside one outbox transaction. Windows go into each part in (seq, end, start) order,
    the Merkle order. Each part a fold changed is written once. With ``parts``, the caller must
    :meth:`PartCache.clear` it if the transaction does not commit. Raises ValueError naming the
    batch, device and window if a record is not a window's canonical bytes, or if a stored
    part's state is not ours (the transaction then rolls back and the queue stays as it was).
    """
    rows = db.execute(
        "SELECT seq, device, start_ms, end_ms, record FROM fold_queue ORDER BY seq, rowid"
    ).fetchall()
    if not rows:
        return 0
    tz = days.zone(tz_name)
    cache = PartCache() if parts is None else parts
    groups: dict[PartKey, list[tuple[int, int, int, str, bytes]]] = {}
    bounds: dict[str, tuple[int, int]] = {}
    for seq, device, start_ms, end_ms, record in rows:
        day = days.day_of(_from_ms(end_ms), tz)
        day_text = day.isoformat()
        provenance = "imported" if _IMPORTED in record else "measured"
        groups.setdefault((device, tz_name, day_text, provenance), []).append(
            (seq, end_ms, start_ms, device, bytes(record))
        )
        if day_text not in bounds:
            day_start, day_end = days.day_bounds(day, tz)
            bounds[day_text] = (_ms(day_start), _ms(day_end))
    states = []
    for key, members in groups.items():
        accumulator = cache.part(db, key)
        for seq, end_ms, _start, device, record in sorted(members, key=lambda item: item[:3]):
            try:
                accumulator.add_record(record, seq)
            except ValueError as exc:
                raise ValueError(
                    f"batch seq {seq}, device {device}, window ending {_from_ms(end_ms)}: "
                    f"cannot be folded into its day: {exc}"
                ) from exc
        states.append((*key, *bounds[key[2]], accumulator.to_json()))
    db.executemany(
        "INSERT INTO day_parts (device, tz, day, provenance, start_ms, end_ms, changed, state) "
        "VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (device, tz, day, provenance) "
        "DO UPDATE SET changed = 1, state = excluded.state",
        states,
    )
    db.execute("DELETE FROM fold_queue WHERE seq <= ?", (rows[-1][0],))
    return len(rows)


def _load_part(db: sqlite3.Connection, key: PartKey) -> DayAccumulator:
    row = db.execute(
        "SELECT state FROM day_parts WHERE device = ? AND tz = ? AND day = ? AND provenance = ?",
        key,
    ).fetchone()
    return DayAccumulator() if row is None else DayAccumulator.from_json(bytes(row[0]))


def note_dropped(db: sqlite3.Connection, device: str, end_ms: int) -> None:
    """A window of ``device`` ending at ``end_ms`` was dropped: its day, if ledgered, changed."""
    db.execute(
        "UPDATE day_parts SET changed = 1 WHERE device = ? AND start_ms < ? AND end_ms >= ?",
        (device, end_ms, end_ms),
    )


# --- when a day is closed (pure) -----------------------------------------------------------


def waiting_reason(
    day: LedgerDay,
    *,
    now_ms: int,
    grace_s: int,
    progress: Mapping[str, int],
    pending: Collection[LedgerDay],
    devices: Collection[str],
    queued: Collection[LedgerDay] = (),
) -> WaitReason | None:
    """What ``day`` still waits for before its seal, or None if it is due.

    ``progress``: each device's measured progress (end of its last measured window, ms);
    ``pending``: the days that still have a pending window; ``devices``: the configured
    devices (a device no longer configured waits for no progress); ``queued``: the days that
    have a window sent but not yet folded into their part.
    """
    if now_ms < day.end_ms + grace_s * 1000:
        return "grace"
    reached = progress.get(day.device)
    if day.device in devices and reached is not None and reached < day.end_ms:
        return "progress"
    if day in pending:
        return "pending"
    if day in queued:
        return "fold"
    return None


def closed_days(
    candidates: Collection[LedgerDay],
    *,
    now_ms: int,
    grace_s: int,
    progress: Mapping[str, int],
    pending: Collection[LedgerDay],
    devices: Collection[str],
    queued: Collection[LedgerDay] = (),
) -> list[LedgerDay]:
    """The changed days that are due for a seal, oldest first (see :func:`waiting_reason`)."""
    return sorted(
        day
        for day in candidates
        if waiting_reason(
            day,
            now_ms=now_ms,
            grace_s=grace_s,
            progress=progress,
            pending=pending,
            devices=devices,
            queued=queued,
        )
        is None
    )


# --- sealing --------------------------------------------------------------------------------


def _changed_days(db: sqlite3.Connection) -> list[LedgerDay]:
    rows = db.execute(
        "SELECT DISTINCT end_ms, device, tz, day, start_ms FROM day_parts WHERE changed = 1"
    ).fetchall()
    return sorted(LedgerDay(*row) for row in rows)


def _progress(db: sqlite3.Connection) -> dict[str, int]:
    return {device: end_ms for device, end_ms in db.execute("SELECT device, end_ms FROM progress")}


def _with_pending(db: sqlite3.Connection, candidates: Sequence[LedgerDay]) -> set[LedgerDay]:
    # A pending window ends in the day: (start_ms, end_ms] holds its end. No window is longer
    # than MAX_WINDOW_S, so its start bounds a range of the (device, start_ms) index.
    longest_ms = wire.MAX_WINDOW_S * 1000
    return {
        day
        for day in candidates
        if db.execute(
            "SELECT 1 FROM pending WHERE device = ? AND start_ms >= ? AND start_ms < ? "
            "AND end_ms > ? AND end_ms <= ? LIMIT 1",
            (day.device, day.start_ms - longest_ms, day.end_ms, day.start_ms, day.end_ms),
        ).fetchone()
        is not None
    }


def _with_queued(db: sqlite3.Connection, candidates: Sequence[LedgerDay]) -> set[LedgerDay]:
    # The queue holds about a second of batches (more only after a crash): scanning it is cheap,
    # and no index slows the send path's inserts.
    return {
        day
        for day in candidates
        if db.execute(
            "SELECT 1 FROM fold_queue WHERE device = ? AND end_ms > ? AND end_ms <= ? LIMIT 1",
            (day.device, day.start_ms, day.end_ms),
        ).fetchone()
        is not None
    }


def seal_due_days(
    db: sqlite3.Connection,
    *,
    now_ms: int,
    grace_s: int,
    devices: Collection[str] | None,
    take_seq: Callable[[sqlite3.Connection], int],
    make_day_seal: DaySealMaker,
    limit: int,
) -> list[SealedDay]:
    """Seal up to ``limit`` due days, oldest first; call inside one outbox transaction.

    Call :func:`fold_queued` first in the same transaction: a day with a window still queued
    is not due (``fold``), so without the fold it would only wait.
    ``devices``: the configured devices, None for those with measured progress.
    ``take_seq(db)`` returns the next seq and advances the counter; ``make_day_seal`` signs.
    A day whose seal cannot be built (``make_day_seal`` raises ValueError) is logged and
    left changed; any other exception propagates, and rolling back the transaction leaves
    no seal and no seq consumed.
    """
    candidates = _changed_days(db)
    progress = _progress(db)
    due = closed_days(
        candidates,
        now_ms=now_ms,
        grace_s=grace_s,
        progress=progress,
        pending=_with_pending(db, candidates),
        devices=progress.keys() if devices is None else devices,
        queued=_with_queued(db, candidates),
    )
    sealed: list[SealedDay] = []
    for day in due[:limit]:
        draft = _draft(db, day, take_seq)
        try:
            raw = make_day_seal(draft)
        except ValueError as exc:
            log.error("device %s day %s: seal not built, retrying later: %s", day.device, day.day,
                      exc)  # fmt: skip
            continue
        sealed.append(_store_seal(db, day, draft, raw))
    return sealed


def seal_every_day(
    db: sqlite3.Connection,
    *,
    take_seq: Callable[[sqlite3.Connection], int],
    make_day_seal: DaySealMaker,
) -> list[SealedDay]:
    """Seal every changed day, the open one included, as it stands: a retirement's seals.

    The agent will make no window any more, so neither the grace nor a device's progress has
    anything to wait for (a far ``now``, and no device waits for progress). A day with a
    window still pending or queued is not sealed: the caller batches and folds first.
    """
    return seal_due_days(
        db,
        now_ms=_END_OF_TIME_MS,
        grace_s=0,
        devices=(),
        take_seq=take_seq,
        make_day_seal=make_day_seal,
        limit=_EVERY,
    )


#: Later than any day's end: every day has had its grace.
_END_OF_TIME_MS = 2**62
_EVERY = 2**31


def _draft(
    db: sqlite3.Connection, day: LedgerDay, take_seq: Callable[[sqlite3.Connection], int]
) -> DayDraft:
    parts = tuple(
        part_from(DayAccumulator.from_json(bytes(state)))
        for (state,) in db.execute(
            "SELECT state FROM day_parts WHERE device = ? AND tz = ? AND day = ? "
            "ORDER BY provenance",
            (day.device, day.tz, day.day),
        )
    )
    last_version = db.execute(
        "SELECT version, sha256 FROM day_seals WHERE device = ? AND tz = ? AND day = ? "
        "ORDER BY version DESC LIMIT 1",
        (day.device, day.tz, day.day),
    ).fetchone()
    last_link = db.execute(
        "SELECT chain_index, sha256 FROM day_seals WHERE device = ? "
        "ORDER BY chain_index DESC LIMIT 1",
        (day.device,),
    ).fetchone()
    dropped: int = db.execute(
        "SELECT count(*) FROM gaps WHERE device = ? AND end_ms > ? AND end_ms <= ?",
        (day.device, day.start_ms, day.end_ms),
    ).fetchone()[0]
    return DayDraft(
        seq=take_seq(db),
        device=day.device,
        day=date.fromisoformat(day.day),
        tz=day.tz,
        version=1 if last_version is None else last_version[0] + 1,
        supersedes=None if last_version is None else last_version[1],
        index=1 if last_link is None else last_link[0] + 1,
        prev=None if last_link is None else last_link[1],
        dropped_windows=dropped,
        parts=parts,
    )


def _store_seal(db: sqlite3.Connection, day: LedgerDay, draft: DayDraft, raw: bytes) -> SealedDay:
    sha256 = wire.day_seal_sha256(raw)
    sealed_ms = round(time.time() * 1000)
    db.execute(
        "INSERT INTO batches (seq, sealed_ms, records, envelope, kind) "
        "VALUES (?, ?, 0, ?, 'day_seals')",
        (draft.seq, sealed_ms, raw),
    )
    db.execute(
        "INSERT INTO day_seals (device, chain_index, tz, day, version, seq, sha256, sealed_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (day.device, draft.index, day.tz, day.day, draft.version, draft.seq, sha256, sealed_ms),
    )
    db.execute(
        "UPDATE day_parts SET changed = 0 WHERE device = ? AND tz = ? AND day = ?",
        (day.device, day.tz, day.day),
    )
    log.info("device %s day %s (%s): seal version %d, chain index %d, seq %d", day.device,
             day.day, day.tz, draft.version, draft.index, draft.seq)  # fmt: skip
    return SealedDay(
        seq=draft.seq,
        raw=raw,
        sha256=sha256,
        device=day.device,
        day=day.day,
        version=draft.version,
        index=draft.index,
    )


# --- reporting ------------------------------------------------------------------------------


def ledger_report(
    db: sqlite3.Connection, *, now_ms: int, grace_s: int, devices: Collection[str] | None
) -> dict[str, DeviceSeals]:
    """Per device in the ledger or ``devices``: its newest sealed day and the days waiting.

    ``devices``: the configured devices, None for those with measured progress. Only reads:
    ``retrofit-agent status`` calls it from another process while the agent runs, and a fold
    there would leave the agent's :class:`PartCache` behind the file. So a day none of whose
    windows is folded yet is not listed until the agent's next fold (about a second).
    """
    newest: dict[str, tuple[str, int]] = {}
    for device, day_text, version in db.execute(
        "SELECT device, day, max(version) FROM day_seals "
        "WHERE (device, day) IN (SELECT device, max(day) FROM day_seals GROUP BY device) "
        "GROUP BY device, day"
    ):
        newest[device] = (day_text, version)
    candidates = _changed_days(db)
    pending = _with_pending(db, candidates)
    queued = _with_queued(db, candidates)
    progress = _progress(db)
    devices = progress.keys() if devices is None else devices
    waiting: dict[str, dict[str, WaitReason | Literal["due"]]] = {}
    for day in candidates:
        reason = waiting_reason(
            day, now_ms=now_ms, grace_s=grace_s, progress=progress, pending=pending,
            devices=devices, queued=queued,
        )  # fmt: skip
        waiting.setdefault(day.device, {})[day.day] = reason or "due"
    return {
        device: DeviceSeals(
            newest_day=newest[device][0] if device in newest else None,
            newest_version=newest[device][1] if device in newest else None,
            waiting=waiting.get(device, {}),
        )
        for device in sorted({*devices, *newest, *waiting})
    }


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
