"""The growing delay: free failures, doubling, the cap, forgetting."""

from __future__ import annotations

import datetime as dt

from collector.accounts import DelayRule, FailureCount, delay_s, next_failure

RULE = DelayRule(free=3, base_s=1.0, max_s=300.0, forget_s=3600.0)
T0 = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)


def test_free_failures_then_doubling_up_to_the_cap() -> None:
    waits = [delay_s(failures, RULE) for failures in range(0, 14)]
    assert waits[:4] == [0.0, 0.0, 0.0, 0.0]
    assert waits[4:10] == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert waits[-1] == 300.0
    assert delay_s(10**6, RULE) == 300.0


def test_counts_grow_and_are_forgotten() -> None:
    count = None
    for minute in range(5):
        count = next_failure(count, T0 + dt.timedelta(minutes=minute), RULE)
    assert count == FailureCount(5, T0 + dt.timedelta(minutes=4))
    assert count.not_before(RULE) == T0 + dt.timedelta(minutes=4, seconds=2)
    later = T0 + dt.timedelta(minutes=4, seconds=3600)
    assert not count.live(later, RULE)
    assert next_failure(count, later, RULE) == FailureCount(1, later)
