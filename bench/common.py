"""Shared helpers for the bench scripts: the plant, the agent's device config, processes, output.

Imported as ``common`` by the scripts beside it (they run as ``.venv/bin/python bench/X.py``, so
this directory is on ``sys.path``). Also a small command line of its own, run as a child process
by the scripts so that its CPU is not charged to what they measure:

    python bench/common.py subscribe HOST PORT FILTER   # a collector stand-in; counts messages
    python bench/common.py bare-poll HOST PORT UNITS INTERVAL_S   # pymodbus at 1 Hz, no agent
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

__all__ = [
    "BENCH_DIR",
    "REPO_ROOT",
    "ProcessSampler",
    "SimProcess",
    "coalesced_ranges",
    "cpu_seconds",
    "device_config",
    "load_average",
    "machine_busy_seconds",
    "machine_summary",
    "opcua_device_config",
    "plant_document",
    "result_line",
    "script",
    "start_subscriber",
    "stop_process",
]

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

#: The state codes the simulator serves (docs/simulator.md) and what they mean to the agent.
STATE_MAP = {0: "off", 1: "running", 2: "idle", 3: "down", 4: "planned_stop"}
ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TAGS_PER_DEVICE = 25


# --- output -------------------------------------------------------------------------------


def result_line(name: str, ratio: float, ours: str, limit: str, goal: str, **extra: str) -> str:
    """The one result line of DESIGN.md's benchmark format, extra ``key=value`` pairs appended."""
    fields = [f"ratio={ratio:.2f}", f"ours={ours}", f"limit={limit}", f"goal={goal}"]
    fields += [f"{key}={value}" for key, value in extra.items()]
    return f"{name}: " + " ".join(fields)


def machine_summary() -> str:
    """``2 cores, AMD EPYC, Python 3.11.7, Linux 6.1`` for the head of a bench's output."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def script(name: str) -> list[str]:
    """The argv prefix of a console script of this venv (``retrofit-sim``, ``retrofit-agent``)."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return [str(path)]
    module = {"retrofit-sim": "sim.cli", "retrofit-agent": "agent.cli"}[name]
    return [sys.executable, "-m", module]


# --- the plant and the agent's view of it -------------------------------------------------


def plant_document(machines: int, protocol: str = "modbus", s7_machines: int = 0) -> dict[str, Any]:
    """A plant of ``machines`` Modbus (units 1..N) or OPC UA machines and ``s7_machines`` S7
    machines (data blocks 101.., docs/simulator.md), all running around the clock."""
    s7 = [
        {"id": f"s7-{n:02d}", "protocol": "s7", "s7_db": S7_FIRST_DB + n - 1, "cycle_s": 20 + n,
         "calendar": {"shifts": [{"name": "all", "start": "00:00", "end": "00:00",
                                  "days": ALL_WEEK}]}}
        for n in range(1, s7_machines + 1)
    ]  # fmt: skip
    document = _plant(machines, protocol)
    document["machines"] += s7
    return document


#: The data block of the first S7 machine of a bench plant.
S7_FIRST_DB = 101


def _plant(machines: int, protocol: str) -> dict[str, Any]:
    return {
        "plant": "bench-plant",
        "machines": [
            {
                "id": f"m{unit:02d}",
                "protocol": protocol,
                "unit_id": unit if protocol == "modbus" else None,
                "counter_bits": 32,
                "cycle_s": 20 + unit,
                "calendar": {
                    "shifts": [{"name": "all", "start": "00:00", "end": "00:00", "days": ALL_WEEK}]
                },
            }
            for unit in range(1, machines + 1)
        ],
    }


def _holding_tags() -> dict[str, dict[str, Any]]:
    """13 tags over holding registers 0..15 (the machine map), five of them roles."""
    tags: dict[str, dict[str, Any]] = {
        "state": {"role": "state", "address": 0, "data_type": "uint16", "state_map": STATE_MAP},
        "total": {"role": "total_count", "address": 2, "data_type": "uint32", "width": 32},
        "rejects": {"role": "reject_count", "address": 4, "data_type": "uint32", "width": 32},
        "good": {"address": 6, "data_type": "uint32"},
        "energy": {"role": "energy_kwh", "address": 8, "data_type": "float32", "unit": "kWh"},
        "power": {"role": "power_kw", "address": 10, "data_type": "float32", "unit": "kW"},
        "cycle": {"address": 12, "data_type": "float32", "unit": "s"},
        "energy_x100": {"address": 14, "data_type": "uint32", "scale": 0.01, "unit": "kWh"},
    }
    for bit, name in enumerate(("running", "idle", "down", "off", "planned_stop")):
        tags[f"is_{name}"] = {"address": 1, "data_type": "bit", "bit": bit}
    return {name: {"register_type": "holding", **tag} for name, tag in tags.items()}


