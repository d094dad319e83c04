"""RSS and CPU of the real ``retrofit-agent run`` with 20 devices x 25 tags polled at 1 Hz.

Setup, all child processes on this machine: a real mosquitto (``stack.MosquittoServer``), the
plant simulator (``retrofit-sim run``, 20 Modbus machines, wall clock, speed 1), a QoS 1
subscriber standing in for the collector, and the agent itself (``retrofit-agent run CONFIG
--health-file F``) with 20 ``modbus_tcp`` devices of 25 tags each (bench/common.py; roles state,
total_count, reject_count, energy_kwh, power_kw, the rest info), 60-s windows. The config must
pass ``retrofit-agent check-config --offline`` first.

Beside it, in the same run, a bare pymodbus poller (``bench/common.py bare-poll``: the same two
coalesced reads per device at 1 Hz, one connection per device, nothing else) is sampled the same
way: the floor any Python poller pays for the same reads.

Sampling: VmRSS (``/proc/PID/status``) every second; CPU = utime + stime (``/proc/PID/stat``,
all threads) over 5-s intervals, in % of one core. Medians and maxima after a warm-up.

The ratio line's limit is the goal itself (60 MB RSS, 5 % of one core): ratio = the worse of
rss/60 MB and cpu/5 %, so ratio <= 1.0 means both goals are met.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common
import yaml

from agent.keys import generate_key_pair
from contract import wire
from stack import MosquittoServer

DEVICES = 20
GOAL_RSS_MB = 60.0
GOAL_CPU_PCT = 5.0


def write_agent_config(workdir: Path, sim: common.SimProcess, broker: MosquittoServer) -> Path:
    """The agent's YAML config for the simulated plant; returns its path."""
    key = workdir / "agent.key"
    generate_key_pair(key)
    host, port = sim.modbus
    config: dict[str, Any] = {
        "agent": {
            "id": "gw-bench",
            "platform": "plat-bench",
            "enterprise": "ent-bench",
            "key_path": str(key),
            "outbox_path": str(workdir / "outbox.sqlite"),
            "window_s": 60,
        },
        "broker": {"host": broker.host, "port": broker.port},
        "devices": [common.device_config(unit, host, port) for unit in range(1, DEVICES + 1)],
    }
    path = workdir / "agent.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def check_config(path: Path) -> None:
    """Run ``retrofit-agent check-config --offline``; raises RuntimeError if it fails."""
    argv = [*common.script("retrofit-agent"), "check-config", str(path), "--offline"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"check-config failed ({result.returncode}):\n{result.stdout}")


def _sample(duration_s: float, agent: common.ProcessSampler, bare: common.ProcessSampler) -> None:
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        agent.sample()
        bare.sample()
        time.sleep(1.0)


def _health(path: Path) -> dict[str, Any]:
    try:
        health: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return health


def run(workdir: Path, duration_s: float, warmup_s: float) -> None:
    """Start everything, sample, stop everything, print the figures and the result line."""
    with (
        MosquittoServer(workdir / "mqtt") as broker,
        common.SimProcess(workdir / "sim", machines=DEVICES) as sim,
    ):
        config = write_agent_config(workdir, sim, broker)
        check_config(config)
        subscriber = common.start_subscriber(
            broker.host, broker.port, wire.shared_filter("collectors", "windows"), workdir
        )
        health_path = workdir / "health.json"
        argv = [*common.script("retrofit-agent"), "run", str(config), "--health-file",
                str(health_path)]  # fmt: skip
        bare_argv = [sys.executable, str(common.BENCH_DIR / "common.py"), "bare-poll",
                     sim.modbus[0], str(sim.modbus[1]), str(DEVICES), "1"]  # fmt: skip
        with (workdir / "agent.log").open("w") as agent_log:
            agent = subprocess.Popen(argv, stdout=agent_log, stderr=subprocess.STDOUT)
            bare = subprocess.Popen(bare_argv, stderr=agent_log)
            try:
                agent_samples = common.ProcessSampler(agent.pid, warmup_s)
                bare_samples = common.ProcessSampler(bare.pid, warmup_s)
                started = time.monotonic()
                _sample(duration_s, agent_samples, bare_samples)
                elapsed_s = time.monotonic() - started
                health = _health(health_path)
            finally:
                code = common.stop_process(agent)
                common.stop_process(bare)
        received = common.subscriber_count(subscriber)
    _report(agent_samples, bare_samples, health, elapsed_s, code, received)


def _report(
    agent: common.ProcessSampler,
    bare: common.ProcessSampler,
    health: dict[str, Any],
    elapsed_s: float,
    exit_code: int | None,
    batches_received: int,
) -> None:
    devices = health.get("devices", {}).values()
    polls = sum(d.get("polls", 0) for d in devices)
    bad = sum(d.get("bad_values", 0) for d in devices)
    closed = sum(d.get("windows_closed", 0) for d in devices)
    print(
        f"agent: {polls} device polls ({polls * common.TAGS_PER_DEVICE / elapsed_s:.0f} tags/s "
        f"over {elapsed_s:.0f} s, health file ~5 s old), {bad} bad values, {closed} windows "
        f"closed, {batches_received} batches at the subscriber, exit code {exit_code}"
    )
    ours, floor = agent.summary(), bare.summary()
    for name, figures in (("agent", ours), ("bare pymodbus poller", floor)):
        print(
            f"{name}: RSS median {figures['rss_mb']:.1f} MB (max {figures['rss_max_mb']:.1f}), "
            f"CPU median {figures['cpu_pct']:.1f} % of a core (max {figures['cpu_max_pct']:.1f})"
        )
    ratio = max(ours["rss_mb"] / GOAL_RSS_MB, ours["cpu_pct"] / GOAL_CPU_PCT)
    print(
        common.result_line(
            "agent_footprint",
            ratio,
            f"{ours['rss_mb']:.1f}MB/{ours['cpu_pct']:.1f}%",
            f"{GOAL_RSS_MB:.0f}MB/{GOAL_CPU_PCT:.0f}%",
            "<=1.0",
            rss_mb=f"{ours['rss_mb']:.1f}",
            rss_max_mb=f"{ours['rss_max_mb']:.1f}",
            cpu_pct=f"{ours['cpu_pct']:.1f}",
            cpu_max_pct=f"{ours['cpu_max_pct']:.1f}",
            bare_rss_mb=f"{floor['rss_mb']:.1f}",
            bare_cpu_pct=f"{floor['cpu_pct']:.1f}",
        )
    )


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    args = parser.parse_args()
    duration_s, warmup_s = (45.0, 10.0) if args.quick else (240.0, 30.0)
    print(f"agent_footprint: {common.machine_summary()}")
    print(
        f"{DEVICES} devices x {common.TAGS_PER_DEVICE} tags at 1 Hz (wall clock), "
        f"{duration_s:g} s, first {warmup_s:g} s not counted"
    )
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as workdir:
        run(Path(workdir), duration_s, warmup_s)


if __name__ == "__main__":
    main()
