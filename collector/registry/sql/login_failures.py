"""Failed logins: ``login_failures``, one row per key (a client address or a token
id) with its count in the current window and its lock.

The counting rule and what a lock means are :mod:`collector.registry.throttle`'s; a failure is
counted, audited (bounded) and old rows swept in one write transaction, which holds the whole
table (:data:`TABLE_LOCK`), never one lock per key: the sweep touches other keys' rows.

The same table and counting rule hold the document uploads' rate limit (:meth:`take_upload`),
under keys that start with ``upload:`` (:data:`UPLOAD_PREFIX`): one mechanism shared by the
replicas, no schema step. Each kind of key is swept only by its own window.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

from collector.registry.core import utc_now
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Connection, Database, audit
from collector.registry.throttle import Count, FailureOutcome, ThrottleLimits, next_count

__all__ = ["SqlLoginFailures"]

log = logging.getLogger(__name__)


def _locked_until(conn: Connection, key: str, at: str) -> str | None:
    row = conn.execute(
        "SELECT locked_until FROM login_failures WHERE key = ? AND locked_until > ?", (key, at)
    ).fetchone()
    return None if row is None else str(row[0])


def _count_failure(
    conn: Connection, key: str, moment: dt.datetime, limits: ThrottleLimits
) -> Count:
    """Add one failure to ``key`` and store its count."""
    row = conn.execute(
        "SELECT window_start, failures, locked_until FROM login_failures WHERE key = ?", (key,)
    ).fetchone()
    stored = None
    if row is not None:
        until = None if row[2] is None else parse_time(str(row[2]))
        stored = Count(parse_time(str(row[0])), int(row[1]), until)
    count = next_count(stored, moment, limits)
    locked = None if count.locked_until is None else format_time(count.locked_until)
    conn.execute(
        "INSERT INTO login_failures (key, window_start, failures, locked_until) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, "
        "failures = excluded.failures, locked_until = excluded.locked_until",
        (key, format_time(count.window_start), count.failures, locked),
    )
    return count


#: What every write of the table holds (PostgreSQL: an advisory lock; SQLite's one writer
#: already is one). Not a lock per key: the sweep deletes other keys' stale rows, so a write
#: holding only its own keys' locks took row locks of keys another write held and was about to
#: count, in scan order, while that write had swept rows this one needed next: two failed
#: logins waited on each other and PostgreSQL aborted one (tests/collector/
#: test_registry_login_sweep.py). Failed logins and uploads are few; one at a time is cheap.
TABLE_LOCK = "login_failures"

#: The keys of the upload rate limit (never a login's: those start with ``addr:``,
#: ``token:``).
UPLOAD_PREFIX = "upload:"


_SWEEP = (
    "DELETE FROM login_failures WHERE {} AND window_start <= ? "
    "AND (locked_until IS NULL OR locked_until <= ?)"
)
_SWEEP_UPLOADS = _SWEEP.format("key LIKE ?")
_SWEEP_LOGINS = _SWEEP.format("key NOT LIKE ?")


def _sweep(
    conn: Connection, moment: dt.datetime, limits: ThrottleLimits, *, uploads: bool = False
) -> None:
    # A row whose window and lock have both ended says nothing any more. Each kind of key is
    # swept by its own window: a login's must not cut an upload count short, nor the reverse.
    stale = format_time(moment - dt.timedelta(seconds=limits.window_s))
    conn.execute(
        _SWEEP_UPLOADS if uploads else _SWEEP_LOGINS,
        (UPLOAD_PREFIX + "%", stale, format_time(moment)),
    )


class SqlLoginFailures:
    """Failed-login counters and locks, shared by every web replica."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def locks(
        self, keys: Sequence[str], *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]:
        """Which of ``keys`` are locked now, and until when."""
        at = format_time(now or utc_now())
        with self._db.read() as conn:
            found = {key: _locked_until(conn, key, at) for key in keys}
        return {key: parse_time(until) for key, until in found.items() if until is not None}

    def record(
        self,
        keys: Sequence[str],
        *,
        limits: ThrottleLimits,
        subject: str,
        detail: dict[str, object],
        now: dt.datetime | None = None,
    ) -> FailureOutcome:
        """Count a failed login under each key (none already locked) and audit it, bounded.

        The audit row is ``auth.failure`` while every key is under its limit, ``auth.lock``
        (once) for the failure that locks a key, and none for failures on a key already
        locked. Old rows are swept here, so the table holds only recent keys.
        """
        moment = now or utc_now()
        at = format_time(moment)
        locked: dict[str, dt.datetime] = {}
        newly: list[str] = []
        counts: dict[str, int] = {}
        with self._db.write(TABLE_LOCK) as conn:
            _sweep(conn, moment, limits)
            for key in keys:
                already = _locked_until(conn, key, at)
                if already is not None:
                    locked[key] = parse_time(already)
                    continue
                count = _count_failure(conn, key, moment, limits)
                counts[key] = count.failures
                if count.locked_until is not None:
                    locked[key] = count.locked_until
                    newly.append(key)
            audited = bool(counts) and (bool(newly) or len(locked) == 0)
            if audited:
                action = "auth.lock" if newly else "auth.failure"
                audit(
                    conn, at, "anonymous", action, subject,
                    **detail, failures=counts, locked=sorted(newly),
                    locked_until=format_time(max(locked.values())) if newly else None,
                )  # fmt: skip
        if newly:
            log.warning("login: %s locked after %d failures (%s)", newly, limits.limit, subject)
        return FailureOutcome(locked, tuple(newly), audited)

    def take_upload(
        self, limits: Mapping[str, ThrottleLimits], *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]:
        """Count one upload under each key of ``limits`` (each starting with ``upload:``, each
        with its own limit), unless one is already held back; the keys held back and until
        when (empty: the upload may go on, and was counted).

        The counting rule is the logins' (:func:`~collector.registry.throttle.next_count`):
        ``limit`` uploads within ``window_s`` hold the key for ``lockout_s``. Nothing is
        audited here: a stored document is audited when it is stored.
        """
        if not limits or any(not key.startswith(UPLOAD_PREFIX) for key in limits):
            raise ValueError(f"upload keys start with {UPLOAD_PREFIX!r}: got {list(limits)!r}")
        moment = now or utc_now()
        at = format_time(moment)
        widest = max(limits.values(), key=lambda rule: rule.window_s)
        with self._db.write(TABLE_LOCK) as conn:
            _sweep(conn, moment, widest, uploads=True)
            held = {key: _locked_until(conn, key, at) for key in limits}
            if any(until is not None for until in held.values()):
                return {key: parse_time(until) for key, until in held.items() if until}
            for key, rule in limits.items():
                _count_failure(conn, key, moment, rule)
        return {}