def _input_tags() -> dict[str, dict[str, Any]]:
    """12 info tags over input registers 0..15 (the same map served by FC4)."""
    tags: dict[str, dict[str, Any]] = {
        "in_state": {"address": 0, "data_type": "uint16"},
        "in_total": {"address": 2, "data_type": "uint32"},
        "in_rejects": {"address": 4, "data_type": "uint32"},
        "in_good": {"address": 6, "data_type": "uint32"},
        "in_energy": {"address": 8, "data_type": "float32"},
        "in_power": {"address": 10, "data_type": "float32"},
        "in_cycle": {"address": 12, "data_type": "float32"},
        "in_energy_x100": {"address": 14, "data_type": "uint32", "scale": 0.01},
    }
    for bit, name in enumerate(("running", "idle", "down", "off")):
        tags[f"in_is_{name}"] = {"address": 1, "data_type": "bit", "bit": bit}
    return {name: {"register_type": "input", **tag} for name, tag in tags.items()}


def device_config(unit: int, host: str, port: int, poll_interval_s: float = 1.0) -> dict[str, Any]:
    """One ``modbus_tcp`` device of the agent config: 25 tags on the simulator's unit ``unit``."""
    tags = {**_holding_tags(), **_input_tags()}
    assert len(tags) == TAGS_PER_DEVICE
    return {
        "id": f"m{unit:02d}",
        "protocol": "modbus_tcp",
        "host": host,
        "port": port,
        "unit_id": unit,
        "poll_interval_s": poll_interval_s,
        "timeout_s": 1.0,
        "retries": 1,
        "ideal_cycle_s": 20.0,
        "calendar": {
            "timezone": "UTC",
            "shifts": [{"name": "all", "days": ALL_WEEK, "start": "00:00", "end": "00:00"}],
        },
        "tags": tags,
    }


#: The simulator's OPC UA variables of a machine (sim.opcua_server.OPCUA_VARIABLES), by name.
OPCUA_VARIABLES = ("State", "StateName", "TotalCount", "RejectCount", "GoodCount", "EnergyKWh",
                   "PowerKW", "CycleTimeS")  # fmt: skip


def opcua_device_config(
    machine: str, endpoint: str, poll_interval_s: float = 1.0
) -> dict[str, Any]:
    """One ``opcua`` device of 25 tags on the simulator's machine ``machine``.

    The roles of :func:`device_config` (state, total_count, reject_count, energy_kwh, power_kw)
    and info tags over the machine's eight variables, in turn, up to the same 25 tags: a
    machine serves eight variables, so info tags repeat nodes (each is its own monitored item).
    """
    node = f"ns=2;s={machine}."
    tags: dict[str, dict[str, Any]] = {
        "state": {"role": "state", "node": node + "State", "state_map": STATE_MAP},
        "total": {"role": "total_count", "node": node + "TotalCount", "width": 32},
        "rejects": {"role": "reject_count", "node": node + "RejectCount", "width": 32},
        "energy": {"role": "energy_kwh", "node": node + "EnergyKWh", "unit": "kWh"},
        "power": {"role": "power_kw", "node": node + "PowerKW", "unit": "kW"},
    }
    for index in range(TAGS_PER_DEVICE - len(tags)):
        variable = OPCUA_VARIABLES[index % len(OPCUA_VARIABLES)]
        tags[f"info_{index:02d}_{variable}"] = {"node": node + variable}
    return {
        "id": machine,
        "protocol": "opcua",
        "endpoint": endpoint,
        "poll_interval_s": poll_interval_s,
        "timeout_s": 2.0,
        "ideal_cycle_s": 20.0,
        "calendar": {
            "timezone": "UTC",
            "shifts": [{"name": "all", "days": ALL_WEEK, "start": "00:00", "end": "00:00"}],
        },
        "tags": tags,
    }


