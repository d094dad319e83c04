"""What the fleet feed's day-seal points add to each snapshot, beside the bare read of the rows.

The fleet feed (collector/dashboards/feed.py) runs inside ``retrofit-collector ingest`` every
``ingest.fleet_snapshot_s`` (60 s) and, for the ``fleet_day_seals`` and
``fleet_day_seal_difference`` points, reads every ``day_checks`` row of every enterprise with
agents through the registry's day-seal calls (there is no count query) and tallies them. This
measures, on a SQLite registry with the example plan's agents and ``--days`` checked days per
device (one measured row each; every ``--different``-th sealed and different, every
``--unsealed``-th unsealed), ``--runs`` times, in this process:

- ours: ``read_day_checks`` + ``day_seal_lines`` (what one snapshot adds);
- limit: the same rows read bare with sqlite3 (``SELECT * FROM day_checks``), nothing built.

ratio = median ours / median limit. goal: ours well under the snapshot interval; 1 s (under 2 %
of 60 s, in the ingest's registry thread) is the line drawn here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import common

from collector.dashboards.feed import day_seal_lines, read_day_checks
from collector.plan import load_plan
from collector.registry import DayCheck, Registry, SealDifference

PLAN = Path(__file__).parents[1] / "deploy" / "examples" / "plan.yaml"
FIRST_DAY = dt.date(2026, 1, 1)
NOW = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)


def _check(
    agent: str, device: str, platform: str, enterprise: str, n: int, args: argparse.Namespace
) -> DayCheck:
    day = FIRST_DAY + dt.timedelta(days=n)
    unsealed = n % args.unsealed == 0
    different = not unsealed and n % args.different == 0
    differences = (SealDifference("energy_kwh", 41.0, 41.5),) if different else ()
    return DayCheck(
        agent_id=agent, device=device, provenance="measured", day=day, platform=platform,
        enterprise=enterprise,
        outcome="unsealed" if unsealed else "sealed_different" if different else "sealed_equal",
        seal_sha256=None if unsealed else f"{n:064x}", differences=differences,
        root_checked=True, checked_at=NOW, checked_by="refresh",
    )  # fmt: skip


def _fill(registry: Registry, args: argparse.Namespace) -> int:
    registry.load_plan(load_plan(PLAN), by="bench")
    rows = 0
    for agent in registry.agents():
        checks = [
            _check(agent.agent_id, device, agent.platform, agent.enterprise, n, args)
            for device in agent.devices
            for n in range(args.days)
        ]
        registry.put_day_checks(checks)
        rows += len(checks)
    return rows


def _median_s(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--different", type=int, default=97)
    parser.add_argument("--unsealed", type=int, default=31)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"fleet_day_seals: {common.machine_summary()}; load {common.load_average()}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "registry.sqlite"
        with Registry(path) as registry:
            rows = _fill(registry, args)
            agents = registry.agents()

            def ours() -> object:
                return day_seal_lines(read_day_checks(registry, agents), NOW)

            lines = len(day_seal_lines(read_day_checks(registry, agents), NOW))
            ours_s = _median_s(ours, args.runs)
        bare = sqlite3.connect(path)
        try:
            limit_s = _median_s(
                lambda: bare.execute("SELECT * FROM day_checks").fetchall(), args.runs
            )
        finally:
            bare.close()
    print(f"  {len(agents)} agents, {rows} day_checks rows, {lines} lines per snapshot")
    print(f"  ours  (read_day_checks + day_seal_lines) median {ours_s * 1000:8.1f} ms")
    print(f"  limit (sqlite3, every day_checks row) median {limit_s * 1000:8.1f} ms")
    print(
        common.result_line(
            "fleet_day_seals",
            ours_s / limit_s,
            f"{ours_s:.3f}s",
            f"{limit_s:.3f}s",
            "ours<1s",
            rows=str(rows),
        )
    )


if __name__ == "__main__":
    main()
