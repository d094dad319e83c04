"""What a day's rollup refresh costs InfluxDB as the day fills, against writing the windows.

The ingest marks each device-day it writes to and, in steady flow, refreshes it about once per
window (``collector.ingest.rollups``: a marked day is due when its mark settled for a round of
``rollup_every_s``; one-minute windows settle between windows). The mark keeps the earliest
window end written since the day's last refresh; a refresh whose stored row ends before it
reads only the windows after the row's last end and adds them to the row
(``collector.store.rollup_merge``): in steady flow the one window written since. Before that
(and still for a late window or a rewrite) a refresh recomputed the whole day from its raw
windows, so its cost grew with the windows already in the day: quadratic over the day.

Setup: a real influxd (``stack``), one enterprise of 20 devices (the programme's gateway), one
window a minute per device (`collector_ingest.minute_window`), written through the store as the
ingest writes them: in batches of an hour of edges (1,200 windows), a replica's batch size.

- limit: influxd CPU per window written, over writing the day in those batches (1,440 edges x
  20 windows; ``--quick`` the first 6 hours): what InfluxDB spends storing a window at all.
- ours: influxd CPU per window for the refresh the ingest makes after it in steady flow,
  measured at checkpoints through the day: ``--rounds`` times, one edge written (20 windows,
  untimed) and the 20 device-days refreshed with the marks the ingest would pass (each
  window's end), as one group; averaged over the day by the trapezoid rule.
- recomputed: the same refresh without marks, as the ingest did before (and still does for a
  late window): every window of the day read, at the same checkpoints.
- every30: before the last checkpoint, a refresh every 30 windows (a day re-marked before its
  refresh, as a rollup round longer than a window makes): influxd CPU per window.
- ratio = ours / limit. Goal (this bench's own budget, #20 "incremental rollups"): <= 1, a
  rollup costing InfluxDB no more than the write it follows, at every hour of the day.

Also printed: the projection to the programme (6,000 enterprises x 20 devices, one-minute
windows = 2,000 windows/s) in influxd cores for the rollups, and the late-day refresh alone.

    .venv/bin/python bench/rollup_growth.py [--quick] [--rounds 10] [--cache-snapshot 1m]

influxd keeps a shard's latest writes in memory until ``cache-snapshot-memory-size`` (25 MB by
default) and a read of recent points copies what the cache holds of each series and field:
one enterprise's day (28,800 windows) stays in the cache all day, so the merged refresh reads
grow with the day here. At the programme's rate (2,000 windows/s, ~1.5 KB each in the cache)
25 MB holds seconds of writes, and a device's tail is read from TSM blocks; ``--cache-snapshot
1m`` makes this one enterprise's cache hold minutes, as its share would.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common
from collector_ingest import minute_window

from collector.store import DayKey, InfluxStore, WindowRecord, day_marks
from stack import InfluxServer

DEVICES = 20
MINUTES_A_DAY = 1440
PROGRAMME_WINDOWS_S = 2000.0
MIDNIGHT = datetime(2026, 10, 30, tzinfo=UTC)
CHECKPOINTS = {"full": (60, 360, 720, 1080, 1440), "quick": (60, 180, 360)}


def _edge(minute: int) -> list[WindowRecord]:
    """The 20 windows that close on one edge, as one envelope of the gateway carries them."""
    start = MIDNIGHT + timedelta(minutes=minute)
    window = [minute_window(f"dev-{d:02d}", start) for d in range(DEVICES)]
    return [WindowRecord("plat-a", "ent-01", "gw-01", minute + 1, w) for w in window]


KEYS = [DayKey("ent-01", f"dev-{d:02d}", MIDNIGHT.date(), "UTC") for d in range(DEVICES)]
ZONES = {"ent-01": "UTC"}
#: Windows per refresh in the last measurement: a rollup lag of half an hour of windows,
#: measured over EVERY_ROUNDS refreshes before the last checkpoint.
EVERY, EVERY_ROUNDS = 30, 3


async def _write_until(store: InfluxStore, written: int, minute: int) -> None:
    # An hour of edges (1,200 windows) a write, as a replica's batch across many agents is:
    # writes of 20 lines would price InfluxDB's per-request cost, not the window's.
    for hour in range(written, minute, 60):
        await store.write([r for edge in range(hour, min(hour + 60, minute)) for r in _edge(edge)])


@dataclass
class Costs:
    """influxd CPU seconds per window: writing, and each refresh path at each checkpoint."""

    write_cpu_s: float = 0.0
    windows_written: int = 0
    merged: dict[int, float] = field(default_factory=dict)
    recomputed: dict[int, float] = field(default_factory=dict)
    every: float = 0.0


async def _merged_rounds(
    store: InfluxStore, pid: int, first: int, rounds: int, every: int = 1
) -> float:
    """``rounds`` refreshes from minute ``first``, each after ``every`` edges written (untimed)
    and with the marks the ingest would pass (the earliest window end written since the last
    refresh); influxd CPU per window refreshed. ``every`` > 1: a day marked again before its
    refresh (``rollup_every_s`` / ``rollup_max_lag_s`` longer than a window)."""
    cpu = 0.0
    for minute in range(first, first + rounds * every, every):
        edges = [record for edge in range(minute, minute + every) for record in _edge(edge)]
        await store.write(edges)  # 20 lines an edge: not counted as writing (_write_until)
        marks: dict[DayKey, int | None] = dict(day_marks(edges, ZONES))
        before = common.cpu_seconds(pid)
        done = await store.refresh_days(KEYS, marks)
        cpu += common.cpu_seconds(pid) - before
        if done.merged != DEVICES:
            raise RuntimeError(f"minute {minute}: expected {DEVICES} days merged, got {done}")
    return cpu / (rounds * every * DEVICES)


async def _recomputed_rounds(store: InfluxStore, pid: int, rounds: int) -> float:
    """``rounds`` refreshes of the 20 device-days without marks (every window of the day
    read); influxd CPU per device-day refreshed."""
    before = common.cpu_seconds(pid)
    for _ in range(rounds):
        await store.refresh_days(KEYS)
    return (common.cpu_seconds(pid) - before) / (rounds * DEVICES)


async def _write_counted(
    store: InfluxStore, pid: int, costs: Costs, written: int, minute: int
) -> int:
    """Write the edges from ``written`` to ``minute`` in batches, counting influxd's CPU."""
    before = common.cpu_seconds(pid)
    await _write_until(store, written, minute)
    costs.write_cpu_s += common.cpu_seconds(pid) - before
    costs.windows_written += (minute - written) * DEVICES
    return minute


