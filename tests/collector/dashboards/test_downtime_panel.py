"""The before/after downtime panel shows the evidence's unplanned downtime, day by day (#18).

A machine whose state is inferred (power meter, run signal) is never down, so the evidence
measures unplanned downtime over the planned time a state code measured, on device-days a code
measured at least 80 % of (collector/downtime.py). InfluxQL cannot apply that rule per
device-day, so the daily rollups carry its terms (``downtime_down_s``, ``downtime_planned_s``)
and the panel sums them. Here a real influxd is filled through the real store path (windows,
then ``refresh_days`` over their ``affected_days``, as the ingest's rollups do), the panel's
query is run as ``dashboards check`` runs it, and its value must equal the evidence engine's
value for the same day, also after a late window and a duplicate delivery.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from collector.dashboards import load_dashboards
from collector.dashboards.check import ALL, TimeRange, interpolate
from collector.evidence import enterprise_days
from collector.evidence.daily import DOWNTIME
from collector.store import InfluxStore, WindowRecord, affected_days, day_bounds
from collector.store.records import to_ms
from collector.store.rollup import zone
from stack import InfluxServer
from tests.collector.store_helpers import record, window

pytestmark = pytest.mark.timeout(120)

DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"
PANEL = "Unplanned downtime share of planned time (daily)"
TZ = "Asia/Shanghai"
DAY = dt.date(2026, 6, 1)
DEVICES = ("lathe-1", "mill-1", "press-1", "weld-1")


def _end(hour: int) -> dt.datetime:
    local = dt.datetime.combine(DAY, dt.time(hour), tzinfo=zone(TZ))
    return local.astimezone(dt.UTC)


def _hour(device: str, hour: int, inferred_share: float | None, down_s: float) -> WindowRecord:
    """One hour of ``device``: ``inferred_share`` of its planned time inferred (None: a device
    without a state: block), ``down_s`` down, the rest run and idle."""
    inferred = None if inferred_share is None else 3600.0 * inferred_share
    win = window(
        _end(hour), device, seconds=3600, run_s=2400.0, idle_s=1200.0 - down_s, down_s=down_s,
        inferred_planned_s=inferred,
    )  # fmt: skip
    return record(win, seq=hour)


def shift() -> Iterator[WindowRecord]:
    """A shift 09:00-17:00 of four machines: weld-1 by a state code only (counts), press-1 a
    tenth inferred (counts), mill-1 three tenths inferred with down time from its coded part
    (left out), lathe-1 through a power meter only (inferred throughout: left out)."""
    for hour in range(10, 18):
        yield _hour("weld-1", hour, None, down_s=300.0)
        yield _hour("press-1", hour, 0.1, down_s=180.0)
        yield _hour("mill-1", hour, 0.3, down_s=900.0)
        yield _hour("lathe-1", hour, 1.0, down_s=0.0)


def late_inferred_hours() -> Iterator[WindowRecord]:
    """press-1's evening, inferred throughout: its day falls to 60 % coded and is left out."""
    for hour in range(18, 22):
        yield _hour("press-1", hour, 1.0, down_s=0.0)


async def _store_and_refresh(store: InfluxStore, records: Sequence[WindowRecord]) -> None:
    await store.write(list(records))
    await store.refresh_days(affected_days(records, {"ent-01": TZ}))


def _panel_query() -> str:
    (dashboard,) = [d for d in load_dashboards(DASHBOARDS) if PANEL in {q.panel for q in d.queries}]
    (spec,) = [q for q in dashboard.queries if q.panel == PANEL]
    start, end = day_bounds(DAY, zone(TZ))
    time_range = TimeRange(to_ms(start), to_ms(end))
    values = {"platform": ALL, "enterprise": "ent-01", "device": ALL, "tz": TZ}
    variables = {v.name: v for v in dashboard.variables}
    return interpolate(spec.text, time_range, variables, values, {"device": list(DEVICES)})


async def _panel_and_evidence(store: InfluxStore) -> tuple[list[Any], float | None]:
    """The panel's rows for the day and the evidence engine's value from the same rollups."""
    rows = await store.query(_panel_query())
    (day,) = enterprise_days(await store.daily("ent-01", DAY, DAY))
    return [row["downtime"] for row in rows], day.value(DOWNTIME)


def test_the_panel_shows_the_evidence_downtime_on_a_day_with_inferred_machines(
    influxd: InfluxServer,
) -> None:
    async def run() -> None:
        async with InfluxStore(influxd.url, "rv") as store:
            await store.ensure_database()
            await store.ensure_retention()
            await _store_and_refresh(store, list(shift()))
            panel, evidence = await _panel_and_evidence(store)
            # weld-1 and press-1 count: 8 h x (300 + 180) s down over 8 h x (3600 + 3240) s.
            assert evidence == pytest.approx((300.0 + 180.0) / (3600.0 + 3240.0), rel=1e-12)
            assert panel == [pytest.approx(evidence, rel=1e-12)]
            # What the panel showed before: every device's down time over all planned time.
            before = (300.0 + 180.0 + 900.0) / (4 * 3600.0)
            assert abs(panel[0] - before) > 0.25 * before

            # A late evening of press-1, inferred: its day stops counting, and the rollup's
            # terms for it must go to 0 (a field left out would keep its old value).
            await _store_and_refresh(store, list(late_inferred_hours()))
            panel, evidence = await _panel_and_evidence(store)
            assert evidence == pytest.approx(300.0 / 3600.0, rel=1e-12)  # weld-1 alone
            assert panel == [pytest.approx(evidence, rel=1e-12)]

            # Every window delivered again: the same day, the same value.
            await _store_and_refresh(store, [*shift(), *late_inferred_hours()])
            assert await _panel_and_evidence(store) == (panel, evidence)

    asyncio.run(run())


def test_a_day_no_device_measured_is_a_gap_in_the_panel_never_zero(
    influxd: InfluxServer,
) -> None:
    async def run() -> None:
        async with InfluxStore(influxd.url, "rv") as store:
            await store.ensure_database()
            await store.ensure_retention()
            meters_only = [r for r in shift() if r.window.device in ("lathe-1", "mill-1")]
            await _store_and_refresh(store, meters_only)
            panel, evidence = await _panel_and_evidence(store)
            assert evidence is None
            assert panel == []

    asyncio.run(run())
