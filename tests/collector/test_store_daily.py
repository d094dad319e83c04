"""Daily rollups against a real influxd: equal to the raw sums, local days, late windows."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest

from collector.store import DailyRow, DayKey, InfluxStore, WindowRecord, affected_days
from collector.store.records import window_line
from collector.store.schema import OPTIONAL_QUANTITIES, SUMMABLE_FIELDS
from contract import wire
from stack import InfluxServer
from tests.collector.store_helpers import open_store, quality, record, window

T = TypeVar("T")

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

# 2026-10-30 00:00 UTC: three days around New York's clock change (2026-11-01 06:00 UTC).
T0 = datetime(2026, 10, 30, 0, 0, tzinfo=UTC)
ZONES = {"ent-sh": "Asia/Shanghai", "ent-ny": "America/New_York", "ent-utc": "UTC"}
SHANGHAI_OFFSET = timedelta(hours=8)


def _expected_day(enterprise: str, end: datetime) -> date:
    """The local day by hand-written offsets, not zoneinfo: (end + offset - 1 ms).date()."""
    if enterprise == "ent-sh":
        offset = SHANGHAI_OFFSET
    elif enterprise == "ent-ny":
        offset = timedelta(hours=-4 if end <= datetime(2026, 11, 1, 6, tzinfo=UTC) else -5)
    else:
        offset = timedelta(0)
    return (end + offset - timedelta(milliseconds=1)).date()


def _random_window(rng: random.Random, end: datetime, device: str) -> wire.KpiWindow:
    def maybe(value: T) -> T | None:
        return None if rng.random() < 0.2 else value

    return window(
        end,
        device=device,
        seconds=600,
        scheduled_s=rng.choice([0.0, 600.0]),
        planned_s=rng.uniform(0, 600),
        run_s=maybe(rng.uniform(0, 300)),
        idle_s=maybe(rng.uniform(0, 100)),
        down_s=rng.uniform(0, 100),
        total_count=maybe(rng.randrange(0, 200)),
        good_count=rng.randrange(0, 150),
        energy_kwh=maybe(rng.uniform(0, 5)),
        ideal_cycle_s=maybe(rng.choice([1.5, 2.0])),
        partial=rng.random() < 0.1,
        quality=quality(samples=rng.randrange(0, 600), comm_loss_s=rng.uniform(0, 50)),
    )


def _records(seed: int) -> list[WindowRecord]:
    """10-minute windows over three days for three enterprises, with windows ending exactly
    at each enterprise's local midnights."""
    rng = random.Random(seed)
    records = []
    for enterprise in ZONES:
        for step in range(3 * 144):
            end = T0 + timedelta(minutes=10 * step)
            for device in ("press-1", "press-2"):
                if rng.random() < 0.6:
                    win = _random_window(rng, end, device)
                    records.append(record(win, seq=step + 1, enterprise=enterprise))
    for enterprise, midnight in [
        ("ent-sh", datetime(2026, 10, 30, 16, tzinfo=UTC)),
        ("ent-ny", datetime(2026, 11, 1, 4, tzinfo=UTC)),
        ("ent-ny", datetime(2026, 11, 2, 5, tzinfo=UTC)),  # after the change: UTC-5
        ("ent-utc", datetime(2026, 10, 31, tzinfo=UTC)),
    ]:
        # Another device: rewriting a grid window with other content would merge fields
        # (InfluxDB overwrites field by field), which ingest prevents by quarantining replays.
        win = _random_window(rng, midnight, "press-9")
        records.append(record(win, seq=9999, enterprise=enterprise))
    return records


