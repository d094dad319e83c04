"""A refreshed day reads as its recomputation, never with a field an earlier refresh wrote.

InfluxDB 1.x merges a rewritten point field by field: a ``kpi_daily`` refresh that leaves a
field out (null) keeps the value the previous refresh wrote. A late window from an agent that
predates ``ideal_good_s`` made the day's sum null by the rule, yet the day kept reading 36.0.
Each case here fills a real influxd through the store, refreshes a day twice (before and after
the change, as the ingest's rollups do), and compares the row read with the row of a twin
device whose same windows were rolled up once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.dashboards import load_dashboards
from collector.evidence.daily import fully_productive_s
from collector.store import DailyRow, InfluxStore, WindowRecord, affected_days
from collector.store.influxql import measurement_path, time_literal
from collector.store.schema import OPTIONAL_QUANTITIES
from stack import InfluxServer
from tests.collector.store_helpers import open_store, record, window

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
NOON = datetime(2026, 10, 30, 12, tzinfo=UTC)
DAY = date(2026, 10, 30)
ZONES = {"ent-01": "UTC"}
DAY_SPAN = timedelta(days=1)
#: A window's quantities that differ from ``store_helpers.window``'s.
Changes = dict[str, Any]


def _records(device: str, windows: Sequence[Changes]) -> list[WindowRecord]:
    """One window a minute from noon on ``device``, each with the given quantities."""
    return [
        record(window(NOON + timedelta(minutes=n), device=device, **changes), seq=n + 1)
        for n, changes in enumerate(windows)
    ]


async def _write_and_refresh(store: InfluxStore, records: list[WindowRecord]) -> None:
    await store.write(records)
    await store.refresh_days(affected_days(records, ZONES))


async def _row(store: InfluxStore, device: str) -> DailyRow:
    (row,) = await store.daily("ent-01", DAY, DAY, device=device)
    return row


async def _assert_reads_as_rolled_up_once(
    store: InfluxStore, device: str, windows: Sequence[Changes]
) -> DailyRow:
    """The day of ``device`` equals a twin's day rolled up once from the same windows."""
    await _write_and_refresh(store, _records("twin", windows))
    row, twin = await _row(store, device), await _row(store, "twin")
    assert row == dataclasses.replace(twin, device=device)
    return row


async def test_a_late_window_from_an_older_agent_leaves_the_day_without_ideal_good_s(
    influxd: InfluxServer,
) -> None:
    # The bug as found: two windows that carry ideal_good_s (36.0 each), then a late one from
    # an agent that predates it. A partial sum is no sum: the day's ideal_good_s is null.
    carried: Changes = {}
    older_agent: Changes = {"ideal_good_s": None, "unobserved_count": None}
    async with open_store(influxd) as store:
        await _write_and_refresh(store, _records("press-1", [carried, carried]))
        assert (await _row(store, "press-1")).ideal_good_s == 72.0
        late = _records("press-1", [carried, carried, older_agent])[2:]
        await _write_and_refresh(store, late)
        row = await _assert_reads_as_rolled_up_once(
            store, "press-1", [carried, carried, older_agent]
        )
        # The dashboards' pattern for it (docs/storage.md): the whole-day test per point.
        source = measurement_path("rv", "rollup", "kpi_daily")
        panel_rows = await store.query(
            f'SELECT SUM("ideal_good_s") FROM {source} WHERE "device" = \'press-1\' '  # noqa: S608
            'AND "ideal_good_s_windows" = "good_count_windows"'
        )
    assert row.ideal_good_s is None
    assert (row.measured_windows["ideal_good_s"], row.measured_windows["good_count"]) == (2, 3)
    # The evidence engine falls back to one ideal cycle x the good parts (method §1): 4 s x 27.
    assert fully_productive_s(row) == 108.0
    assert panel_rows == []


def test_a_dashboard_that_reads_ideal_good_s_tests_the_whole_day() -> None:
    # kpi_daily may hold an ideal_good_s of an earlier refresh (a partial sum): a panel reads
    # it only where every window with good parts carried it, as the evidence does.
    queries = [query for dashboard in load_dashboards(DASHBOARDS) for query in dashboard.queries]
    assert queries
    for query in queries:
        if "ideal_good_s" in query.text:
            assert '"ideal_good_s_windows" = "good_count_windows"' in query.text, query.where


async def test_an_integer_sum_that_passes_int64_on_a_late_window_reads_null(
    influxd: InfluxServer,
) -> None:
    huge: Changes = {"total_count": 2**62, "good_count": 2**62}
    async with open_store(influxd) as store:
        await _write_and_refresh(store, _records("press-1", [huge]))
        assert (await _row(store, "press-1")).total_count == 2**62
        await _write_and_refresh(store, _records("press-1", [huge, huge])[1:])
        row = await _assert_reads_as_rolled_up_once(store, "press-1", [huge, huge])
    assert (row.total_count, row.good_count) == (None, None)
    assert row.overflowed == ("total_count", "good_count")


async def test_a_day_repaired_after_raw_windows_were_deleted_holds_nothing_of_them(
    influxd: InfluxServer,
) -> None:
    # An operator deletes a bad raw window and recomputes the day (`rollups refresh`): every
    # optional quantity only that window measured, and an overflow only it caused, must go.
    nothing_optional: Changes = dict.fromkeys(OPTIONAL_QUANTITIES)
    huge: Changes = {"total_count": 2**62, "good_count": 2**62, "reject_count": 0}
    windows = [nothing_optional, huge, huge]
    async with open_store(influxd) as store:
        await _write_and_refresh(store, _records("press-1", windows))
        before = await _row(store, "press-1")
        assert before.overflowed == ("total_count", "good_count")
        assert before.energy_kwh is not None and before.ideal_cycle_s_min == 4.0
        # InfluxQL's DELETE takes no retention policy: it deletes from every one.
        await store.query(f'DELETE FROM "kpi_window" WHERE time > {time_literal(NOON)}')  # noqa: S608
        assert len(await store.windows("ent-01", NOON - timedelta(days=1), NOON + DAY_SPAN)) == 1
        await store.refresh_days(affected_days(_records("press-1", windows[:1]), ZONES))
        row = await _assert_reads_as_rolled_up_once(store, "press-1", windows[:1])
    assert row.overflowed == ()
    assert all(row.measured_windows[name] == 0 for name in OPTIONAL_QUANTITIES)
    assert row.total_count is None and row.energy_kwh is None and row.ideal_good_s is None
    assert row.ideal_count_s is None
    assert (row.ideal_cycle_s_min, row.ideal_cycle_s_max) == (None, None)
