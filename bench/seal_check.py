"""Seconds the evidence gather's seal check adds: 10 devices x 180 days of daily rows against
their day seals (issue 17, ``collector.bundle.check_rows``).

Setup (not measured): hourly windows per device-day, folded into seal parts with the agent's
own accumulator (``contract.daysums.DayAccumulator``), signed as day seals; one stored row per
part, its float sums one ulp away from the sealed ones (InfluxDB adds in another order), so
every row is compared within the bound and substituted. ``--quick``: 2 devices x 44 days.

- ours: ``check_rows`` (decode every latest seal, compare every row, merge, substitute).
  Median of 3.
- limit: the irreducible part, decoding the same seals once (``DaySealEntry.message``: what
  the signed bytes say must be read to compare anything). Median of 3.
- ratio = ours / limit. Goal (this bench's own budget, not the issue's): ours < 1 s for
  1 800 device-days, half the evidence bench's 2 s for the whole document.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import common
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.bundle import check_rows
from collector.registry import DaySealEntry
from collector.store import DailyRow
from contract import daysums, wire

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ZONE = dt.timezone(dt.timedelta(hours=8))
FIRST_DAY = dt.date(2026, 1, 1)
DIGEST = wire.config_digest(b"bench agent config")


def _window(device: str, end: dt.datetime, hour: int) -> wire.KpiWindow:
    working = 8 <= hour < 16
    total = 150 + hour if working else 0
    quality = wire.DataQuality(
        samples=3600, missed_polls=0, bad_values=0, comm_loss_s=0.0,
        scheduled_comm_loss_s=0.0, counter_resets=0, meter_resets=0, clock_jumps=0,
    )  # fmt: skip
    return wire.KpiWindow(
        device=device, start=end - dt.timedelta(hours=1), end=end, provenance="measured",
        config_digest=DIGEST, scheduled_s=3600.0 * working, planned_s=3600.0 * working,
        run_s=(2900.0 + hour / 3) * working, idle_s=0.0, down_s=(700.0 - hour / 3) * working,
        off_s=3600.0 * (not working), planned_stop_s=0.0, total_count=total,
        good_count=total - 3 * working, reject_count=3 * working,
        energy_kwh=0.7 + 4.1 * working + hour / 11, ideal_cycle_s=17.3,
        ideal_good_s=17.3 * (total - 3 * working), unobserved_count=0,
        unsampled_run_s=0.0, quality=quality,
    )  # fmt: skip


def _device_day(device: str, day: dt.date, seq: int, index: int) -> tuple[DaySealEntry, DailyRow]:
    accumulator = daysums.DayAccumulator()
    for hour in range(24):
        end = dt.datetime.combine(day, dt.time(hour), tzinfo=ZONE) + dt.timedelta(hours=1)
        accumulator.add(_window(device, end.astimezone(dt.UTC), hour), seq + hour)
    part = daysums.part_from(accumulator)
    seal = wire.seal_day_seal(
        platform="plat-a", enterprise="ent-01", agent="gw-01", seq=seq + 24,
        sent=dt.datetime(2026, 9, 1, tzinfo=dt.UTC), device=device, day=day,
        tz="Asia/Shanghai", version=1, supersedes=None, index=index,
        prev=None if index == 1 else "0" * 64, dropped_windows=0, parts=[part], key=KEY,
    )  # fmt: skip
    raw = wire.encode(seal)
    entry = DaySealEntry(
        seal_sha256=wire.day_seal_sha256(raw), agent_id="gw-01", platform="plat-a",
        enterprise="ent-01", device=device, day=day, tz="Asia/Shanghai", version=1,
        chain_index=index, prev_sha256=seal.prev, supersedes_sha256=None, seq=seq + 24,
        received_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC), raw=raw,
    )  # fmt: skip
    figures = daysums.row_figures(part)
    row = DailyRow(
        platform="plat-a", enterprise="ent-01", agent="gw-01", device=device,
        provenance="measured", day=day, tz="Asia/Shanghai", **figures,
    )  # fmt: skip
    run_s = row.run_s or 0.0
    return entry, replace(row, run_s=math.nextafter(run_s, math.inf))


def _median_s(work: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 devices x 44 days")
    args = parser.parse_args()
    devices, days = (2, 44) if args.quick else (10, 180)
    print(f"seal_check: {common.machine_summary()}; load average {os.getloadavg()[0]:.2f}")
    pairs = [
        _device_day(f"press-{d}", FIRST_DAY + dt.timedelta(days=n), 1 + 100 * n, n + 1)
        for d in range(devices)
        for n in range(days)
    ]
    entries, rows = [e for e, _ in pairs], [r for _, r in pairs]
    at = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    checked = check_rows(rows, entries, [], checked_at=at)
    equal = sum(c.outcome == "sealed_equal" for c in checked.checks)
    if equal != len(rows):
        raise SystemExit(f"expected every row sealed_equal, got {equal} of {len(rows)}")
    ours = _median_s(lambda: check_rows(rows, entries, [], checked_at=at))
    limit = _median_s(lambda: [entry.message() for entry in entries])
    print(f"{len(rows)} device-days, all sealed_equal and substituted")
    print(
        common.result_line(
            "seal_check",
            ours / limit,
            f"{ours:.3f}s",
            f"{limit:.3f}s",
            "ours<1s",
            ratio_means="ours/limit",
            load=f"{os.getloadavg()[0]:.2f}",
        )
    )


if __name__ == "__main__":
    main()