async def measure(server: InfluxServer, checkpoints: tuple[int, ...], rounds: int) -> None:
    """Fill the day; at each checkpoint time both refresh paths; print them and the write."""
    pid = server.pid or 0
    costs, written = Costs(), 0
    async with InfluxStore(server.url, "rv") as store:
        await store.ensure_database()
        await store.ensure_retention()
        for minute in checkpoints:
            if minute == checkpoints[-1]:
                # Before the last checkpoint: a refresh every EVERY windows, as a rollup round
                # longer than a window makes (the day re-marked before its refresh).
                start = minute - rounds - EVERY_ROUNDS * EVERY
                written = await _write_counted(store, pid, costs, written, start)
                await store.refresh_days(KEYS)
                costs.every = await _merged_rounds(store, pid, start, EVERY_ROUNDS, EVERY)
                written = start + EVERY_ROUNDS * EVERY
            written = await _write_counted(store, pid, costs, written, minute - rounds)
            await store.refresh_days(KEYS)  # the rows as the ingest's refreshes kept them
            costs.merged[minute] = await _merged_rounds(store, pid, minute - rounds, rounds)
            costs.recomputed[minute] = await _recomputed_rounds(store, pid, rounds)
            written = minute
            print(f"  {minute:5d} windows in the day: a device-day's refresh costs influxd "
                  f"{costs.merged[minute] * 1e3:6.3f} ms CPU merged, "
                  f"{costs.recomputed[minute] * 1e3:6.2f} ms recomputed")  # fmt: skip
    print(f"  a refresh every {EVERY} windows (before {checkpoints[-1]}): "
          f"{costs.every * 1e3:6.3f} ms influxd CPU a window merged")  # fmt: skip
    _report(costs, checkpoints[-1], server.cache_snapshot_memory_size or "25m")


