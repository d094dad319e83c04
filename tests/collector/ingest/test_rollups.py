"""The rollup refresher lets a day being filled settle, and never waits on it past max_lag_s."""

from __future__ import annotations

import datetime as dt

import pytest

from collector.ingest.rollups import DirtyDay, RollupDebounce

DAY = dt.date(2026, 6, 1)


def marked(device: str, generation: int) -> DirtyDay:
    return ("ent-01", device, DAY, "Asia/Shanghai", generation, None)


def test_a_day_marked_once_is_refreshed_on_the_round_after_it_is_seen() -> None:
    debounce = RollupDebounce(max_lag_s=30)
    assert debounce.due([marked("press-1", 0)], now_s=0.0) == []
    assert debounce.due([marked("press-1", 0)], now_s=2.0) == [marked("press-1", 0)]


def test_a_day_that_keeps_changing_waits_until_max_lag_then_is_refreshed() -> None:
    debounce = RollupDebounce(max_lag_s=30)
    refreshed = []
    for round_no in range(40):  # a backlog: the day is marked again before every round
        now_s = 2.0 * round_no
        due = debounce.due([marked("press-1", round_no)], now_s)
        refreshed += [now_s for _ in due]
    assert refreshed == [30.0, 62.0]  # once per max_lag_s (plus the round of first sight)


def test_days_are_judged_each_on_its_own_and_forgotten_when_no_longer_marked() -> None:
    debounce = RollupDebounce(max_lag_s=30)
    debounce.due([marked("a", 0), marked("b", 0)], now_s=0.0)
    assert debounce.due([marked("a", 0), marked("b", 1)], now_s=2.0) == [marked("a", 0)]
    # "a" refreshed and cleared; marked again later it is a new sighting, and waits a round.
    assert debounce.due([marked("a", 5), marked("b", 1)], now_s=4.0) == [marked("b", 1)]
    assert debounce.due([marked("a", 5)], now_s=6.0) == [marked("a", 5)]


def test_a_nonsense_lag_is_refused() -> None:
    with pytest.raises(ValueError, match="max_lag_s"):
        RollupDebounce(max_lag_s=0)
