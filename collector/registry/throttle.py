"""Failed logins, counted per key and locked past a limit: the limits and the counting rule.

The web app counts each failed login (the form or a bearer token) under the client's address
and, when the text names a token id, under that id. ``limit`` failures of one key within
``window_s`` lock the key for ``lockout_s``. The counters live in the registry so every web
replica counts the same attempts.

What a lock means is the web app's choice (collector/web/throttle.py): a locked address is
refused without checking anything; a locked token id only turns its *wrong* attempts away, so
nobody can lock a user out by knowing a token id.

The audit log gets one row per failed attempt until a key locks, then one row for the lock,
then nothing until the lock ends: an attacker cannot flood it. The SQLite table is
:mod:`collector.registry.sql.login_failures`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Count", "FailureOutcome", "ThrottleLimits", "next_count"]


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


@dataclass(frozen=True, slots=True)
class Count:
    """One key's failures: since when they are counted, how many, and the lock if any."""

    window_start: dt.datetime
    failures: int
    locked_until: dt.datetime | None = None


def next_count(stored: Count | None, moment: dt.datetime, limits: ThrottleLimits) -> Count:
    """The key's count after one more failure at ``moment``.

    A count whose window ended, or whose lock ended, starts over; reaching ``limit`` locks the
    key for ``lockout_s``.
    """
    window_ends = moment - dt.timedelta(seconds=limits.window_s)
    fresh = (
        stored is None
        or stored.window_start <= window_ends
        or (stored.locked_until is not None and stored.locked_until <= moment)
    )
    failures = 1 if fresh or stored is None else stored.failures + 1
    start = moment if fresh or stored is None else stored.window_start
    until = None
    if failures >= limits.limit:
        until = moment + dt.timedelta(seconds=limits.lockout_s)
    return Count(start, failures, until)
