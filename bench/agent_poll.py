"""Tags/s the agent's Modbus source reads from the plant simulator, vs a bare pymodbus loop.

Setup: ``retrofit-sim run`` in its own process (the simulator is a Python pymodbus server and
the likely bottleneck; in its own process it has its own core and the client side is measured
fairly), 20 machines (units 1..20) on one Modbus TCP port. 20 devices x 25 tags each (13 over
holding registers 0..15, 12 over input registers 0..15; bench/common.py), one TCP connection per
device, all devices polled concurrently and back to back (no poll interval) for a fixed time.

Three phases, interleaved over several rounds (median per phase), same machine, same run:

- ours: ``agent.sources.modbus.ModbusSource`` built by ``SourceFactory`` from the validated
  device config; counts good-quality readings (decoded, scaled, stamped);
- limit (per tag): a bare ``AsyncModbusTcpClient`` loop sending one request per tag, as the
  ThingsBoard gateway does; tags/s = answered requests/s (no decoding);
- limit (coalesced): the bare client reading the same two ranges the agent's plan reads;
  tags/s = answered requests/s x tags per range (no decoding).

The ratio line is ours / per-tag bare loop (issue 4's figure, goal >= 0.9); the coalesced
bare loop is printed beside it as the overhead of the agent's own code per request
(``ratio_coalesced``, issue 20's goal >= 0.6). Each phase also prints this process's CPU time
per good tag (``time.process_time``): on a shared machine the tags/s of a phase follow what CPU
the others left, the CPU per tag much less, so ``cpu_ratio_coalesced`` (bare CPU per tag / ours)
is printed beside the ratio.

S7 (issue 18, ``s7_poll.py``): the same simulator process also plays one S7 PLC with four
machines' data blocks; two more phases per round compare the agent's ``S7Source`` (13 tags in
one read per poll) with a bare python-snap7 loop reading the same 50 bytes (``s7_ratio``,
goal >= 0.9, printed on the same result line).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import common
from pymodbus.client import AsyncModbusTcpClient
from s7_poll import S7_DEVICES, S7Bench

from agent.config import ModbusTcpDeviceConfig
from agent.sources.base import Quality, Source
from agent.sources.factory import SourceFactory
from agent.sources.modbus import ModbusSource

DEVICES = 20


@dataclass
class Phase:
    """One timed phase: good tags and requests sent, over ``elapsed_s`` wall seconds."""

    name: str
    tags: int
    bad: int
    requests: int
    elapsed_s: float
    sim_cpu_pct: float
    cpu_s: float

    @property
    def cpu_us_per_tag(self) -> float:
        """This process's CPU microseconds per good tag."""
        return 1e6 * self.cpu_s / max(1, self.tags)

    @property
    def tags_per_s(self) -> float:
        """Good tags per second."""
        return self.tags / self.elapsed_s


async def _run_for(
    duration_s: float, loops: list[Callable[[Callable[[], bool]], Awaitable[tuple[int, int]]]]
) -> tuple[int, int, float]:
    """Run every loop until ``duration_s`` has passed; (good tags, bad tags, wall seconds)."""
    deadline = time.perf_counter() + duration_s
    started = time.perf_counter()
    results = await asyncio.gather(
        *(loop(lambda: time.perf_counter() < deadline) for loop in loops)
    )
    return sum(r[0] for r in results), sum(r[1] for r in results), time.perf_counter() - started


def _source_loop(source: Source) -> Callable[[Callable[[], bool]], Awaitable[tuple[int, int]]]:
    async def loop(going: Callable[[], bool]) -> tuple[int, int]:
        good = bad = 0
        while going():
            for reading in await source.read():
                if reading.quality is Quality.GOOD:
                    good += 1
                else:
                    bad += 1
        return good, bad

    return loop


def _bare_loop(
    client: AsyncModbusTcpClient, unit: int, reads: list[tuple[str, int, int, int]]
) -> Callable[[Callable[[], bool]], Awaitable[tuple[int, int]]]:
    """Send ``reads`` (table, address, count, tags served) in turn, as fast as answered."""

    async def loop(going: Callable[[], bool]) -> tuple[int, int]:
        good = bad = 0
        while going():
            for table, address, count, tags in reads:
                read = (
                    client.read_holding_registers
                    if table == "holding"
                    else client.read_input_registers
                )
                response = await read(address, count=count, device_id=unit)
                if response.isError() or len(response.registers) < count:
                    bad += tags
                else:
                    good += tags
        return good, bad

    return loop


