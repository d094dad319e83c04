"""RSS and CPU of the real ``retrofit-agent run`` with 20 devices x 25 tags polled at 1 Hz.

Two agents in turn, each with its own simulator, all child processes on this machine: a real
mosquitto (``stack.MosquittoServer``), the plant simulator (``retrofit-sim run``, 20 machines,
wall clock, speed 1), a QoS 1 subscriber standing in for the collector, and the agent itself
(``retrofit-agent run CONFIG --health-file F``) with 60-s windows:

- **modbus**: 20 ``modbus_tcp`` devices of 25 tags each (bench/common.py; roles state,
  total_count, reject_count, energy_kwh, power_kw, the rest info). Beside it, in the same run,
  a bare pymodbus poller (``bench/common.py bare-poll``: the same two coalesced reads per
  device at 1 Hz, one connection per device, nothing else) is sampled the same way: the floor
  any Python poller pays for the same reads.
- **opcua**: 20 ``opcua`` devices of 25 tags each on the simulator's OPC UA server (the same
  roles; info tags over each machine's eight variables), subscriptions at 1 Hz.

Each config must pass ``retrofit-agent check-config --offline`` first. Sampling: VmRSS
(``/proc/PID/status``) every second; CPU = utime + stime (``/proc/PID/stat``, all threads) over
5-s intervals, in % of one core. Medians and maxima after a warm-up.

Also printed: the resident memory each import adds in a fresh interpreter, in the order the
agent's run path meets them, so the share of each library (pydantic's among them) is visible.

The ratio lines' limits are the goals themselves (issue 20): Modbus-only agent 35 MB RSS and 2 %
of one core, OPC UA agent 50 MB; ratio = the worse of rss/goal and cpu/goal, so ratio <= 1.0
means the goals are met.
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
#: (RSS MB, CPU % of a core) per agent kind; CPU None where the issue sets no goal.
GOALS: dict[str, tuple[float, float | None]] = {"modbus": (35.0, 2.0), "opcua": (50.0, None)}

#: The run path's imports in the order it meets them (agent.run, then the service, then the
#: protocol's source), with what each stands for.
IMPORT_STEPS: dict[str, list[tuple[str, str]]] = {
    "common": [
        ("asyncio", "asyncio (+ ssl)"),
        ("sqlite3", "sqlite3"),
        # The agent signs through the libcrypto ssl loads (contract.ed25519), not cryptography;
        # an OPC UA agent still loads cryptography with asyncua (its step below).
        ("contract.ed25519", "Ed25519 signing (ctypes over ssl's libcrypto)"),
        ("yaml", "PyYAML"),
        ("paho.mqtt.client", "paho-mqtt"),
        ("pydantic", "pydantic (the library)"),
        ("contract.wire", "contract.wire (pydantic wire models)"),
        ("agent.config", "agent.config (pydantic config models)"),
        ("agent.service", "agent.service (the rest of the agent)"),
    ],
    "modbus": [("agent.sources.modbus.configured", "pymodbus + the Modbus source")],
    "opcua": [("agent.sources.opcua.configured", "asyncua + the OPC UA source")],
}
_IMPORT_PROBE = """
import importlib, json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
steps = [("python", rss())]
for name in sys.argv[1:]:
    importlib.import_module(name)
    steps.append((name, rss()))
