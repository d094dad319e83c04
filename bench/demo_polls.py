"""The demo's default run for a few plant days: polls kept, and CPU per plant day per process.

Starts what ``deploy/local/demo.sh`` starts (its own functions: mosquitto, influxd, the registry
with the plan, the simulator, the ingest with its rollups, one agent per enterprise) at the
speed the demo would choose on this machine now (or ``--speed``), lets the quiet weekend pass
(40 plant hours: the agents connect), measures ``--days`` working plant days from Monday 00:00,
then stops the agents and reads their health files.

Two figures:

- **polls kept**: the agents' polls made ÷ polls their grid asked for, over the whole run
  (``polls_skipped`` counts the grid points that passed while a poll still ran). The goal is
  95 % on an otherwise idle 2-core machine: ``ratio = kept / 0.95``.
- **CPU per plant day** of each process, from ``/proc/<pid>/stat`` (user + system) over the
  measured days. CPU per plant second does not depend on the machine's load as long as the
  polls are kept (a skipped poll costs nothing): it says what speed the cores can carry. The
  last column is the share of one core each process needs at the default speed, the sum what
  the run asks of the machine. ``deploy/local/demo.py`` (``PLANT_COST``) holds these figures.

    .venv/bin/python bench/demo_polls.py [--days 3] [--speed S] [--enterprises 12]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

import yaml
from common import REPO_ROOT, cpu_seconds, load_average, machine_summary, result_line

from sim.scenario import demo_enterprises, timeline
from stack import InfluxServer, MosquittoServer

GOAL = 0.95


def _demo_module() -> ModuleType:
    """``deploy/local/demo.py``, imported as the demo script imports its neighbours."""
    sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))
    return importlib.import_module("demo")


@dataclass(frozen=True)
class Sample:
    """CPU seconds of each named process at one wall moment."""

    wall: float
    cpu_s: dict[str, float]


def _pids(run: object) -> dict[str, int]:
    """Every process of the running demo by name (children, broker, InfluxDB)."""
    pids = {c.name: c.pid for c in run.children if c.pid is not None}  # type: ignore[attr-defined]
    pids["mosquitto"] = run.broker.pid  # type: ignore[attr-defined]
    pids["influxd"] = run.influx.pid  # type: ignore[attr-defined]
    return {name: pid for name, pid in pids.items() if pid is not None}


def _sample(pids: dict[str, int]) -> Sample:
    cpu: dict[str, float] = {}
    for name, pid in pids.items():
        try:
            cpu[name] = cpu_seconds(pid)
        except OSError:  # gone: the table says so
            cpu[name] = float("nan")
    return Sample(time.monotonic(), cpu)


def _wait_for(run: object, moment: dt.datetime) -> None:
    """Sleep until the plant clock reaches ``moment``; stop if a child stopped."""
    while (left := run.wall_s_until(moment)) > 0:  # type: ignore[attr-defined]
        crashed = [c.name for c in run.children if c.returncode not in (None, 0)]  # type: ignore[attr-defined]
        if crashed:
            raise SystemExit(f"demo_polls: {', '.join(crashed)} stopped (see the logs)")
        time.sleep(min(left, 0.5))


def kept_by_protocol(out: Path) -> dict[str, float]:
    """Share of polls kept per protocol the simulator serves the machine on (its plant file)."""
    plant = yaml.safe_load((out / "plant.yaml").read_text("utf-8"))
    protocol = {m["id"]: m["protocol"] for m in plant["machines"]}
    made: dict[str, list[int]] = {}
    for path in (out / "agents").glob("*.health.json"):
        for device, counts in json.loads(path.read_text("utf-8"))["devices"].items():
            pair = made.setdefault(protocol.get(device, "?"), [0, 0])
            pair[0] += int(counts["polls"])
            pair[1] += int(counts["polls"]) + int(counts["polls_skipped"])
    return {name: polls / asked for name, (polls, asked) in sorted(made.items()) if asked}


def _group(name: str) -> str:
    return "agents (each)" if name.startswith("agent-") else name


def report(first: Sample, last: Sample, plant_days: float, speed: float, default: float) -> float:
    """Print CPU per plant day per process; return the sum of cores needed at ``default``."""
    rows: dict[str, list[float]] = {}
    for name, start in first.cpu_s.items():
        rows.setdefault(_group(name), []).append(last.cpu_s[name] - start)
    print(f"CPU over {plant_days:.2f} plant days at {speed:,.0f}x "
          f"({last.wall - first.wall:.1f} wall s):")  # fmt: skip
    print(f"  {'process':<16}{'CPU s':>9}{'s / plant day':>15}{f'core at {default:,.0f}x':>18}")
    total_core = 0.0
    for name, values in sorted(rows.items(), key=lambda item: -sum(item[1])):
        per_day = sum(values) / len(values) / plant_days
        core = per_day * default / 86_400
        total_core += core * len(values)
        count = f" x{len(values)}" if len(values) > 1 else ""
        print(f"  {name + count:<16}{sum(values) / len(values):>9.2f}{per_day:>15.3f}{core:>18.2f}")
    print(f"  all processes need {total_core:.2f} of {os.cpu_count()} cores at {default:,.0f}x")
    return total_core


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0, help="working plant days measured")
    parser.add_argument("--speed", type=float, help="plant clock speed (default: the demo's)")
    parser.add_argument("--enterprises", type=int, default=12)
    parser.add_argument(
        "--poll-interval-s", type=float, help="the agents' poll interval (default: the demo's)"
    )
    parser.add_argument("--out", type=Path, help="keep the run's folder (logs) here")
    args = parser.parse_args()
    demo = _demo_module()
    print(machine_summary())
    print(f"load before: {load_average()}")
    choice = None if args.speed else demo.choose_speed(demo.FULL, args.enterprises)
    speed = args.speed or (choice.speed if choice else demo.FULL.speed)
    why = "--speed" if args.speed else (choice.reason if choice else "the mode's speed")
    print(f"speed {speed:,.0f}x ({why})")
    mode = replace(demo.FULL, enterprises=args.enterprises, speed=speed)
    if args.poll_interval_s:
        mode = replace(mode, settings=replace(mode.settings, poll_interval_s=args.poll_interval_s))
    print(f"agents poll every {mode.settings.poll_interval_s:g} plant s")
    with tempfile.TemporaryDirectory(prefix="demo-polls-") as folder:
        out = args.out.resolve() if args.out else Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        demo.fresh_out_dir(out)
        days = timeline(mode.period_days)
        run = demo.Demo(
            out=out,
            mode=mode,
            enterprises=demo_enterprises(mode.enterprises),
            days=days,
            broker=MosquittoServer(out / "mosquitto"),
            influx=InfluxServer(out / "influxd"),
        )
        try:
            demo.start_plant(run)
            # From Monday 00:00 on, or from when everything was up if that was later.
            monday = dt.datetime.combine(days.baseline[0], dt.time(0), days.plant_start.tzinfo)
            begin = max(monday, run.plant_time())
            _wait_for(run, begin)
            first = _sample(_pids(run))
            _wait_for(run, begin + dt.timedelta(days=args.days))
            last = _sample(_pids(run))
            plant_days = (last.wall - first.wall) * speed / 86_400
            demo.stop_together(list(run.agents.values()))  # their health files' last write
            kept = demo.poll_share(run) or 0.0
            by_protocol = kept_by_protocol(out)
        finally:
            run.stop_all()
    print(f"load after: {load_average()}")
    total_core = report(first, last, plant_days, speed, demo.FULL.speed)
    shares = ", ".join(f"{name} {100 * share:.0f} %" for name, share in by_protocol.items())
    print(f"agents kept {100 * kept:.1f} % of their polls (goal {100 * GOAL:.0f} %): {shares}")
    print(result_line(
        "demo_polls", kept / GOAL, f"{100 * kept:.1f}%", f"{100 * GOAL:.0f}%", ">=1",
        speed=f"{speed:.0f}", cores_at_default=f"{total_core:.2f}",
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
