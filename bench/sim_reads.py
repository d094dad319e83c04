"""What one read costs the simulator: CPU per Modbus, OPC UA and S7 read of the demo's plant.

Starts ``retrofit-sim run`` as the full demo does (12 enterprises, 36 machines, the demo's
tick of 250 plant seconds, ``--speed`` 12,500x by default) at Monday 07:00 of the baseline, so
the machines run, and reads it from this process with bare clients (their CPU is not the
simulator's): Modbus TCP holding registers 0..13 of each Modbus machine in turn (the demo's
one coalesced read), the seven variables of an OPC UA machine in one Read, and the 50-byte data
block of the S7 machine. The simulator's CPU (``/proc/PID/stat``) is measured over a quiet
phase first (the ticker alone) and then over each protocol's reads; per read is the
difference over the count. Median wall latency per read is printed beside it.

    .venv/bin/python bench/sim_reads.py [--speed 12500] [--reads 2000] [--quiet-s 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import snap7
import yaml
from asyncua.client.client import Client
from common import cpu_seconds, load_average, machine_summary, script, stop_process
from pymodbus.client import AsyncModbusTcpClient

from sim.opcua_server import NAMESPACE_URI, OPCUA_VARIABLES
from sim.s7_machine import MACHINE_DB_SIZE
from sim.scenario import TIMEZONE, demo_enterprises, plant_document, timeline
from stack import free_ports

Read = Callable[[int], Awaitable[None]]


def _start(workdir: Path, speed: float) -> tuple[subprocess.Popen[str], dict[str, object]]:
    days = timeline(42)
    plant = plant_document(demo_enterprises(12), days)
    (workdir / "plant.yaml").write_text(yaml.safe_dump(plant, allow_unicode=True), "utf-8")
    start = dt.datetime.combine(days.baseline[0], dt.time(7, 0), ZoneInfo(TIMEZONE))
    modbus, opcua, s7 = free_ports(3)
    argv = [
        *script("retrofit-sim"), "run", str(workdir / "plant.yaml"),
        "--modbus-port", str(modbus), "--opcua-port", str(opcua), "--s7-port", str(s7),
        "--seed", "1", "--start", start.isoformat(), "--speed", str(speed),
        "--tick", str(min(0.05, 250.0 / speed)), "--truth-bin", "900",
        "--work-dir", str(workdir / "sim"), "--log-level", "WARNING",
    ]  # fmt: skip
    log = (workdir / "sim.log").open("w")
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())
    return process, {"plant": plant, **ready}


async def _measure(pid: int, name: str, reads: int, read: Read, idle_cores: float) -> str:
    latencies: list[float] = []
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    for n in range(reads):
        started = time.perf_counter()
        await read(n)
        latencies.append(time.perf_counter() - started)
    wall = time.monotonic() - wall_before
    cpu = cpu_seconds(pid) - cpu_before - idle_cores * wall
    return (
        f"{name}: {reads} reads in {wall:.2f} s, simulator CPU {1e6 * cpu / reads:.0f} us/read "
        f"(ticker's share taken out), median latency {1e3 * statistics.median(latencies):.2f} ms"
    )


async def _run(ready: dict[str, object], pid: int, reads: int, quiet_s: float) -> list[str]:
    plant = ready["plant"]
    assert isinstance(plant, dict)
    machines = plant["machines"]
    units = [m["unit_id"] for m in machines if m["protocol"] == "modbus"]
    opcua_ids = [m["id"] for m in machines if m["protocol"] == "opcua"]
    s7_dbs = [m["s7_db"] for m in machines if m["protocol"] == "s7"]
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(quiet_s)
    idle = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
    lines = [f"ticker alone: {100 * idle:.1f} % of a core over {quiet_s:.0f} s"]

    host, port = str(ready["modbus"]).rsplit(":", 1)
    modbus = AsyncModbusTcpClient(host, port=int(port), timeout=2, retries=0)
    await modbus.connect()

    async def read_modbus(n: int) -> None:
        reply = await modbus.read_holding_registers(0, count=14, device_id=units[n % len(units)])
        if reply.isError():
            raise RuntimeError(f"modbus read failed: {reply}")

    lines.append(await _measure(pid, "modbus", reads, read_modbus, idle))
    modbus.close()

    opcua = Client(str(ready["opcua"]))
    await opcua.connect()
    namespace = await opcua.get_namespace_index(NAMESPACE_URI)
    nodes = [
        [opcua.get_node(f"ns={namespace};s={m}.{v.name}") for v in OPCUA_VARIABLES]
        for m in opcua_ids
    ]

    async def read_opcua(n: int) -> None:
        await opcua.read_values(nodes[n % len(nodes)])

    lines.append(await _measure(pid, "opcua", max(1, reads // 4), read_opcua, idle))
    await opcua.disconnect()

    s7_host, s7_port = str(ready["s7"]).rsplit(":", 1)
    plc = snap7.Client()
    plc.connect(s7_host, 0, 1, int(s7_port))

    async def read_s7(n: int) -> None:
        plc.db_read(s7_dbs[n % len(s7_dbs)], 0, MACHINE_DB_SIZE)

    lines.append(await _measure(pid, "s7", max(1, reads // 4), read_s7, idle))
    plc.disconnect()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--speed", type=float, default=12_500.0)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--quiet-s", type=float, default=5.0)
    args = parser.parse_args()
    print(machine_summary(), f"load {load_average()}", f"speed {args.speed:,.0f}x", sep="; ")
    with tempfile.TemporaryDirectory(prefix="sim-reads-") as scratch:
        process, ready = _start(Path(scratch), args.speed)
        try:
            for line in asyncio.run(_run(ready, process.pid, args.reads, args.quiet_s)):
                print(line)
        finally:
            stop_process(process)
    print(f"load {load_average()}")


if __name__ == "__main__":
    main()