def _report(costs: Costs, day_minutes: int, cache_snapshot: str) -> None:
    limit = costs.write_cpu_s / costs.windows_written
    ours = _day_average(costs.merged, grows=False)
    recomputed = _day_average(costs.recomputed, grows=True)
    late = costs.merged[day_minutes]
    print(f"writing: {costs.windows_written} windows, influxd {limit * 1e6:.1f} us CPU a window")
    print(f"the programme ({PROGRAMME_WINDOWS_S:,.0f} windows/s in steady flow): rollups "
          f"{ours * PROGRAMME_WINDOWS_S:.2f} influxd cores averaged over the day "
          f"({recomputed * PROGRAMME_WINDOWS_S:.1f} recomputing), {late * PROGRAMME_WINDOWS_S:.2f} "
          f"at {day_minutes} windows a day; writes {limit * PROGRAMME_WINDOWS_S:.2f}")  # fmt: skip
    print(
        common.result_line(
            "rollup_growth",
            ours / limit,
            f"{ours * 1e6:.1f}us",
            f"{limit * 1e6:.1f}us",
            "<=1",
            late=f"{late * 1e6:.1f}us",
            **{f"every{EVERY}": f"{costs.every * 1e6:.1f}us"},
            **{f"ratio_every{EVERY}": f"{costs.every / limit:.2f}"},
            recomputed=f"{recomputed * 1e6:.0f}us",
            recomputed_ratio=f"{recomputed / limit:.1f}",
            day_minutes=str(day_minutes),
            cache_snapshot=cache_snapshot,
            load=common.load_average().replace(" ", "/"),
        )
    )


def _day_average(per_window: dict[int, float], *, grows: bool) -> float:
    """The cost of a refresh averaged over the windows from the day's start to the last
    checkpoint (trapezoid rule). ``grows``: the cost is 0 at the day's start (a recompute reads
    the windows before it); else flat before the first checkpoint (a merge reads one window)."""
    first = min(per_window)
    points = [(0, 0.0 if grows else per_window[first]), *sorted(per_window.items())]
    area = sum((b - a) * (ca + cb) / 2 for (a, ca), (b, cb) in itertools.pairwise(points))
    return area / points[-1][0]


def main() -> None:
    """Parse the arguments, start influxd in a temporary folder, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the day's first 6 hours")
    parser.add_argument("--rounds", type=int, default=10, help="refreshes timed per checkpoint")
    parser.add_argument(
        "--cache-snapshot",
        metavar="SIZE",
        help="influxd's cache-snapshot-memory-size (default 25m: this enterprise's whole day "
        "stays in the cache; 1m: the cache holds minutes of it, as at the programme's rate)",
    )
    args = parser.parse_args()
    checkpoints = CHECKPOINTS["quick" if args.quick else "full"]
    print(f"rollup_growth: {common.machine_summary()}; load average {common.load_average()}")
    with tempfile.TemporaryDirectory(prefix="rollup-growth-") as folder:
        server = InfluxServer(
            Path(folder) / "influxd", cache_snapshot_memory_size=args.cache_snapshot
        )
        server.start()
        try:
            asyncio.run(measure(server, checkpoints, args.rounds))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
