"""Failed logins, counted per key and locked past a limit (a :class:`Registry` mixin).

The web app counts each failed login (the form or a bearer token) under the client's address
and, when the text names a token id, under that id. ``limit`` failures of one key within
``window_s`` lock the key for ``lockout_s``. The counters live in the registry so every web
replica counts the same attempts.

What a lock means is the web app's choice (collector/web/throttle.py): a locked address is
refused without checking anything; a locked token id only turns its *wrong* attempts away, so
nobody can lock a user out by knowing a token id.

The audit log gets one row per failed attempt until a key locks, then one row for the lock,
then nothing until the lock ends: an attacker cannot flood it.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from collector.registry.core import RegistryCore, utc_now
from collector.registry.records import format_time, parse_time

__all__ = ["TABLES", "FailureOutcome", "LoginThrottleMixin", "ThrottleLimits"]

log = logging.getLogger(__name__)

TABLES = """
CREATE TABLE IF NOT EXISTS login_failures (
    key           TEXT PRIMARY KEY,
    window_start  TEXT    NOT NULL,
    failures      INTEGER NOT NULL,
    locked_until  TEXT
);
"""


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """``limit`` failures of one key within ``window_s`` lock it for ``lockout_s``."""

    limit: int
    window_s: float
    lockout_s: float


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    """After a failure: the keys now locked (key → until) and those this failure locked."""

    locked: dict[str, dt.datetime]
    newly_locked: tuple[str, ...]
    audited: bool


def _locked_until(conn: sqlite3.Connection, key: str, at: str) -> str | None:
    row = conn.execute(
        "SELECT locked_until FROM login_failures WHERE key = ? AND locked_until > ?", (key, at)
    ).fetchone()
    return None if row is None else str(row[0])


def _count_failure(
    conn: sqlite3.Connection, key: str, moment: dt.datetime, limits: ThrottleLimits
) -> tuple[int, str | None]:
    """Add one failure to ``key``; return (failures in the window, locked until or None)."""
    at = format_time(moment)
    row = conn.execute(
        "SELECT window_start, failures, locked_until FROM login_failures WHERE key = ?", (key,)
    ).fetchone()
    window_ends = moment - dt.timedelta(seconds=limits.window_s)
    fresh = (
        row is None
        or parse_time(str(row[0])) <= window_ends
        or (row[2] is not None and str(row[2]) <= at)  # a lock that ended starts over
    )
    failures = 1 if fresh else int(row[1]) + 1
    start = at if fresh else str(row[0])
    until = None
    if failures >= limits.limit:
        until = format_time(moment + dt.timedelta(seconds=limits.lockout_s))
    conn.execute(
        "INSERT INTO login_failures (key, window_start, failures, locked_until) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET window_start = excluded.window_start, "
        "failures = excluded.failures, locked_until = excluded.locked_until",
        (key, start, failures, until),
    )
    return failures, until


def _sweep(conn: sqlite3.Connection, moment: dt.datetime, limits: ThrottleLimits) -> None:
    # A row whose window and lock have both ended says nothing any more.
    stale = format_time(moment - dt.timedelta(seconds=limits.window_s))
    conn.execute(
        "DELETE FROM login_failures WHERE window_start <= ? "
        "AND (locked_until IS NULL OR locked_until <= ?)",
        (stale, format_time(moment)),
    )


class LoginThrottleMixin:
    """Failed-login counters and locks; mixed into :class:`~collector.registry.store.Registry`."""

    def login_locks(
        self: RegistryCore, keys: Sequence[str], *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]:
        """Which of ``keys`` are locked now, and until when."""
        at = format_time(now or utc_now())
        with self._read() as conn:
            found = {key: _locked_until(conn, key, at) for key in keys}
        return {key: parse_time(until) for key, until in found.items() if until is not None}

    def record_login_failure(
        self: RegistryCore,
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
        with self._write() as conn:
            _sweep(conn, moment, limits)
            for key in keys:
                already = _locked_until(conn, key, at)
                if already is not None:
                    locked[key] = parse_time(already)
                    continue
                counts[key], until = _count_failure(conn, key, moment, limits)
                if until is not None:
                    locked[key] = parse_time(until)
                    newly.append(key)
            audited = bool(counts) and (bool(newly) or len(locked) == 0)
            if audited:
                action = "auth.lock" if newly else "auth.failure"
                self._audit(
                    conn, at, "anonymous", action, subject,
                    **detail, failures=counts, locked=sorted(newly),
                    locked_until=format_time(max(locked.values())) if newly else None,
                )  # fmt: skip
        if newly:
            log.warning("login: %s locked after %d failures (%s)", newly, limits.limit, subject)
        return FailureOutcome(locked, tuple(newly), audited)
