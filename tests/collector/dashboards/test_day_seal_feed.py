"""The fleet feed's day-seal points: built pure from the registry's checks, written to a real
influxd, and read back by the fleet dashboard's two day-seal panels as Grafana would run them.

The checks are the ingest's own (tests/collector/dashboards/fill.py, ``fill_day_seals``): ent-01
seals its 30 device-days with a test key; press-1's second reporting day differs in energy,
press-2's first baseline day is left unsealed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from pathlib import Path

import pytest

from collector.dashboards import load_dashboard
from collector.dashboards.check import ALL, TimeRange, interpolate
from collector.dashboards.day_seals import seal_overdue, seals_behind, tally_checks
from collector.dashboards.feed import (
    day_seal_lines,
    ensure_fleet_retention,
    read_fleet,
    run_fleet_feed,
    write_fleet_snapshot,
)
from collector.registry import Registry
from collector.store import InfluxStore, QueryFailed, Row
from collector.store.records import to_ms
from contract.days import day_bounds, zone
from stack import InfluxServer
from tests.collector.dashboards.fill import (
    DIFFERENT,
    UNSEALED,
    fill_day_seals,
    fill_registry,
    fill_windows,
)
from tests.collector.dashboards.seals import ENERGY_ADDED_KWH

pytestmark = pytest.mark.timeout(120)

FLEET = Path(__file__).resolve().parents[3] / "dashboards" / "fleet-health.json"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
ZONE = "Asia/Shanghai"


async def _panel_rows(store: InfluxStore, title: str) -> list[Row]:
    """The panel's query with *All* platforms and enterprises over the last hour."""
    dashboard = load_dashboard(FLEET)
    (spec,) = [q for q in dashboard.queries if q.panel == title]
    variables = {v.name: v for v in dashboard.variables}
    hour = TimeRange(to_ms(NOW - dt.timedelta(hours=1)), to_ms(NOW + dt.timedelta(minutes=1)))
    values = {"platform": ALL, "enterprise": ALL}
    return await store.query(interpolate(spec.text, hour, variables, values, {}))


def test_day_seal_points_count_each_outcome_and_name_each_difference(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    async def run() -> tuple[list[str], list[Row], list[Row], Registry]:
        registry = Registry(tmp_path / "registry.sqlite")
        async with InfluxStore(influxd.url, "rv") as store:
            await fill_windows(store)
            fill_registry(registry, NOW)
            await fill_day_seals(store, registry, NOW)
            lines = day_seal_lines(read_fleet(registry, NOW).day_checks, NOW)
            await ensure_fleet_retention(store)
            await write_fleet_snapshot(registry, store, now=NOW)
            counts = await _panel_rows(store, "Day seals per enterprise")
            differences = await _panel_rows(store, "Sealed and different device-days")
        return lines, counts, differences, registry

    lines, counts, differences, registry = asyncio.run(run())
    try:
        # Pure lines: a count point per enterprise with agents (zeros included), a point per
        # differing figure, tagged with its device-day.
        (ent01,) = [line for line in lines if line.startswith("fleet_day_seals,enterprise=ent-01,")]
        assert "equal=28i,different=1i,unsealed_overdue=1i,unsealed_recent=0i" in ent01
        (ent02,) = [line for line in lines if line.startswith("fleet_day_seals,enterprise=ent-02,")]
        assert "equal=0i,different=0i,unsealed_overdue=0i,unsealed_recent=0i" in ent02
        named = [line for line in lines if line.startswith("fleet_day_seal_difference,")]
        assert sorted(line.split("field=")[1].split(",")[0] for line in named) == [
            "energy_kwh", "merkle_root",
        ]  # fmt: skip
        assert all(f"day={DIFFERENT[1]}" in line and "device=press-1" in line for line in named)

        # What the panels' InfluxQL returns from what the feed wrote.
        (row,) = [r for r in counts if r.get("enterprise") == "ent-01"]
        assert (row["sealed, equal"], row["sealed, different"]) == (28, 1)
        assert (row["unsealed, overdue"], row["unsealed, recent"]) == (1, 0)
        by_field = {str(r["field"]): r for r in differences}
        assert set(by_field) == {"energy_kwh", "merkle_root"}
        energy = by_field["energy_kwh"]
        assert (energy["device"], energy["day"], energy["agent"]) == (
            "press-1", DIFFERENT[1].isoformat(), "ent-01-gw1",
        )  # fmt: skip
        stored, sealed = json.loads(str(energy["stored"])), json.loads(str(energy["sealed"]))
        assert sealed == pytest.approx(stored + ENERGY_ADDED_KWH)

        # Overdue: a day after the unsealed day's local end, not before.
        unsealed = registry.day_checks("ent-01", UNSEALED[1], UNSEALED[1], outcome="unsealed")
        day_end = day_bounds(UNSEALED[1], zone(ZONE))[1]
        early, late = day_end + dt.timedelta(hours=23), day_end + dt.timedelta(hours=25)
        assert not seal_overdue(UNSEALED[1], ZONE, early) and seal_overdue(UNSEALED[1], ZONE, late)
        assert tally_checks(unsealed, ZONE, early).unsealed_recent == 1
        assert tally_checks(unsealed, ZONE, late).unsealed_overdue == 1
        assert seals_behind(unsealed, ZONE, early) == {}
        assert seals_behind(unsealed, ZONE, late) == {"ent-01-gw1": 1}
    finally:
        registry.close()


def test_the_feed_writes_day_seal_points_first_then_at_their_own_pace(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    # Snapshots every 0.2 s, day-seal points at most hourly: after several snapshots, one
    # fleet_day_seals point per enterprise (the first snapshot's), not one per snapshot.
    async def run() -> tuple[int, int]:
        registry = Registry(tmp_path / "registry.sqlite")
        try:
            async with InfluxStore(influxd.url, "rv") as store:
                await fill_windows(store)
                fill_registry(registry, NOW)
                await fill_day_seals(store, registry, NOW)
                feed = asyncio.create_task(
                    run_fleet_feed(registry, store, every_s=0.2, day_seals_every_s=3600)
                )
                try:
                    snapshots = 0
                    while snapshots < 4:
                        await asyncio.sleep(0.2)
                        snapshots = await _count(store, "fleet_summary", "agents")
                finally:
                    feed.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await feed
                return snapshots, await _count(store, "fleet_day_seals", "equal")
        finally:
            registry.close()

    snapshots, day_seal_points = asyncio.run(run())
    assert snapshots >= 4
    assert day_seal_points == 1


async def _count(store: InfluxStore, measurement: str, field: str) -> int:
    """Points of ``measurement`` for platform plat-a and (day seals) enterprise ent-01."""
    where = "\"platform\" = 'plat-a'" + (
        " AND \"enterprise\" = 'ent-01'" if measurement == "fleet_day_seals" else ""
    )
    try:
        rows = await store.query(
            f'SELECT COUNT("{field}") AS n FROM "fleet"."{measurement}" WHERE {where}'  # noqa: S608
        )
    except QueryFailed:  # the retention policy is not there before the first round
        return 0
    return int(rows[0]["n"]) if rows else 0
