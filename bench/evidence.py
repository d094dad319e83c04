"""Seconds to one enterprise's evidence from InfluxDB: through the daily rollups vs every window.

Setup: a real influxd (``stack``) and a registry with the example plan; enterprise ``ent-01``
with 10 devices x 180 days of 60-s windows (2,592,000 windows; ``--quick``: 1 device x 44
days), written through the store's line-protocol path (``InfluxStore.write``) a day at a time,
each day's rollups refreshed as ingest does (``refresh_daily``).

- ours: ``collector.bundle.build_enterprise_evidence``: the registry, the ``kpi_daily`` rows
  of the enterprise's periods, the whole evidence document (bootstrap, HAC, energy model,
  flags). Median of 3 runs, after one warm-up.
- limit (naive): the same document from every raw window: ``InfluxStore.windows`` in chunks
  of 10 days per device, daily sums in Python, then the same assembly. One run.
- ratio = naive / ours (the brief's goal: ours <= 2 s and ratio >= 20). Both documents must
  give the same verdicts, or the bench fails.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import common

from agent import wire
from collector.bundle import build_enterprise_evidence, gather_enterprise
from collector.evidence import current_software, enterprise_evidence
from collector.evidence.document import EnterpriseEvidence
from collector.registry import Registry, load_plan
from collector.store import DailyRow, InfluxStore, WindowRecord
from collector.store.rollup import day_of
from stack import InfluxServer

PLAN = common.REPO_ROOT / "deploy" / "examples" / "plan.yaml"
PLATFORM, ENTERPRISE, AGENT = "plat-a", "ent-01", "ent-01-gw1"
ZONE = ZoneInfo("Asia/Shanghai")
FIRST_DAY = date(2026, 2, 2)  # the example plan's baseline starts here; reporting 2026-06-01
GO_LIVE = date(2026, 5, 6)
DIGEST = wire.config_digest(b"bench agent.yaml")
CHUNK_DAYS = 10
_SUMMED = (
    "scheduled_s", "planned_s", "run_s", "idle_s", "down_s", "off_s", "planned_stop_s",
    "total_count", "good_count", "reject_count", "energy_kwh",
)  # fmt: skip
_INTEGER_SUMS = frozenset(
    {"windows", "total_count", "good_count", "reject_count", "samples", "missed_polls",
     "bad_values", "counter_resets", "meter_resets", "clock_jumps"}
)  # fmt: skip
_QUALITY = (
    "samples", "missed_polls", "bad_values", "comm_loss_s", "scheduled_comm_loss_s",
    "counter_resets", "meter_resets", "clock_jumps",
)  # fmt: skip


def _days(quick: bool) -> list[date]:
    if not quick:
        return [FIRST_DAY + timedelta(days=n) for n in range(180)]
    baseline = [FIRST_DAY + timedelta(days=n) for n in range(22)]
    return baseline + [date(2026, 6, 1) + timedelta(days=n) for n in range(22)]


def _window(
    device: int, start: datetime, minute: int, rng: random.Random, a: float
) -> wire.KpiWindow:
    """One minute of a two-shift day (06:00-22:00 planned): running with probability ``a``,
    2 parts a running minute, a reject now and then, energy following the parts."""
    planned = 360 <= minute < 1320
    running = planned and rng.random() < a
    count = 2 if running else 0
    reject = 1 if count and rng.random() < 0.02 else 0
    quality = wire.DataQuality.model_construct(
        samples=60, missed_polls=0, bad_values=0, comm_loss_s=0.0, scheduled_comm_loss_s=0.0,
        counter_resets=0, meter_resets=0, clock_jumps=0,
    )  # fmt: skip
    # model_construct: the values are built right here; validation would only time pydantic.
    return wire.KpiWindow.model_construct(
        kind="kpi_window", device=f"dev-{device:02d}", start=start,
        end=start + timedelta(minutes=1), provenance="measured", partial=False,
        config_digest=DIGEST, scheduled_s=60.0 if planned else 0.0,
        planned_s=60.0 if planned else 0.0, run_s=60.0 if running else 0.0,
        idle_s=0.0 if running or not planned else 60.0, down_s=0.0,
        off_s=0.0 if planned else 60.0, planned_stop_s=0.0, total_count=count,
        good_count=count - reject, reject_count=reject,
        energy_kwh=0.05 + 0.02 * count + rng.uniform(0.0, 0.01),
        ideal_cycle_s=20.0, quality=quality,
    )  # fmt: skip


def _day_records(day: date, devices: int, seq: int) -> list[WindowRecord]:
    """A day of every device; availability 75 % (80 % after go-live) +- 4 pp per device-day."""
    rng = random.Random(f"{day}")
    midnight = datetime.combine(day, clock(), tzinfo=ZONE).astimezone(UTC)
    records = []
    for device in range(devices):
        a = (0.80 if day >= GO_LIVE else 0.75) + rng.gauss(0, 0.04)
        for minute in range(1440):
            win = _window(device, midnight + timedelta(minutes=minute), minute, rng, a)
            records.append(WindowRecord(PLATFORM, ENTERPRISE, AGENT, seq, win))
    return records


async def load(store: InfluxStore, days: Sequence[date], devices: int) -> int:
    """Write every window a day at a time and refresh that day's rollups; return windows."""
    written = 0
    for index, day in enumerate(days):
        records = _day_records(day, devices, seq=index + 1)
        await store.write(records)
        await store.refresh_daily(records, {ENTERPRISE: "Asia/Shanghai"})
        written += len(records)
    return written