def _expected_sums(records: list[WindowRecord]) -> dict[tuple[str, str, date], dict[str, Any]]:
    """Per (enterprise, device, local day): Python sums of the same windows."""
    latest = {(r.enterprise, r.window.device, r.window.end): r for r in records}
    sums: dict[tuple[str, str, date], dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    for r in latest.values():
        w = r.window
        day = sums[(r.enterprise, w.device, _expected_day(r.enterprise, r.window_end))]
        for name in SUMMABLE_FIELDS:
            value = getattr(w.quality, name, None) if hasattr(w.quality, name) else None
            if value is None and hasattr(w, name):
                value = getattr(w, name)
            if (
                name == "ideal_count_s"
                and w.ideal_cycle_s is not None
                and w.total_count is not None
            ):
                value = w.ideal_cycle_s * w.total_count
            if name == "duration_s":
                value = w.duration_s
            if value is not None:
                day[name] += value
                day[f"has_{name}"] = True
        for name in OPTIONAL_QUANTITIES:
            day[f"{name}_windows"] += getattr(w, name) is not None
        # A day whose windows with good parts did not all carry ideal_good_s has none.
        if day["ideal_good_s_windows"] < day["good_count_windows"]:
            day["has_ideal_good_s"] = False
        day["windows"] += 1
        day["partial_windows"] += w.partial
        day["first_start"] = min(day.get("first_start") or w.start, w.start)
        day["last_end"] = max(day.get("last_end") or w.end, w.end)
    return sums


def _assert_row_matches(row: DailyRow, expected: dict[str, Any]) -> None:
    for name in SUMMABLE_FIELDS:
        value = getattr(row, name)
        if not expected.get(f"has_{name}"):
            assert value is None, name
        elif isinstance(value, int):
            assert value == expected[name], name
        else:
            assert value == pytest.approx(expected[name], rel=1e-12, abs=1e-9), name
    assert row.windows == expected["windows"]
    assert row.partial_windows == expected["partial_windows"]
    assert row.first_start == expected["first_start"]
    assert row.last_end == expected["last_end"]
    assert row.measured_windows == {n: expected[f"{n}_windows"] for n in OPTIONAL_QUANTITIES}


async def _all_daily(store: InfluxStore) -> list[DailyRow]:
    rows = []
    for enterprise in ZONES:
        rows += await store.daily(enterprise, date(2026, 10, 1), date(2026, 11, 30))
    return rows


async def test_daily_rollups_equal_the_sums_of_raw_windows_per_local_day(
    influxd: InfluxServer,
) -> None:
    records = _records(seed=1)
    expected = _expected_sums(records)
    async with open_store(influxd, batch_size=1000) as store:
        # In chunks, as ingest writes them: each refresh sees only its own windows.
        for first in range(0, len(records), 700):
            chunk = records[first : first + 700]
            await store.write(chunk)
            await store.refresh_days(affected_days(chunk, ZONES))
        rows = await _all_daily(store)
    assert {(r.enterprise, r.device, r.day) for r in rows} == set(expected)
    for row in rows:
        _assert_row_matches(row, expected[(row.enterprise, row.device, row.day)])
        assert row.tz == ZONES[row.enterprise]
        assert row.overflowed == ()
    # The window ending at Shanghai's midnight counts in the day before it.
    sh_press_9 = [
        (r.day, r.last_end) for r in rows if (r.enterprise, r.device) == ("ent-sh", "press-9")
    ]
    assert sh_press_9 == [(date(2026, 10, 30), datetime(2026, 10, 30, 16, tzinfo=UTC))]


async def test_refresh_is_idempotent_and_daily_reads_a_day_range(influxd: InfluxServer) -> None:
    records = [r for r in _records(seed=2) if r.enterprise == "ent-sh"]
    async with open_store(influxd) as store:
        await store.write(records)
        await store.refresh_days(affected_days(records, ZONES))
        once = await store.daily("ent-sh", date(2026, 10, 30), date(2026, 11, 2))
        await store.refresh_days(affected_days(records, ZONES))
        twice = await store.daily("ent-sh", date(2026, 10, 30), date(2026, 11, 2))
        points = await store.query('SELECT COUNT("windows") FROM "rv"."rollup"."kpi_daily"')
        one_day = await store.daily(
            "ent-sh", date(2026, 10, 31), date(2026, 10, 31), device="press-2"
        )
    assert once == twice
    assert points[0]["count"] == len(once)
    assert [(r.device, r.day) for r in one_day] == [("press-2", date(2026, 10, 31))]


async def test_a_late_window_refreshes_its_own_day_only(influxd: InfluxServer) -> None:
    day_1 = datetime(2026, 10, 30, 12, tzinfo=UTC)
    day_2 = day_1 + timedelta(days=1)
    async with open_store(influxd) as store:
        first = [record(window(day_1)), record(window(day_2))]
        await store.write(first)
        await store.refresh_days(affected_days(first, ZONES | {"ent-01": "Asia/Shanghai"}))
        # A raw window slipped into day 1 without a refresh: if day 1 were recomputed now,
        # its rollup would change. The late window of day 2 must not touch day 1.
        await store.write_lines(
            [window_line(record(window(day_1 + timedelta(minutes=5))))], retention_policy="raw"
        )
        late = [record(window(day_2 - timedelta(hours=1), total_count=100))]
        await store.write(late)
        await store.refresh_days(affected_days(late, {"ent-01": "Asia/Shanghai"}))
        rows = await store.daily("ent-01", date(2026, 10, 30), date(2026, 10, 31))
        assert [(r.day, r.windows, r.total_count) for r in rows] == [
            (date(2026, 10, 30), 1, 10),
            (date(2026, 10, 31), 2, 110),
        ]
        # The repair path recomputes day 1 on request.
        await store.refresh_days([DayKey("ent-01", "press-1", date(2026, 10, 30), "Asia/Shanghai")])
        rows = await store.daily("ent-01", date(2026, 10, 30), date(2026, 10, 30))
    assert [(r.windows, r.total_count) for r in rows] == [(2, 20)]


async def test_an_integer_sum_past_int64_is_reported_not_stored_wrapped(
    influxd: InfluxServer,
) -> None:
    end = datetime(2026, 10, 30, 12, tzinfo=UTC)
    huge = [
        record(window(end + timedelta(minutes=i), total_count=2**62, good_count=2**62))
        for i in range(3)
    ]
    async with open_store(influxd) as store:
        await store.write(huge)
        await store.refresh_days(affected_days(huge, {"ent-01": "UTC"}))
        (row,) = await store.daily("ent-01", date(2026, 10, 30), date(2026, 10, 30))
    assert row.total_count is None and row.good_count is None
    assert row.overflowed == ("total_count", "good_count")
    assert row.reject_count == 3
    assert row.ideal_count_s == pytest.approx(3 * 4.0 * 2**62)


async def test_the_day_keeps_its_first_and_last_config_digest(influxd: InfluxServer) -> None:
    noon = datetime(2026, 10, 30, 4, tzinfo=UTC)  # 12:00 in Shanghai
    before, after = wire.config_digest(b"ideal 2.0 s"), wire.config_digest(b"ideal 2.5 s")
    windows = [
        window(noon - timedelta(hours=2), config_digest=before),
        window(noon, config_digest=before),
        window(noon + timedelta(hours=1), config_digest=after),
        window(noon + timedelta(days=1), config_digest=after),
    ]
    records = [record(win, seq=n + 1) for n, win in enumerate(windows)]
    async with open_store(influxd) as store:
        await store.write(records)
        await store.refresh_days(affected_days(records, {"ent-01": "Asia/Shanghai"}))
        rows = await store.daily("ent-01", date(2026, 10, 30), date(2026, 10, 31))
    assert [
        (r.day, r.config_digests, r.config_digest_first, r.config_digest_last) for r in rows
    ] == [
        (date(2026, 10, 30), 2, before, after),
        (date(2026, 10, 31), 1, after, after),
    ]


async def test_a_day_partly_from_an_older_agent_has_no_ideal_good_sum(
    influxd: InfluxServer,
) -> None:
    # One day's windows all carry ideal_good_s: it is summed. The next day one window comes
    # from an agent that predates it: a partial sum is no sum, so the day has none (the engine
    # then falls back, docs/evidence-method.md §1), while its count of windows shows why.
    first = datetime(2026, 10, 30, 12, tzinfo=UTC)
    second = first + timedelta(days=1)
    windows = [
        window(first),
        window(first + timedelta(minutes=1)),
        window(second),
        window(second + timedelta(minutes=1), ideal_good_s=None, unobserved_count=None),
    ]
    records = [record(w) for w in windows]
    async with open_store(influxd) as store:
        await store.write(records)
        await store.refresh_days(affected_days(records, {"ent-01": "UTC"}))
        rows = await store.daily("ent-01", date(2026, 10, 30), date(2026, 10, 31))
    assert [(r.day, r.ideal_good_s, r.measured_windows["ideal_good_s"]) for r in rows] == [
        (date(2026, 10, 30), 72.0, 2),
        (date(2026, 10, 31), None, 1),
    ]
    assert [r.unobserved_count for r in rows] == [0, 0]