class Bench:
    """The simulator, the agent's sources and the bare clients, connected once, reused."""

    def __init__(self, sim: common.SimProcess) -> None:
        self.sim = sim
        host, port = sim.modbus
        self.devices = [
            ModbusTcpDeviceConfig.model_validate(common.device_config(unit, host, port))
            for unit in range(1, DEVICES + 1)
        ]
        factory = SourceFactory()
        self.sources = [factory.make(device) for device in self.devices]
        self.clients = [
            AsyncModbusTcpClient(host, port=port, timeout=1.0, retries=1) for _ in self.devices
        ]

    async def connect(self) -> None:
        """Open every connection before anything is timed."""
        for source, client in zip(self.sources, self.clients, strict=True):
            await source.connect()
            await client.connect()
        for source in self.sources:
            await source.read()  # the first read settles the plan (splits, if any)

    async def close(self) -> None:
        """Close every connection."""
        for source, client in zip(self.sources, self.clients, strict=True):
            await source.close()
            client.close()

    def plan_summary(self) -> str:
        """What one poll of device 1 sends, from the source's own plan."""
        source = self.sources[0]
        assert isinstance(source, ModbusSource)
        return ", ".join(request.describe() for request in source.plan)

    async def phase(self, name: str, duration_s: float) -> Phase:
        """Time one phase; the simulator's request counters and CPU around it."""
        self.sim.command("reset-counts")
        sim_cpu = common.cpu_seconds(self.sim.pid)
        cpu = time.process_time()
        good, bad, elapsed_s = await _run_for(duration_s, self._loops(name))
        cpu_s = time.process_time() - cpu
        sim_cpu_pct = 100 * (common.cpu_seconds(self.sim.pid) - sim_cpu) / elapsed_s
        requests = self.sim.request_count(range(1, DEVICES + 1))
        return Phase(name, good, bad, requests, elapsed_s, sim_cpu_pct, cpu_s)

    def _loops(self, name: str) -> list[Callable[[Callable[[], bool]], Awaitable[tuple[int, int]]]]:
        if name == "ours":
            return [_source_loop(s) for s in self.sources if isinstance(s, ModbusSource)]
        units = range(1, DEVICES + 1)
        if name == "per_tag":
            device = common.device_config(1, *self.sim.modbus)
            reads = [(t, a, c, 1) for t, a, c in common.per_tag_reads(device)]
        else:
            reads = common.coalesced_ranges()
        return [_bare_loop(c, u, reads) for c, u in zip(self.clients, units, strict=True)]


async def _s7_phase(sim: common.SimProcess, s7: S7Bench, name: str, duration_s: float) -> Phase:
    """Time one S7 phase (the simulator counts Modbus requests only: 0 here)."""
    sim_cpu = common.cpu_seconds(sim.pid)
    cpu = time.process_time()
    good, bad, elapsed_s = await _run_for(duration_s, s7.loops(name, _source_loop))
    cpu_s = time.process_time() - cpu
    sim_cpu_pct = 100 * (common.cpu_seconds(sim.pid) - sim_cpu) / elapsed_s
    return Phase(name, good, bad, 0, elapsed_s, sim_cpu_pct, cpu_s)


async def _measure(sim: common.SimProcess, rounds: int, phase_s: float) -> dict[str, list[Phase]]:
    bench = Bench(sim)
    await bench.connect()
    s7 = S7Bench(*sim.s7, common.S7_FIRST_DB)
    await s7.connect()
    print(f"plan per device: {bench.plan_summary()}; S7: {s7.plan_summary()}")
    results: dict[str, list[Phase]] = {
        "ours": [], "per_tag": [], "coalesced": [], "s7_ours": [], "s7_bare": []
    }  # fmt: skip
    try:
        for round_no in range(1, rounds + 1):
            for name in results:
                if name.startswith("s7_"):
                    phase = await _s7_phase(sim, s7, name, phase_s)
                else:
                    phase = await bench.phase(name, phase_s)
                results[name].append(phase)
                print(
                    f"  round {round_no} {name:9s}: {phase.tags_per_s:9.0f} tags/s, "
                    f"{phase.requests / phase.elapsed_s:7.0f} requests/s, "
                    f"{phase.bad} bad, simulator CPU {phase.sim_cpu_pct:.0f} %, "
                    f"{phase.cpu_us_per_tag:.2f} us CPU a tag, load {common.load_average()}"
                )
    finally:
        await bench.close()
        await s7.close()
    return results


def _median(phases: list[Phase]) -> float:
    return statistics.median(phase.tags_per_s for phase in phases)


def _median_cpu(phases: list[Phase]) -> float:
    return statistics.median(phase.cpu_us_per_tag for phase in phases)


def main() -> None:
    """Run the benchmark and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke figure in under 60 s")
    args = parser.parse_args()
    rounds, phase_s = (2, 5.0) if args.quick else (4, 15.0)
    print(f"agent_poll: {common.machine_summary()}")
    print(
        f"{DEVICES} devices x {common.TAGS_PER_DEVICE} tags, simulator in its own process "
        f"(retrofit-sim run), {rounds} rounds x 5 phases x {phase_s:g} s; S7: {S7_DEVICES} "
        "devices x 13 tags on the same process's S7 PLC"
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-poll-") as workdir,
        common.SimProcess(Path(workdir), machines=DEVICES, s7_machines=S7_DEVICES) as sim,
    ):
        results = asyncio.run(_measure(sim, rounds, phase_s))
    ours, per_tag, coalesced = (_median(results[k]) for k in ("ours", "per_tag", "coalesced"))
    ours_requests = statistics.median(p.requests / p.elapsed_s for p in results["ours"])
    ours_cpu, coalesced_cpu = _median_cpu(results["ours"]), _median_cpu(results["coalesced"])
    s7_ours, s7_bare = (_median(results[k]) for k in ("s7_ours", "s7_bare"))
    print(
        common.result_line(
            "agent_poll",
            ours / per_tag,
            f"{ours:.0f}tags/s",
            f"{per_tag:.0f}tags/s",
            ">=0.9",
            limit_coalesced=f"{coalesced:.0f}tags/s",
            ratio_coalesced=f"{ours / coalesced:.2f}",
            goal_coalesced=">=0.6",
            cpu_ratio_coalesced=f"{coalesced_cpu / ours_cpu:.2f}",
            ours_cpu_us_per_tag=f"{ours_cpu:.2f}",
            coalesced_cpu_us_per_tag=f"{coalesced_cpu:.2f}",
            ours_requests_per_s=f"{ours_requests:.0f}",
            sim_cpu_pct=f"{statistics.median(p.sim_cpu_pct for p in results['ours']):.0f}",
            s7_ratio=f"{s7_ours / s7_bare:.2f}",
            s7_ours=f"{s7_ours:.0f}tags/s",
            s7_limit=f"{s7_bare:.0f}tags/s",
            s7_goal=">=0.9",
        )
    )


if __name__ == "__main__":
    main()
