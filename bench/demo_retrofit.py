"""The demo's retrofit enterprise: how to read its meters.

A figure behind a choice in ``sim/scenario.py`` (docs/demo.md):

- **link**: wall ms of one pass over ``ent-03``'s three retrofit machines (a power meter and a
  DI module each, three requests per machine) through the agent's own sources, against a real
  ``retrofit-sim run`` child process: over its RTU pty link (one shared line, 115200 baud) and
  over Modbus TCP (a connection per device, the three polled concurrently, as the agent does).
  A 600-s poll lasts 12 ms of wall time at the quick demo's 50,000x: a pass must fit well
  inside it. ratio = RTU median / TCP median.

What the inferred states cost at the demo's polls is ``bench/retrofit_bias.py``'s.

    .venv/bin/python bench/demo_retrofit.py [--passes 200]
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
from agent.sources.base import Quality
from agent.sources.factory import SourceFactory
from sim.agent_config import agent_devices
from sim.plant import PlantConfig
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
            medians: dict[str, list[float]] = {}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--passes", type=int, default=200)
    args = parser.parse_args()
    enterprises = demo_enterprises(3)
    retrofit = next(e for e in enterprises if e.measured_by == "retrofit")
    plant_doc = plant_document([retrofit], timeline(28))
    ratio = link(plant_doc, args.passes)
    print(f"ratio={ratio:.2f} (RTU pass median / TCP pass median; a poll is 12 ms at 50,000x)")


if __name__ == "__main__":
    main()
