"""A/B of the Modbus source's poll loop in one process: an earlier commit's against this tree's.

On a shared machine the tags/s of `agent_poll.py` follow what CPU the others leave in each phase,
so two separate runs (before, after) compare loads more than code. This script runs both poll
loops in the same process against the same simulator, phases alternated round by round with
the bare coalesced pymodbus loop of `agent_poll.py`, and prints medians of tags/s and of this
process's CPU per good tag for each.

The earlier ``agent/sources/modbus`` is taken from ``git archive REV`` into a temporary package
(``modbus_base``): its relative imports stay inside it, and its points and link settings are
this tree's (unchanged by the poll-loop work), so both sources read the same devices.

    .venv/bin/python bench/agent_poll_ab.py [--rev REV] [--rounds N] [--phase-s S]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import agent_poll
import common

from agent.sources.modbus import ModbusSource

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "agent/sources/modbus"
#: Modules of the earlier package replaced by this tree's, so both sources share their types.
SHARED = {
    "points.py": "from agent.sources.modbus.points import *  # noqa: F403\n"
    "from agent.sources.modbus.points import NUMERIC_TYPES  # noqa: F401\n",
    "settings.py": "from agent.sources.modbus.settings import *  # noqa: F403\n",
}


def _earlier_source(rev: str, into: Path) -> type[Any]:
    """The ModbusSource class of ``rev``, imported as ``modbus_base.source``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, PACKAGE], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    package = into / "modbus_base"
    (into / PACKAGE).rename(package)
    for module in package.glob("*.py"):
        text = module.read_text().replace("from ..base import", "from agent.sources.base import")
        module.write_text(SHARED.get(module.name, text))
    sys.path.insert(0, str(into))
    source: type[Any] = importlib.import_module("modbus_base.source").ModbusSource
    return source


async def _measure(
    sim: common.SimProcess, earlier: type[Any], rounds: int, phase_s: float
) -> dict[str, list[agent_poll.Phase]]:
    bench = agent_poll.Bench(sim)
    ours = bench.sources
    base = [earlier(s.device_id, s._connection, s._points) for s in ours]  # type: ignore[attr-defined]  # ModbusSource's own fields
    for source in base:
        await source.connect()
        await source.read()
    await bench.connect()
    results: dict[str, list[agent_poll.Phase]] = {"earlier": [], "this tree": [], "coalesced": []}
    try:
        for round_no in range(1, rounds + 1):
            for name, phases in results.items():
                if name != "coalesced":
                    bench.sources = base if name == "earlier" else ours
                phase = await bench.phase("coalesced" if name == "coalesced" else "ours", phase_s)
                phases.append(phase)
                print(
                    f"  round {round_no} {name:9s}: {phase.tags_per_s:9.0f} tags/s, "
                    f"{phase.cpu_us_per_tag:.2f} us CPU a tag, load {common.load_average()}"
                )
    finally:
        bench.sources = ours
        await bench.close()
        for source in base:
            await source.close()
    return results


def main() -> None:
    """Run the A/B and print its result line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="2a441ee", help="the earlier commit (default: 2a441ee)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--phase-s", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-poll-ab-") as workdir:
        earlier = _earlier_source(args.rev, Path(workdir))
        # agent_poll counts a source's readings when it is a ModbusSource: either class will do.
        agent_poll.ModbusSource = (ModbusSource, earlier)  # type: ignore[attr-defined,assignment]
        print(f"agent_poll_ab: {common.machine_summary()}; earlier = {args.rev}")
        with common.SimProcess(Path(workdir), machines=agent_poll.DEVICES) as sim:
            results = asyncio.run(_measure(sim, earlier, args.rounds, args.phase_s))
    tags = {name: statistics.median(p.tags_per_s for p in v) for name, v in results.items()}
    cpu = {name: statistics.median(p.cpu_us_per_tag for p in v) for name, v in results.items()}
    print(
        common.result_line(
            "agent_poll_ab",
            tags["this tree"] / tags["coalesced"],
            f"{tags['this tree']:.0f}tags/s",
            f"{tags['coalesced']:.0f}tags/s",
            ">=0.6",
            earlier_ratio_coalesced=f"{tags['earlier'] / tags['coalesced']:.2f}",
            cpu_us_per_tag=f"{cpu['this tree']:.2f}",
            earlier_cpu_us_per_tag=f"{cpu['earlier']:.2f}",
            coalesced_cpu_us_per_tag=f"{cpu['coalesced']:.2f}",
            cpu_ratio_coalesced=f"{cpu['coalesced'] / cpu['this tree']:.2f}",
            earlier_cpu_ratio_coalesced=f"{cpu['coalesced'] / cpu['earlier']:.2f}",
        )
    )


if __name__ == "__main__":
    main()
