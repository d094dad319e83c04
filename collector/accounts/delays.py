"""The growing delay after failed logins: how many failures a key has, and how long it waits.

A key is a client address, a login name, or the pair of both (the web app decides which
applies when: collector/web/login.py). Each failure adds one to the key's count; a count
whose last failure is older than ``forget_s`` starts over; a successful login clears the keys
it proves (never the login name's own count: that one is every source's).

The delay doubles with each failure past the free ones, up to a cap: ``free`` failures cost
nothing (typing mistakes), then 1 s, 2 s, 4 s ... up to ``max_s``. An attempt inside the delay
is refused without being checked, and is not counted (it was not a guess).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["DelayRule", "FailureCount", "delay_s", "next_failure"]


@dataclass(frozen=True, slots=True)
class DelayRule:
    """``free`` failures cost nothing; then ``base_s`` doubling up to ``max_s``; a count is
    forgotten ``forget_s`` after its last failure."""

    free: int = 3
    base_s: float = 1.0
    max_s: float = 300.0
    forget_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class FailureCount:
    """One key's failures and the time of the last one."""

    failures: int
    last_at: dt.datetime

    def not_before(self, rule: DelayRule) -> dt.datetime:
        """When this key may try again."""
        return self.last_at + dt.timedelta(seconds=delay_s(self.failures, rule))

    def live(self, moment: dt.datetime, rule: DelayRule) -> bool:
        """False once the count is forgotten."""
        return moment - self.last_at < dt.timedelta(seconds=rule.forget_s)


def delay_s(failures: int, rule: DelayRule) -> float:
    """The wait after ``failures`` failures, in seconds: 0 for the free ones, then doubling."""
    past_free = failures - rule.free
    if past_free <= 0:
        return 0.0
    # min() on the exponent first: 2 ** 10_000 would be a float overflow.
    return min(rule.max_s, rule.base_s * 2.0 ** min(past_free - 1, 64))


def next_failure(stored: FailureCount | None, moment: dt.datetime, rule: DelayRule) -> FailureCount:
    """The key's count after one more failure at ``moment`` (a forgotten count starts over)."""
    if stored is None or not stored.live(moment, rule):
        return FailureCount(1, moment)
    return FailureCount(stored.failures + 1, moment)
