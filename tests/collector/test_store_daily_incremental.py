"""Incremental rollups against a real influxd: a day refreshed window by window with the marks
the ingest keeps equals the same day rolled up once.

Each case writes windows to a device through the store and refreshes after each batch with
the batch's marks (the earliest window end written per device-day since the last refresh, as
``RollupQueue.mark_days`` records them), then writes the same windows to a twin device and
refreshes it once, without marks: the full recompute. The two stored ``kpi_daily`` points must
agree field by field (integers, text and times exactly; float sums within the contract's bound
for two summation orders, ``contract.daysums.float_tolerance``), and each refresh must take the
path the rule gives (``Refreshed``: merged or recomputed).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from collector.store import DayKey, InfluxStore, Refreshed, WindowRecord, day_marks
from collector.store.influxql import measurement_path, quote_literal
from collector.store.records import typed_value
from collector.store.rollup import without_stale
from collector.store.schema import DAILY_FIELDS, FieldKind
from contract import wire
from contract.daysums import float_tolerance
from stack import InfluxServer
from tests.collector.store_helpers import open_store, record, window
from tests.collector.test_store_daily import _random_window

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

NOON = datetime(2026, 10, 30, 12, tzinfo=UTC)
ZONES = {"ent-01": "UTC"}
MERGED, RECOMPUTED = Refreshed(merged=1, recomputed=0), Refreshed(merged=0, recomputed=1)
#: A window's quantities that differ from ``store_helpers.window``'s.
Changes = dict[str, Any]


@dataclass
class Marks:
    """The dirty-days queue's marks as the ingest keeps them: the earliest end per device-day,
    the minimum on a second mark, forgotten once the day is refreshed."""

    earliest: dict[DayKey, int | None] = field(default_factory=dict)

    def mark(self, records: Sequence[WindowRecord]) -> None:
        for key, end_ms in day_marks(records, ZONES).items():
            before = self.earliest.get(key, end_ms)
            self.earliest[key] = None if before is None else min(before, end_ms)


def _windows(device: str, minutes: Sequence[int], **changes: Any) -> list[WindowRecord]:
    """Windows ending ``minutes`` after noon on ``device``, seq = minute + 1."""
    return [
        record(window(NOON + timedelta(minutes=m), device=device, **changes), seq=m + 1)
        for m in minutes
    ]


async def _write_and_refresh(
    store: InfluxStore, records: list[WindowRecord], marks: Marks
) -> Refreshed:
    """Write a batch, mark its days, refresh them with their marks (then forget the marks)."""
    await store.write(records)
    marks.mark(records)
    done = await store.refresh_days(list(marks.earliest), marks.earliest)
    marks.earliest.clear()
    return done


async def _point(store: InfluxStore, device: str) -> dict[str, Any]:
    """The device's stored ``kpi_daily`` point, typed, stale fields null (as readers see it)."""
    source = measurement_path("rv", store.rollup_retention_policy, "kpi_daily")
    (row,) = await store.query(
        f'SELECT * FROM {source} WHERE "device" = {quote_literal(device)}'  # noqa: S608
    )
    typed = {name: typed_value(kind, row.get(name)) for name, kind in DAILY_FIELDS.items()}
    return without_stale(typed)


def _differences(row: dict[str, Any], once: dict[str, Any]) -> list[str]:
    """The fields where two points disagree beyond what summation order explains."""
    bad = []
    for name, kind in DAILY_FIELDS.items():
        a, b = row[name], once[name]
        if kind is FieldKind.FLOAT and a is not None and b is not None and a != b:
            # n + 1 terms: duration_s and the downtime terms are rounded once more per window.
            bound = float_tolerance(int(once["windows"]) + 1, a, b)
            if abs(Fraction(a) - Fraction(b)) <= bound:
                continue
        if a != b:
            bad.append(f"{name}: {a!r} (window by window) != {b!r} (once)")
    return bad


async def _assert_equals_rolled_up_once(
    store: InfluxStore, device: str, batches: Sequence[list[WindowRecord]]
) -> dict[str, Any]:
    """The device's day equals a twin's day rolled up once from the same writes."""
    twin = [
        WindowRecord(r.platform, r.enterprise, r.agent, r.seq, _on(r.window, "twin"))
        for batch in batches
        for r in batch
    ]
    for batch_start in range(0, len(twin), 1000):
        await store.write(twin[batch_start : batch_start + 1000])
    assert await store.refresh_days(day_marks(twin, ZONES)) == RECOMPUTED  # no marks: full
    row, once = await _point(store, device), await _point(store, "twin")
    assert _differences(row, once) == []
    return row