def per_tag_reads(device: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(table, address, count): one request per tag, as the ThingsBoard gateway reads."""
    widths = {"bit": 1, "uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
    return [
        (tag["register_type"], tag["address"], widths[tag["data_type"]])
        for tag in device["tags"].values()
    ]


def coalesced_ranges() -> list[tuple[str, int, int, int]]:
    """(table, address, count, tags served): the two reads the agent's plan makes per device."""
    return [("holding", 0, 16, 13), ("input", 0, 16, 12)]


# --- processes ----------------------------------------------------------------------------


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 10.0) -> int | None:
    """SIGTERM a child we started, then SIGKILL it if it does not exit in time; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    return process.returncode


@dataclass
class SimProcess:
    """``retrofit-sim run`` as a child process with Modbus TCP and a control port.

    Raises RuntimeError if it does not print its ready line within ``startup_timeout_s``.
    """

    workdir: Path
    machines: int
    s7_machines: int = 0
    tick_s: float = 0.05
    protocol: str = "modbus"
    startup_timeout_s: float = 120.0
    process: subprocess.Popen[str] | None = None
    modbus: tuple[str, int] = ("127.0.0.1", 0)
    control: tuple[str, int] = ("127.0.0.1", 0)
    opcua_endpoint: str | None = None
    s7: tuple[str, int] = ("127.0.0.1", 0)
    _control_file: TextIO | None = None
    _control_sock: socket.socket | None = None

    def __enter__(self) -> SimProcess:
        from stack import free_ports

        self.workdir.mkdir(parents=True, exist_ok=True)
        plant_path = self.workdir / "plant.yaml"
        document = plant_document(self.machines, self.protocol, self.s7_machines)
        plant_path.write_text(yaml.safe_dump(document), encoding="utf-8")
        modbus_port, control_port, opcua_port, s7_port = free_ports(4)
        argv = [
            *script("retrofit-sim"), "run", str(plant_path),
            "--modbus-port", str(modbus_port), "--control-port", str(control_port),
            "--tick", str(self.tick_s), "--speed", "1", "--seed", "1", "--log-level", "WARNING",
        ]  # fmt: skip
        if self.protocol == "opcua":
            argv += ["--opcua-port", str(opcua_port)]
        if self.s7_machines:
            argv += ["--s7-port", str(s7_port)]
        log_file = (self.workdir / "sim.log").open("w")
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=log_file, text=True, cwd=REPO_ROOT
        )
        ready = _read_line(self.process, self.startup_timeout_s)
        if '"ready"' not in ready:
            stop_process(self.process)
            raise RuntimeError(f"retrofit-sim did not start: {ready!r}; see {log_file.name}")
        self.modbus = ("127.0.0.1", modbus_port)
        self.control = ("127.0.0.1", control_port)
        self.opcua_endpoint = json.loads(ready).get("opcua")
        self.s7 = ("127.0.0.1", s7_port)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._control_sock is not None:
            self._control_sock.close()
        if self.process is not None:
            stop_process(self.process)

    @property
    def pid(self) -> int:
        """The simulator's process id."""
        assert self.process is not None
        return self.process.pid

    def command(self, line: str) -> dict[str, Any]:
        """One control-port command and its JSON answer (docs/simulator.md)."""
        if self._control_sock is None:
            self._control_sock = socket.create_connection(self.control, timeout=10)
            self._control_file = self._control_sock.makefile("r", encoding="utf-8")
        assert self._control_file is not None
        self._control_sock.sendall((line + "\n").encode())
        answer: dict[str, Any] = json.loads(self._control_file.readline())
        return answer

    def request_count(self, units: Sequence[int]) -> int:
        """Requests the simulator received for ``units`` since the last ``reset-counts``."""
        total = 0
        for unit in units:
            counts = self.command(f"counts {unit}").get("counts", {})
            total += sum(int(n) for n in counts.values())
        return total


def _read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    """The first stdout line of ``process``, or '' after ``timeout_s`` or at its exit."""
    result: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.daemon = True
    reader.start()
    reader.join(timeout_s)
    return result[0] if result else ""


