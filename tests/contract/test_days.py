"""The local day: one rule for agent, collector and verifier (contract/days.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collector.store import rollup
from contract.days import day_bounds, day_of, zone

BERLIN = zone("Europe/Berlin")
SHANGHAI = zone("Asia/Shanghai")


def test_the_collector_store_re_exports_the_one_rule() -> None:
    assert (rollup.day_of, rollup.day_bounds, rollup.zone) == (day_of, day_bounds, zone)


def test_a_window_ending_at_midnight_is_the_last_of_the_day_before() -> None:
    midnight = datetime(2026, 11, 24, 16, tzinfo=UTC)  # 00:00 on 25 Nov in Shanghai
    assert day_of(midnight, SHANGHAI) == date(2026, 11, 24)
    assert day_of(midnight + timedelta(milliseconds=1), SHANGHAI) == date(2026, 11, 25)


@pytest.mark.parametrize(
    ("day", "hours"),
    [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)],
)
def test_daylight_saving_days_are_23_or_25_hours_long(day: date, hours: int) -> None:
    start, end = day_bounds(day, BERLIN)
    assert end - start == timedelta(hours=hours)
    assert start.tzinfo is UTC and end.tzinfo is UTC
    assert day_of(end, BERLIN) == day
    assert day_of(start, BERLIN) == day - timedelta(days=1)


def test_consecutive_days_tile_time_without_gap_or_overlap() -> None:
    day = date(2026, 3, 27)
    for _ in range(5):
        assert day_bounds(day, BERLIN)[1] == day_bounds(day + timedelta(days=1), BERLIN)[0]
        day += timedelta(days=1)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd"])
def test_an_unknown_zone_is_refused_naming_it(name: str) -> None:
    with pytest.raises(ValueError, match=f"unknown time zone {name!r}: expected an IANA name"):
        zone(name)