def _on(win: wire.KpiWindow | wire.ReceivedWindow, device: str) -> wire.KpiWindow:
    if not isinstance(win, wire.KpiWindow):
        raise TypeError(f"a test window, got {type(win).__name__}")
    return win.model_copy(update={"device": device})


async def test_windows_in_order_are_merged_and_equal_the_day_rolled_up_once(
    influxd: InfluxServer,
) -> None:
    batches = [_windows("press-1", [m]) for m in range(40)]
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        # No stored row before the first: recomputed; every later window only merged.
        assert done == [RECOMPUTED] + [MERGED] * 39
        row = await _assert_equals_rolled_up_once(store, "press-1", batches)
    assert row["windows"] == 40


async def test_a_late_window_recomputes_the_day_then_merging_resumes(
    influxd: InfluxServer,
) -> None:
    batches = [_windows("press-1", [m]) for m in (0, 1, 2, 4, 5)]
    batches += [_windows("press-1", [3]), _windows("press-1", [6]), _windows("press-1", [7])]
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        assert done == [RECOMPUTED, MERGED, MERGED, MERGED, MERGED, RECOMPUTED, MERGED, MERGED]
        row = await _assert_equals_rolled_up_once(store, "press-1", batches)
    assert row["windows"] == 8


async def test_a_window_rewritten_under_a_new_seq_recomputes_the_day(
    influxd: InfluxServer,
) -> None:
    # The last window sent again under a new seq overwrites its point (same series, same time):
    # its mark equals the row's last end, so a merge would count it twice.
    resent = [record(window(NOON + timedelta(minutes=3), device="press-1"), seq=100)]
    batches = [*(_windows("press-1", [m]) for m in range(4)), resent, _windows("press-1", [4])]
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        assert done == [RECOMPUTED, MERGED, MERGED, MERGED, RECOMPUTED, MERGED]
        row = await _assert_equals_rolled_up_once(store, "press-1", batches)
    assert row["windows"] == 5


async def test_an_older_agents_window_merges_its_nulls_and_the_partial_sum_rule_holds(
    influxd: InfluxServer,
) -> None:
    # A window from an agent that predates the optional quantities: the sums keep the others'
    # values, the counts say how many windows measured each, and ideal_good_s, now partial,
    # is null. It stays null whatever is added (the counts say the day is still partial), so
    # the later windows are merged too.
    older: Changes = {
        "run_s": None, "idle_s": None, "total_count": None, "energy_kwh": None,
        "ideal_cycle_s": None, "ideal_good_s": None, "unobserved_count": None,
        "unsampled_run_s": None, "inferred_planned_s": None,
    }  # fmt: skip
    batches = [
        _windows("press-1", [0]),
        _windows("press-1", [1]),
        _windows("press-1", [2], **older),
    ]
    batches += [_windows("press-1", [3]), _windows("press-1", [4])]
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        assert done == [RECOMPUTED, MERGED, MERGED, MERGED, MERGED]
        row = await _assert_equals_rolled_up_once(store, "press-1", batches)
    assert (row["ideal_good_s"], row["ideal_good_s_windows"], row["run_s_windows"]) == (None, 4, 4)


async def test_an_integer_sum_merged_past_int64_is_named_overflowed(
    influxd: InfluxServer,
) -> None:
    huge: Changes = {"total_count": 2**62, "good_count": 2**62}
    batches = [_windows("press-1", [m], **huge) for m in range(3)]
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        # The second passes int64 in the merge; the third finds the row overflowed: whole.
        assert done == [RECOMPUTED, MERGED, RECOMPUTED]
        row = await _assert_equals_rolled_up_once(store, "press-1", batches)
    assert (row["total_count"], row["overflowed"]) == (None, "total_count,good_count")


async def test_a_new_config_digest_in_the_tail_recomputes_the_day(influxd: InfluxServer) -> None:
    changed = wire.config_digest(b"ideal 2.5 s")
    batches = [_windows("press-1", [0]), _windows("press-1", [1])]
    batches += [_windows("press-1", [m], config_digest=changed) for m in (2, 3)]
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        assert done == [RECOMPUTED, MERGED, RECOMPUTED, MERGED]
        row = await _assert_equals_rolled_up_once(store, "press-1", batches)
    assert (row["config_digests"], row["config_digest_last"]) == (2, changed)


