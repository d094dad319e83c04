"""What a day's rollup refresh costs InfluxDB as the day fills, against writing the windows.

The ingest marks each device-day it writes to and, in steady flow, refreshes it about once per
window (``collector.ingest.rollups``: a marked day is due when its mark settled for a round of
``rollup_every_s``; one-minute windows settle between windows). A refresh recomputes the whole
day from its raw windows (``InfluxStore.refresh_days``: three InfluxQL statements over the
day's points), so its cost grows with the windows already in the day, and the rollups of one
device-day over a day of one-minute windows read ~1,440 x 1,440 / 2 points: quadratic. The
fleet bench does not see this (its days hold a handful of windows each).

Setup: a real influxd (``stack``), one enterprise of 20 devices (the programme's gateway), one
window a minute per device (the ingest bench's window), written through the store as the
ingest writes them: in batches of an hour of edges (1,200 windows), a replica's batch size.

- limit: influxd CPU per window written, over writing the whole day (1,440 edges x 20
  windows; ``--quick`` the first 6 hours): what InfluxDB spends storing a window at all.
- ours: influxd CPU per window for the refreshes the ingest makes in steady flow, measured at
  checkpoints through the day (one refresh of the 20 device-days, the one group the ingest
  makes of them, repeated ``--rounds`` times at each checkpoint), averaged over the day by the
  trapezoid rule (each refresh's cost is linear in the points it reads): the refresh that
  follows each window, as the day fills.
- ratio = ours / limit. Goal (this bench's own budget, #20 "incremental rollups"): <= 1, a
  rollup costing InfluxDB no more than the write it follows, at every hour of the day.

Also printed: the projection to the programme (6,000 enterprises x 20 devices, one-minute
windows = 2,000 windows/s) in influxd cores for the rollups, the late-day refresh alone.

    .venv/bin/python bench/rollup_growth.py [--quick] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common

from collector.store import DayKey, InfluxStore, WindowRecord
from contract import wire
from stack import InfluxServer

DEVICES = 20
MINUTES_A_DAY = 1440
PROGRAMME_WINDOWS_S = 2000.0
MIDNIGHT = datetime(2026, 10, 30, tzinfo=UTC)
DIGEST = wire.config_digest(b"bench agent config")
CHECKPOINTS = {"full": (60, 360, 720, 1080, 1440), "quick": (60, 180, 360)}


def _window(device: str, minute: int) -> wire.KpiWindow:
    """The ingest bench's window: the ``minute``-th one-minute window of the day."""
    start = MIDNIGHT + timedelta(minutes=minute)
    quality = wire.DataQuality(
        samples=60, missed_polls=0, bad_values=0, comm_loss_s=0.0, scheduled_comm_loss_s=0.0,
        counter_resets=0, meter_resets=0, clock_jumps=0,
    )  # fmt: skip
    return wire.KpiWindow(
        device=device, start=start, end=start + timedelta(minutes=1), provenance="measured",
        config_digest=DIGEST, scheduled_s=60.0, planned_s=60.0, run_s=48.5, idle_s=9.0,
        down_s=2.5, off_s=0.0, planned_stop_s=0.0, total_count=13, good_count=12,
        reject_count=1, energy_kwh=0.731, ideal_cycle_s=3.5, quality=quality,
    )  # fmt: skip


def _edge(minute: int) -> list[WindowRecord]:
    """The 20 windows that close on one edge, as one envelope of the gateway carries them."""
    return [
        WindowRecord("plat-a", "ent-01", "gw-01", minute + 1, _window(f"dev-{d:02d}", minute))
        for d in range(DEVICES)
    ]


KEYS = [DayKey("ent-01", f"dev-{d:02d}", MIDNIGHT.date(), "UTC") for d in range(DEVICES)]


async def _write_until(store: InfluxStore, written: int, minute: int) -> None:
    # An hour of edges (1,200 windows) a write, as a replica's batch across many agents is:
    # writes of 20 lines would price InfluxDB's per-request cost, not the window's.
    for hour in range(written, minute, 60):
        await store.write([r for edge in range(hour, min(hour + 60, minute)) for r in _edge(edge)])


async def measure(server: InfluxServer, checkpoints: tuple[int, ...], rounds: int) -> None:
    """Fill the day edge by edge; at each checkpoint time ``rounds`` refreshes; print both."""
    pid = server.pid or 0
    async with InfluxStore(server.url, "rv") as store:
        await store.ensure_database()
        await store.ensure_retention()
        write_cpu, written, per_window = 0.0, 0, {}
        for minute in checkpoints:
            before = common.cpu_seconds(pid)
            await _write_until(store, written, minute)
            write_cpu += common.cpu_seconds(pid) - before
            written = minute
            before, started = common.cpu_seconds(pid), time.perf_counter()
            for _ in range(rounds):
                await store.refresh_days(KEYS)
            wall = (time.perf_counter() - started) / (rounds * DEVICES)
            per_window[minute] = (common.cpu_seconds(pid) - before) / (rounds * DEVICES)
            cost = per_window[minute] * 1e3
            print(f"  {minute:5d} windows in the day: a device-day's refresh costs influxd "
                  f"{cost:6.2f} ms CPU ({wall * 1e3:6.2f} ms wall)")  # fmt: skip
    limit = write_cpu / (written * DEVICES)
    ours = _day_average(per_window)
    late = per_window[checkpoints[-1]]
    print(f"writing: {written * DEVICES} windows, influxd {limit * 1e6:.1f} us CPU a window")
    print(f"the programme ({PROGRAMME_WINDOWS_S:,.0f} windows/s in steady flow): rollups "
          f"{ours * PROGRAMME_WINDOWS_S:.1f} influxd cores averaged over the day, "
          f"{late * PROGRAMME_WINDOWS_S:.1f} at {checkpoints[-1]} windows a day; "
          f"writes {limit * PROGRAMME_WINDOWS_S:.2f}")  # fmt: skip
    print(
        common.result_line(
            "rollup_growth",
            ours / limit,
            f"{ours * 1e6:.0f}us",
            f"{limit * 1e6:.1f}us",
            "<=1",
            late=f"{late * 1e6:.0f}us",
            day_minutes=str(checkpoints[-1]),
            load=common.load_average().replace(" ", "/"),
        )
    )


def _day_average(per_window: dict[int, float]) -> float:
    """The cost of a refresh averaged over the windows from the first to the last checkpoint
    (trapezoid rule, from 0 at the day's start: each refresh reads the windows before it)."""
    points = [(0, 0.0), *sorted(per_window.items())]
    area = sum((b - a) * (ca + cb) / 2 for (a, ca), (b, cb) in itertools.pairwise(points))
    return area / points[-1][0]


def main() -> None:
    """Parse the arguments, start influxd in a temporary folder, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the day's first 6 hours")
    parser.add_argument("--rounds", type=int, default=5, help="refreshes timed per checkpoint")
    args = parser.parse_args()
    checkpoints = CHECKPOINTS["quick" if args.quick else "full"]
    print(f"rollup_growth: {common.machine_summary()}; load average {common.load_average()}")
    with tempfile.TemporaryDirectory(prefix="rollup-growth-") as folder:
        server = InfluxServer(Path(folder) / "influxd")
        server.start()
        try:
            asyncio.run(measure(server, checkpoints, args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