# --- /proc sampling -----------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads (``/proc/PID/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime (fields 14, 15)


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent busy since boot (``/proc/stat``), all processes.

    Busy is everything but idle and iowait, so the difference over a phase divided by its wall
    time is how many cores were in use, ours and everyone else's.
    """
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / _CLK_TCK  # user..steal; guest time is inside user


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as ``/proc/loadavg`` gives them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (``VmRSS`` of ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class ProcessSampler:
    """RSS every second and CPU % of one core over ``cpu_interval_s``, after a warm-up."""

    pid: int
    warmup_s: float
    cpu_interval_s: float = 5.0
    rss_samples: list[float] = field(default_factory=list)
    cpu_samples: list[float] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)
    _mark: tuple[float, float] | None = None

    def sample(self) -> None:
        """Take one sample now (call about once a second)."""
        now = time.monotonic()
        if now - self._started < self.warmup_s:
            return
        self.rss_samples.append(rss_mb(self.pid))
        cpu = cpu_seconds(self.pid)
        if self._mark is None:
            self._mark = (now, cpu)
        elif now - self._mark[0] >= self.cpu_interval_s - 0.01:
            self.cpu_samples.append(100 * (cpu - self._mark[1]) / (now - self._mark[0]))
            self._mark = (now, cpu)

    def summary(self) -> dict[str, float]:
        """Median and max of RSS (MB) and CPU (% of one core); NaN where nothing was sampled."""
        nan = float("nan")
        return {
            "rss_mb": statistics.median(self.rss_samples) if self.rss_samples else nan,
            "rss_max_mb": max(self.rss_samples, default=nan),
            "cpu_pct": statistics.median(self.cpu_samples) if self.cpu_samples else nan,
            "cpu_max_pct": max(self.cpu_samples, default=nan),
        }


# --- child-process tools ------------------------------------------------------------------


def start_subscriber(host: str, port: int, topic_filter: str, workdir: Path) -> Any:
    """A collector stand-in (QoS 1 subscriber) as a child process; returns its Popen.

    Without one, mosquitto answers our QoS 1 publishes with reason 16 (no matching subscribers),
    which the agent's publisher rightly treats as not delivered.
    """
    argv = [sys.executable, str(BENCH_DIR / "common.py"), "subscribe", host, str(port),
            topic_filter]  # fmt: skip
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=(workdir / "subscriber.log").open("w"), text=True
    )
    if "subscribed" not in _read_line(process, 15.0):
        stop_process(process)
        raise RuntimeError(f"subscriber did not start; see {workdir / 'subscriber.log'}")
    return process


def subscriber_count(process: subprocess.Popen[str]) -> int:
    """Stop the subscriber and return how many messages it received."""
    stop_process(process)
    assert process.stdout is not None
    text = process.stdout.read().strip().splitlines()
    return int(text[-1]) if text else -1


def _subscribe(host: str, port: int, topic_filter: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    received = 0
    subscribed = threading.Event()
    stop = threading.Event()

    def on_message(*_args: object) -> None:
        nonlocal received
        received += 1

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{os.getpid()}", protocol=mqtt.MQTTv5
    )
    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client.connect(host, port)
    client.loop_start()
    if subscribed.wait(10):
        print("subscribed", flush=True)
    stop.wait()
    client.disconnect()
    client.loop_stop()
    print(received, flush=True)


async def _bare_poll(host: str, port: int, units: int, interval_s: float) -> None:
    """The coalesced reads of ``units`` devices every ``interval_s``, one connection each."""
    from pymodbus.client import AsyncModbusTcpClient

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)

    async def device(unit: int) -> None:
        client = AsyncModbusTcpClient(host, port=port, timeout=1.0, retries=1)
        await client.connect()
        while not stop.is_set():
            now = time.time()
            await asyncio.sleep((int(now / interval_s) + 1) * interval_s - now)
            for table, address, count, _ in coalesced_ranges():
                read = (
                    client.read_holding_registers
                    if table == "holding"
                    else client.read_input_registers
                )
                await read(address, count=count, device_id=unit)
        client.close()

    tasks = [asyncio.create_task(device(unit)) for unit in range(1, units + 1)]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("subscribe")
    sub.add_argument("host")
    sub.add_argument("port", type=int)
    sub.add_argument("filter")
    poll = commands.add_parser("bare-poll")
    poll.add_argument("host")
    poll.add_argument("port", type=int)
    poll.add_argument("units", type=int)
    poll.add_argument("interval_s", type=float)
    args = parser.parse_args(argv)
    if args.command == "subscribe":
        _subscribe(args.host, args.port, args.filter)
    else:
        asyncio.run(_bare_poll(args.host, args.port, args.units, args.interval_s))


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as elapsed:`` leaves the wall seconds taken in ``elapsed[0]``."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


if __name__ == "__main__":
    _main(sys.argv[1:])
