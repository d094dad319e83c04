"""``poll_offset_s``: a device polls at k x poll_interval_s + its offset, on its own grid.

Many devices on one grid all ask at the same instant: a simulator (or a gateway) serving them
answers the last one late, and on the demo's fast plant clock late means a skipped poll. The
demo gives its devices different offsets (sim/scenario.py); this checks the agent keeps them.

The plant clock moves only when the test moves it (``SteppedPlantClock``), to the earliest
time a device task sleeps until: each read's plant time is then exactly the point the device
asked for, however busy the machine is.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import yaml

from agent.config import load_config
from agent.keys import generate_key_pair
from agent.service import AgentService
from agent.sources.base import Reading, Source
from sim.agent_config import agent_devices
from sim.runtime import Simulator
from stack import free_port
from tests.agent.test_inference_sim import START, SteppedPlantClock, the_plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

POLL_S = 10.0
OFFSETS = {"on-grid": 0.0, "offset": 3.5}


class _RecordingSource:
    """The device's real source; notes the plant time of each read."""

    def __init__(self, source: Source, clock: SteppedPlantClock, reads: list[float]) -> None:
        self.source, self.clock, self.reads = source, clock, reads
        self.device_id = source.device_id

    async def connect(self) -> None:
        await self.source.connect()

    async def read(self) -> Sequence[Reading]:
        self.reads.append(self.clock.timestamp())
        return await self.source.read()

    async def close(self) -> None:
        await self.source.close()


@pytest.fixture
def plant_clock() -> SteppedPlantClock:
    return SteppedPlantClock(START.timestamp())


@pytest.fixture
async def sim(plant_clock: SteppedPlantClock) -> AsyncIterator[Simulator]:
    simulator = Simulator(
        the_plant(), clock=plant_clock, start_ts=START.timestamp(), modbus_port=free_port(),
        tick_s=0,
    )  # fmt: skip
    async with simulator:
        yield simulator


def agent_config(tmp_path: Path, sim: Simulator) -> Path:
    key = tmp_path / "agent.key"
    generate_key_pair(key)
    (base,) = agent_devices(
        the_plant(), modbus=sim.modbus_address, opcua_endpoint=None, poll_interval_s=POLL_S
    )
    devices = [{**base, "id": name, "poll_offset_s": offset} for name, offset in OFFSETS.items()]
    config = {
        "agent": {"id": "gw-01", "platform": "plat-a", "enterprise": "ent-01",
                  "key_path": str(key), "outbox_path": str(tmp_path / "outbox.sqlite"),
                  "window_s": 60},
        "broker": {"host": "127.0.0.1", "port": free_port()},  # nothing listens: windows stay
        "devices": devices,
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_each_device_polls_on_its_own_offset_of_the_grid(
    tmp_path: Path, plant_clock: SteppedPlantClock, sim: Simulator
) -> None:
    service = AgentService(
        load_config(agent_config(tmp_path, sim)), drain_timeout_s=0.1, clock=plant_clock
    )
    reads: dict[str, list[float]] = {name: [] for name in OFFSETS}
    for device in service.devices:
        device.source = _RecordingSource(device.source, plant_clock, reads[device.config.id])
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    for _ in range(12):  # six polls of each device
        await asyncio.wait_for(plant_clock.polled(len(OFFSETS)), 30)
        now = plant_clock.timestamp()
        await plant_clock.move_to(min(s for s in plant_clock.sleepers if s > now))
    await asyncio.wait_for(plant_clock.polled(len(OFFSETS)), 30)
    stop.set()
    await asyncio.wait_for(running, timeout=30)

    start = START.timestamp()  # a whole minute: on the grid of every interval here
    for name, offset in OFFSETS.items():
        points = [(ts - start - offset) / POLL_S for ts in reads[name]]
        assert len(points) >= 5, f"{name}: polled only at {points}"
        # Every read at a point of its own grid, one interval apart: none on the other's.
        assert points == [float(round(p)) for p in points], f"{name}: reads at {reads[name]}"
        assert all(b - a == 1 for a, b in itertools.pairwise(points)), points
    for device in service.devices:
        assert device.health.polls_skipped == 0