async def test_two_refreshers_with_the_same_marks_leave_the_day_right(
    influxd: InfluxServer,
) -> None:
    # Two replicas refresh the same day with the same marks: at once (both merge the same
    # tail into the same row), and one after the other (the second finds the row already past
    # the mark and recomputes the day whole). Neither counts a window twice.
    batches = [_windows("press-1", [m]) for m in range(12)]
    async with open_store(influxd) as one, open_store(influxd) as other:
        await _write_and_refresh(one, batches[0], Marks())
        for batch in batches[1:6]:
            await one.write(batch)
            marks = Marks()
            marks.mark(batch)
            keys = list(marks.earliest)
            await asyncio.gather(
                one.refresh_days(keys, marks.earliest), other.refresh_days(keys, marks.earliest)
            )
        for batch in batches[6:]:
            await one.write(batch)
            marks = Marks()
            marks.mark(batch)
            keys = list(marks.earliest)
            assert await one.refresh_days(keys, marks.earliest) == MERGED
            assert await other.refresh_days(keys, marks.earliest) == RECOMPUTED
        await _assert_equals_rolled_up_once(one, "press-1", batches)


async def test_a_mark_after_the_day_merges_nothing_and_keeps_the_row(
    influxd: InfluxServer,
) -> None:
    # A day seal marks its day 1 ms after the day's end (no window written): the refresh reads
    # no window, writes nothing, and the row stays as it was.
    batches = [_windows("press-1", [m]) for m in range(3)]
    marks = Marks()
    async with open_store(influxd) as store:
        for batch in batches:
            await _write_and_refresh(store, batch, marks)
        before = await _point(store, "press-1")
        key = DayKey("ent-01", "press-1", NOON.date(), "UTC")
        after_the_day = int((NOON.replace(hour=0) + timedelta(days=1)).timestamp() * 1000) + 1
        assert await store.refresh_days([key], {key: after_the_day}) == MERGED
        assert await _point(store, "press-1") == before


async def test_a_new_series_in_the_tail_recomputes_the_day(influxd: InfluxServer) -> None:
    # An imported window of the same device and day is a series of its own (provenance): with
    # no stored row to add it to, the day is recomputed whole.
    imported = [
        record(window(NOON + timedelta(minutes=5), provenance="imported"), seq=50, agent="gw-01")
    ]
    batches = [_windows("press-1", [0]), _windows("press-1", [1]), imported]
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        assert done == [RECOMPUTED, MERGED, RECOMPUTED]
        source = measurement_path("rv", store.rollup_retention_policy, "kpi_daily")
        rows = await store.query(f"SELECT windows, provenance FROM {source}")  # noqa: S608
    assert sorted((row["provenance"], row["windows"]) for row in rows) == [
        ("imported", 1),
        ("measured", 2),
    ]


@pytest.mark.parametrize("seed", [3, 5, 8])
async def test_random_windows_late_and_rewritten_merge_to_the_day_rolled_up_once(
    influxd: InfluxServer, seed: int
) -> None:
    # Random windows (optional quantities missing, partial windows, ideal cycles absent) in
    # batches of 1-3, a fifth of them late and some sent again under a new seq, each batch
    # refreshed with its marks: whatever path each refresh takes, the day equals it rolled up
    # once, and most refreshes merged.
    rng = random.Random(seed)
    minutes = list(range(60))
    batches: list[list[WindowRecord]] = []
    sent: list[WindowRecord] = []
    while minutes:
        take = minutes[: rng.randint(1, 3)]
        minutes = minutes[len(take) :]
        if minutes and rng.random() < 0.2:  # one of these minutes arrives after later ones
            late = take.pop()
            minutes.insert(rng.randint(1, min(4, len(minutes))), late)
        batch = [_random_record(rng, m) for m in take]
        if sent and rng.random() < 0.1:  # a window sent again under a new seq
            again = rng.choice(sent)
            batch.append(
                WindowRecord(
                    again.platform, again.enterprise, again.agent, again.seq + 500, again.window
                )
            )
        if batch:
            batches.append(batch)
            sent += batch
    marks = Marks()
    async with open_store(influxd) as store:
        done = [await _write_and_refresh(store, batch, marks) for batch in batches]
        await _assert_equals_rolled_up_once(store, "press-1", batches)
    assert sum(d.merged for d in done) > len(done) // 2


def _random_record(rng: random.Random, minute: int) -> WindowRecord:
    end = NOON + timedelta(minutes=minute)
    return record(_random_window(rng, end, "press-1"), seq=minute + 1)
