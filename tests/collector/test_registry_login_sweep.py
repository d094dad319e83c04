"""Two failed logins counted at once on PostgreSQL, while each sweeps the other's stale rows.

A failed login (``record_login_failure``: the token and form throttle's ``login_failures``;
``record_password_failure``: the password delays' ``login_delays``) first deletes every stale
row of its table (the sweep), then counts its own keys. Its advisory locks name only its own
keys, so the sweep takes row locks on rows of keys another login holds and is about to count:
a sweep that reaches such a row after that login swept a row this sweep needs next waits on
it, while that login waits on the row this sweep just took. PostgreSQL finds the circle after
``deadlock_timeout`` and aborts one of them: a failed login answered 503 and not counted.
(SQLite's one writer at a time cannot meet this.)

The interleaving is made certain, not hoped for: a row lock held from outside on the row both
logins need orders them (the one with the later moment sweeps first and waits there; the other
sweeps and waits to count that row), then is let go. Each login runs on its own Registry (its
own pool), as two web replicas do.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
import pytest

from collector.accounts import DelayRule
from collector.registry import Registry, ThrottleLimits
from collector.registry.records import format_time
from tests.collector.registry_backends import RegistryCluster, raw_execute, raw_rows

pytestmark = pytest.mark.timeout(120)

#: The two logins' moments: the one that sweeps first counts later (the clock it read is
#: later, its thread ran first), so a row can be stale for it and not for the other.
EARLIER = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
LATER = EARLIER + dt.timedelta(seconds=10)
#: How long a stale row has been forgotten: its window (or forget time) is this much past.
WINDOW_S = 60.0
_WAIT_S = 60.0

Record = Callable[[Registry, str, dt.datetime], object]


def _record_failure(registry: Registry, key: str, now: dt.datetime) -> object:
    limits = ThrottleLimits(limit=10, window_s=WINDOW_S, lockout_s=WINDOW_S)
    return registry.record_login_failure(
        [key], limits=limits, subject="token:t", detail={"via": "bearer"}, now=now
    )


def _record_delay(registry: Registry, key: str, now: dt.datetime) -> object:
    rule = DelayRule(free=3, base_s=1.0, max_s=60.0, forget_s=WINDOW_S)
    return registry.record_password_failure(
        [key], rule, subject="user:u", detail={"via": "password"}, now=now
    )


@dataclass(frozen=True)
class Counter:
    """A table of failed logins, the SQL that stores a row whose last moment is ``?``, and the
    registry call that counts one failure under one key."""

    table: str
    insert: str
    record: Record


COUNTERS = {
    "login_failures": Counter(
        "login_failures",
        "INSERT INTO login_failures (key, window_start, failures) VALUES (?, ?, 1)",
        _record_failure,
    ),
    "login_delays": Counter(
        "login_delays",
        "INSERT INTO login_delays (key, failures, last_at) VALUES (?, 1, ?)",
        _record_delay,
    ),
}


def _waiting_on_locks(url: str) -> int:
    rows = raw_rows(
        url,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    return int(str(rows[0][0]))


def _wait_until_waiting(url: str, count: int) -> None:
    deadline = time.monotonic() + _WAIT_S
    while _waiting_on_locks(url) < count:
        assert time.monotonic() < deadline, f"fewer than {count} sessions wait on a lock"
        time.sleep(0.02)


class _Login(threading.Thread):
    """One failed login counted in a thread; what it raised, if anything."""

    def __init__(self, counter: Counter, url: str, key: str, now: dt.datetime) -> None:
        super().__init__(daemon=True)
        self.error: Exception | None = None
        self._args = (counter, url, key, now)

    def run(self) -> None:
        counter, url, key, now = self._args
        try:
            with Registry(url) as registry:
                counter.record(registry, key, now)
        except Exception as exc:  # handed to the test, which names it
            self.error = exc


@pytest.mark.parametrize("name", sorted(COUNTERS))
def test_two_failed_logins_sweeping_each_others_rows_are_both_counted(
    name: str, registry_cluster: RegistryCluster
) -> None:
    counter = COUNTERS[name]
    url = registry_cluster.fresh()
    # addr:b: the second login's key, stale at LATER but not at EARLIER; addr:old: stale at
    # both. Inserted in that order, so a sweep's scan meets addr:b first.
    live_until_later = format_time(EARLIER - dt.timedelta(seconds=WINDOW_S - 5))
    long_stale = format_time(EARLIER - dt.timedelta(seconds=WINDOW_S * 2))
    raw_execute(url, counter.insert, params=("addr:b", live_until_later))
    raw_execute(url, counter.insert, params=("addr:old", long_stale))
    with psycopg.connect(url) as outsider:
        outsider.execute(
            f"SELECT key FROM {counter.table} WHERE key = 'addr:b' FOR UPDATE".encode()  # noqa: S608  # a name of COUNTERS
        )
        first = _Login(counter, url, "addr:a", LATER)  # sweeps addr:b: waits on the outsider
        first.start()
        _wait_until_waiting(url, 1)
        second = _Login(counter, url, "addr:b", EARLIER)  # sweeps addr:old, waits to count addr:b
        second.start()
        _wait_until_waiting(url, 2)
        outsider.rollback()
        first.join(_WAIT_S)
        second.join(_WAIT_S)
    assert (first.error, second.error) == (None, None)
    keys = {str(row[0]) for row in raw_rows(url, f"SELECT key FROM {counter.table}")}  # noqa: S608  # a name of COUNTERS
    assert keys == {"addr:a", "addr:b"}  # both counted, the stale row swept
