"""The demo's retrofit enterprise: how to read its meters, and what its state dwell costs.

Two figures behind choices in ``sim/scenario.py`` and ``sim/agent_config.py`` (docs/demo.md):

- **link**: wall ms of one pass over ``ent-03``'s three retrofit machines (a power meter and a
  DI module each, three requests per machine) through the agent's own sources, against a real
  ``retrofit-sim run`` child process: over its RTU pty link (one shared line, 115200 baud) and
  over Modbus TCP (a connection per device, the three polled concurrently, as the agent does).
  A 600-s poll lasts 12 ms of wall time at the quick demo's 50,000x: a pass must fit well
  inside it. ratio = RTU median / TCP median.
- **dwell** (no I/O, no load): the quick timeline's 58 plant days of each ``ent-03`` machine
  (``sim.machine``), its meter's noisy power read every 600 plant s on the poll grid, the
  agent's ``StateInference`` with the demo's ``state:`` block and ``min_dwell_s`` 6 s (twice
  the inrush) or 0; sample and hold; inferred run and idle time against the truth's run and
  idle + down. ``--lag`` plant seconds is the age of the value a poll reads (the demo's
  simulator tick: up to 250 s at 50,000x).

    .venv/bin/python bench/demo_retrofit.py [--passes 200] [--lag 125]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from agent.config import DeviceConfig, parse_config
from agent.inference import StateInference
from agent.sources.base import Quality, Reading
from agent.sources.factory import SourceFactory
from sim.agent_config import agent_devices
from sim.machine import Machine, MachineState, machine_seed
from sim.plant import PlantConfig
from sim.retrofit import meter_reading
from sim.scenario import demo_enterprises, plant_document, timeline
from stack import free_port

POLL_S = 600.0
BAUD = 115200


def _devices(plant: PlantConfig, modbus: tuple[str, int], rtu: str | None) -> list[DeviceConfig]:
    devices = agent_devices(plant, modbus=modbus, opcua_endpoint=None, poll_interval_s=POLL_S,
                            retrofit_rtu=(rtu, BAUD) if rtu else None)  # fmt: skip
    text = yaml.safe_dump({"agent": {"id": "gw", "platform": "p", "enterprise": "e",
                                     "key_path": "k", "outbox_path": "o"},
                           "broker": {"host": "127.0.0.1"}, "devices": devices})  # fmt: skip
    return list(parse_config(text, "bench.yaml").config.devices)


async def _passes(devices: list[DeviceConfig], count: int) -> list[float]:
    sources = SourceFactory().make_all(devices)
    for source in sources:
        await source.connect()
    times_ms = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            results = await asyncio.gather(*(source.read() for source in sources))
            times_ms.append(1000 * (time.perf_counter() - started))
            bad = [r for readings in results for r in readings if r.quality != Quality.GOOD]
            if bad:
                raise SystemExit(f"bad reading: {bad[0]}")
            # A shared line serves one pass per half poll interval of *plant* time, and this
            # clock is the wall: forget the pass so that the next read makes a new one.
            for source in sources:
                line = getattr(source, "_line", None)
                if line is not None:
                    line._last = None
    finally:
        for source in sources:
            await source.close()
    return times_ms


def link(plant_doc: dict[str, Any], passes: int) -> float:
    """Print RTU and TCP pass times; return RTU median / TCP median."""
    plant = PlantConfig.model_validate(plant_doc)
    with tempfile.TemporaryDirectory(prefix="bench-retrofit-") as folder:
        plant_file, tty = Path(folder) / "plant.yaml", Path(folder) / "tty-ent-03"
        plant_file.write_text(yaml.safe_dump(plant_doc), "utf-8")
        port = free_port()
        sim = subprocess.Popen(
            [str(Path(sys.executable).parent / "retrofit-sim"), "run", str(plant_file),
             "--modbus-port", str(port), "--rtu-pty", str(tty), "--rtu-baudrate", str(BAUD),
             "--start", "2026-03-02T08:00:00+08:00", "--speed", "60", "--log-level", "WARNING"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            if sim.stdout is None or '"ready"' not in sim.stdout.readline():
                raise SystemExit("retrofit-sim did not start")
            medians = {}
            for kind in ("tcp", "rtu", "tcp", "rtu"):
                devices = _devices(plant, ("127.0.0.1", port), str(tty) if kind == "rtu" else None)
                times_ms = sorted(asyncio.run(_passes(devices, passes)))
                medians.setdefault(kind, []).append(statistics.median(times_ms))
                p95 = times_ms[int(0.95 * (len(times_ms) - 1))]
                print(f"link {kind}: pass median {medians[kind][-1]:.1f} ms, p95 {p95:.1f} ms")
        finally:
            sim.terminate()
            sim.wait(timeout=30)
    return statistics.mean(medians["rtu"]) / statistics.mean(medians["tcp"])


def dwell(plant_doc: dict[str, Any], machine_ids: list[str], lag_s: float) -> None:
    """Print inferred against true run and idle + down time for min_dwell_s 6 and 0."""
    plant = PlantConfig.model_validate(plant_doc)
    devices = {d.id: d for d in _devices(plant, ("127.0.0.1", 502), None)}
    days = timeline(28)
    start, end = days.plant_start.timestamp(), days.plant_end.timestamp()
    for machine in (m for m in plant.machines if m.id in machine_ids):
        device, kit = devices[machine.id], machine.retrofit
        if device.state is None or kit is None:
            raise SystemExit(f"{machine.id}: not a retrofit device with a state block")
        for min_dwell_s in (6.0, 0.0):
            block = device.state.model_copy(update={"min_dwell_s": min_dwell_s})
            inference = StateInference(block, device)
            model = Machine(machine, 1, start, truth_bin_s=int(POLL_S))
            seed = machine_seed(1, machine.id)
            held: dict[MachineState | None, float] = {}
            poll, last = start + POLL_S, None
            while poll < end:
                model.advance_to(poll - lag_s)
                shown = meter_reading(kit, model.snapshot().power_kw, seed, poll - lag_s)
                reading = Reading("power", shown.power_kw, None, Quality.GOOD, None, poll)
                state = inference.update([reading], poll).state
                if last is not None:
                    held[last[0]] = held.get(last[0], 0.0) + poll - last[1]
                last = (state, poll)
                poll += POLL_S
            if last is None:
                raise SystemExit("no polls")
            model.advance_to(last[1])
            truth = model.truth(start + POLL_S, last[1])
            run = 100 * (held.get(MachineState.RUNNING, 0.0) / truth.run_s - 1)
            idle = 100 * (held.get(MachineState.IDLE, 0.0) / (truth.idle_s + truth.down_s) - 1)
            print(f"dwell {machine.id} min_dwell_s {min_dwell_s:g}: run_s {run:+.2f} %, "
                  f"idle_s vs idle+down {idle:+.2f} %")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--passes", type=int, default=200)
    parser.add_argument("--lag", type=float, default=125.0, help="plant s a poll's value is old")
    args = parser.parse_args()
    enterprises = demo_enterprises(3)
    retrofit = next(e for e in enterprises if e.measured_by == "retrofit")
    plant_doc = plant_document([retrofit], timeline(28))
    dwell(plant_doc, retrofit.machine_ids, args.lag)
    ratio = link(plant_doc, args.passes)
    print(f"ratio={ratio:.2f} (RTU pass median / TCP pass median; a poll is 12 ms at 50,000x)")


if __name__ == "__main__":
    main()