def _rows_from_windows(records: Sequence[WindowRecord]) -> list[DailyRow]:
    """Daily sums in Python, the naive way: one DailyRow per device and local day."""
    sums: dict[tuple[str, date], dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for record in records:
        w = record.window
        day = sums[(w.device, day_of(w.end, ZONE))]
        for name in _SUMMED:
            day[name] += getattr(w, name) or 0
        for name in _QUALITY:
            day[name] += getattr(w.quality, name)
        day["ideal_count_s"] += (w.ideal_cycle_s or 0) * (w.total_count or 0)
        day["duration_s"] += (w.end - w.start).total_seconds()
        day["windows"] += 1
        day["first_start"] = min(day.get("first_start") or w.start, w.start)
        day["last_end"] = max(day.get("last_end") or w.end, w.end)
        low = day.get("ideal_cycle_s_min")
        day["ideal_cycle_s_min"] = min(low, w.ideal_cycle_s) if low else w.ideal_cycle_s
        day["ideal_cycle_s_max"] = max(day.get("ideal_cycle_s_max") or 0, w.ideal_cycle_s)
    rows = []
    for (device, day), found in sums.items():
        values = {
            name: int(value) if name in _INTEGER_SUMS else value for name, value in found.items()
        }
        windows = values.pop("windows")
        first_start, last_end = values.pop("first_start"), values.pop("last_end")
        rows.append(
            DailyRow(
                platform=PLATFORM,
                enterprise=ENTERPRISE,
                agent=AGENT,
                device=device,
                provenance="measured",
                day=day,
                tz="Asia/Shanghai",
                windows=windows,
                partial_windows=0,
                config_digests=1,
                first_start=first_start,
                last_end=last_end,
                config_digest_first=DIGEST,
                config_digest_last=DIGEST,
                **values,
            )
        )
    return rows


async def naive(registry: Registry, store: InfluxStore) -> EnterpriseEvidence:
    """Every raw window of the periods, daily sums in Python, the same assembly."""
    inputs = await gather_enterprise(registry, store, ENTERPRISE)
    enterprise = inputs.enterprise
    first = enterprise.baseline.start
    last = max(p.end for p in enterprise.reporting_periods)
    devices = sorted({row.device for row in inputs.rows})
    records: list[WindowRecord] = []
    for device in devices:
        day = first
        while day <= last:
            start = datetime.combine(day, clock(), tzinfo=ZONE)
            end = start + timedelta(days=CHUNK_DAYS)
            records += await store.windows(ENTERPRISE, start, end, device=device)
            day += timedelta(days=CHUNK_DAYS)
    rows = tuple(_rows_from_windows(records))
    return enterprise_evidence(replace(inputs, rows=rows), software=current_software())


async def measure(workdir: Path, quick: bool) -> None:
    """Start influxd, load the windows, time both paths, print the figures and result line."""
    days = _days(quick)
    devices = 1 if quick else 10
    server = InfluxServer(workdir / "influxd")
    server.start()
    try:
        with Registry(workdir / "registry.sqlite") as registry:
            registry.load_plan(load_plan(PLAN), by="bench")
            async with InfluxStore(server.url, "rv", timeout_s=300) as store:
                await store.ensure_database()
                await store.ensure_retention()
                started = time.perf_counter()
                windows = await load(store, days, devices)
                print(f"loaded {windows} windows ({devices} devices x {len(days)} days) in "
                      f"{time.perf_counter() - started:.1f} s")  # fmt: skip
                await build_enterprise_evidence(registry, store, ENTERPRISE)  # warm-up
                ours_runs = []
                for _ in range(3):
                    started = time.perf_counter()
                    ours_doc = await build_enterprise_evidence(registry, store, ENTERPRISE)
                    ours_runs.append(time.perf_counter() - started)
                started = time.perf_counter()
                naive_doc = await naive(registry, store)
                naive_s = time.perf_counter() - started
    finally:
        server.stop()
    verdicts = [[(k.kpi, k.status) for k in a.kpis] for a in ours_doc.attempts]
    if verdicts != [[(k.kpi, k.status) for k in a.kpis] for a in naive_doc.attempts]:
        raise SystemExit(f"the two paths disagree: {verdicts}")
    ours = statistics.median(ours_runs)
    print(f"ours runs: {', '.join(f'{s:.3f}' for s in ours_runs)} s; verdicts {verdicts}")
    print(f"naive: {naive_s:.2f} s ({windows} windows read)")
    print(
        common.result_line(
            "evidence",
            naive_s / ours,
            f"{ours:.3f}s",
            f"{naive_s:.2f}s",
            "ours<=2s,ratio>=20",
            ratio_means="naive/ours",
        )
    )


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    args = parser.parse_args()
    print(f"evidence: {common.machine_summary()}")
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        started = time.perf_counter()
        asyncio.run(measure(Path(tmp), args.quick))
        print(f"{time.perf_counter() - started:.2f} s wall")


if __name__ == "__main__":
    main()