print(json.dumps(steps))
"""


def import_steps(kind: str) -> list[tuple[str, float]]:
    """(label, MB added) per import in a fresh interpreter, in the run path's order."""
    steps = [*IMPORT_STEPS["common"], *IMPORT_STEPS[kind]]
    argv = [sys.executable, "-c", _IMPORT_PROBE, *(module for module, _ in steps)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    rss = [mb for _, mb in json.loads(result.stdout)]
    added = [("python itself", rss[0])]
    added += [(label, rss[i + 1] - rss[i]) for i, (_, label) in enumerate(steps)]
    return added


def write_agent_config(
    workdir: Path, sim: common.SimProcess, broker: MosquittoServer, kind: str
) -> Path:
    """The agent's YAML config for the simulated plant; returns its path."""
    key = workdir / "agent.key"
    generate_key_pair(key)
    host, port = sim.modbus
    if kind == "modbus":
        devices = [common.device_config(unit, host, port) for unit in range(1, DEVICES + 1)]
    else:
        if sim.opcua_endpoint is None:
            raise RuntimeError("the simulator serves no OPC UA")
        devices = [common.opcua_device_config(f"m{unit:02d}", sim.opcua_endpoint)
                   for unit in range(1, DEVICES + 1)]  # fmt: skip
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
        "devices": devices,
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


def _sample(duration_s: float, samplers: list[common.ProcessSampler]) -> None:
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        for sampler in samplers:
            sampler.sample()
        time.sleep(1.0)


def _health(path: Path) -> dict[str, Any]:
    try:
        health: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return health


def run(workdir: Path, kind: str, duration_s: float, warmup_s: float) -> None:
    """Start everything for one agent kind, sample, stop everything, print its figures."""
    with (
        MosquittoServer(workdir / "mqtt") as broker,
        common.SimProcess(workdir / "sim", machines=DEVICES, protocol=kind) as sim,
    ):
        config = write_agent_config(workdir, sim, broker, kind)
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
            bare = subprocess.Popen(bare_argv, stderr=agent_log) if kind == "modbus" else None
            try:
                samplers = {"agent": common.ProcessSampler(agent.pid, warmup_s)}
                if bare is not None:
                    samplers["bare pymodbus poller"] = common.ProcessSampler(bare.pid, warmup_s)
                started = time.monotonic()
                _sample(duration_s, list(samplers.values()))
                elapsed_s = time.monotonic() - started
                health = _health(health_path)
            finally:
                code = common.stop_process(agent)
                if bare is not None:
                    common.stop_process(bare)
        received = common.subscriber_count(subscriber)
    _report(kind, samplers, health, elapsed_s, code, received)


def _report(
    kind: str,
    samplers: dict[str, common.ProcessSampler],
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
        f"{kind} agent: {polls} device polls ({polls * common.TAGS_PER_DEVICE / elapsed_s:.0f} "
        f"tags/s over {elapsed_s:.0f} s, health file ~5 s old), {bad} bad values, {closed} "
        f"windows closed, {batches_received} batches at the subscriber, exit code {exit_code}"
    )
    figures = {name: sampler.summary() for name, sampler in samplers.items()}
    for name, summary in figures.items():
        print(
            f"{kind} {name}: RSS median {summary['rss_mb']:.1f} MB (max "
            f"{summary['rss_max_mb']:.1f}), CPU median {summary['cpu_pct']:.1f} % of a core "
            f"(max {summary['cpu_max_pct']:.1f}), load {common.load_average()}"
        )
    ours = figures["agent"]
    goal_rss, goal_cpu = GOALS[kind]
    ratio = ours["rss_mb"] / goal_rss
    if goal_cpu is not None:
        ratio = max(ratio, ours["cpu_pct"] / goal_cpu)
    extra = {}
    if "bare pymodbus poller" in figures:
        floor = figures["bare pymodbus poller"]
        extra = {"bare_rss_mb": f"{floor['rss_mb']:.1f}", "bare_cpu_pct": f"{floor['cpu_pct']:.1f}"}
    limit = f"{goal_rss:.0f}MB" + (f"/{goal_cpu:.0f}%" if goal_cpu is not None else "")
    print(
        common.result_line(
            f"agent_footprint_{kind}",
            ratio,
            f"{ours['rss_mb']:.1f}MB/{ours['cpu_pct']:.1f}%",
            limit,
            "<=1.0",
            rss_mb=f"{ours['rss_mb']:.1f}",
            rss_max_mb=f"{ours['rss_max_mb']:.1f}",
            cpu_pct=f"{ours['cpu_pct']:.1f}",
            cpu_max_pct=f"{ours['cpu_max_pct']:.1f}",
            **extra,
        )
    )


def print_imports(kind: str) -> None:
    """The resident memory each import of the run path adds, and pydantic's share of it."""
    steps = import_steps(kind)
    total = sum(mb for _, mb in steps)
    print(f"{kind}: imports in a fresh interpreter, resident MB added (total {total:.1f} MB):")
    for label, mb in steps:
        print(f"  {mb:5.1f} MB  {label}")
    pydantic = sum(mb for label, mb in steps if "pydantic" in label)
    wire = sum(mb for label, mb in steps if label.startswith("contract.wire"))
    print(
        f"{kind}: pydantic and the models built on it {pydantic:.1f} MB of {total:.1f} MB "
        f"({100 * pydantic / total:.0f} %); the wire models alone {wire:.1f} MB"
    )


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 2 min")
    parser.add_argument("--kind", choices=sorted(GOALS), action="append", help="default: both")
    args = parser.parse_args()
    duration_s, warmup_s = (45.0, 10.0) if args.quick else (240.0, 30.0)
    print(f"agent_footprint: {common.machine_summary()}, load {common.load_average()}")
    print(
        f"{DEVICES} devices x {common.TAGS_PER_DEVICE} tags at 1 Hz (wall clock), "
        f"{duration_s:g} s, first {warmup_s:g} s not counted"
    )
    for kind in args.kind or ["modbus", "opcua"]:
        print_imports(kind)
        with tempfile.TemporaryDirectory(prefix=f"bench-footprint-{kind}-") as workdir:
            run(Path(workdir), kind, duration_s, warmup_s)


if __name__ == "__main__":
    main()
