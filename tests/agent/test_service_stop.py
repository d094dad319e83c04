"""Stopping `retrofit-agent run` (SIGTERM) loses no window, whatever the device tasks were doing.

A device task closes a window and then waits for the outbox: the outbox lock is shared with the
other devices (two devices on one poll grid close their windows at the same tick) and with the
publisher (sealing a batch, forgetting an acknowledged one). A stop that lands in that wait
must still store the window: the window builder has already handed it over, so nothing else
holds it. The fault test `test_sigkill_many_times_keeps_seq_and_loses_nothing` lost exactly
such a window once, a few wall milliseconds after a window boundary.

Here the test holds the outbox lock itself, standing in for that other device or the
publisher, so the stop lands in the wait every time. The device reads a real Modbus simulator;
no broker answers, so every window stays in the outbox where the test reads it back.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from agent.config import load_config
from agent.keys import generate_key_pair
from agent.outbox import Outbox
from agent.service import AgentService
from agent.sources.base import Reading, Source
from contract import wire
from contract.clock import ScaledClock
from sim.agent_config import agent_devices
from sim.plant import PlantConfig
from sim.runtime import Simulator
from stack import free_port
from tests.agent.test_outbox import sealer
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SPEED = 100.0  # a 10-s window every 0.1 wall s
WINDOW_S = 10
POLL_S = 5.0


def the_plant() -> PlantConfig:
    return plant(machine(id="press-1", unit_id=1, cycle_s=30), test_pattern_unit=None)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    simulator = Simulator(
        the_plant(),
        clock=ScaledClock(start=START, anchor=time.time(), speed=SPEED),
        start_ts=START.timestamp(),
        modbus_port=0,
        work_dir=tmp_path / "sim",
        tick_s=0.01,
    )
    async with simulator:
        yield simulator


def agent_config(tmp_path: Path, sim: Simulator) -> Path:
    modbus = sim.modbus_address
    assert modbus is not None and isinstance(sim.clock, ScaledClock)
    key = tmp_path / "agent.key"
    generate_key_pair(key)
    config = {
        "agent": {"id": "gw-01", "platform": "plat-a", "enterprise": "ent-01",
                  "key_path": str(key), "outbox_path": str(tmp_path / "outbox.sqlite"),
                  "window_s": WINDOW_S},
        "broker": {"host": "127.0.0.1", "port": free_port()},  # nothing listens: windows stay
        "clock": {"start": START.isoformat(),
                  "anchor": datetime.fromtimestamp(sim.clock.anchor, UTC).isoformat(),
                  "speed": SPEED},
        "devices": agent_devices(the_plant(), modbus=modbus, opcua_endpoint=None,
                                 poll_interval_s=POLL_S),
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_a_window_closed_while_the_outbox_is_busy_is_stored_when_the_agent_stops(
    tmp_path: Path, sim: Simulator
) -> None:
    service = AgentService(load_config(agent_config(tmp_path, sim)), drain_timeout_s=0.1)
    (device,) = service.devices
    stop = asyncio.Event()
    async with service.outbox_lock:  # the other device or the publisher, writing
        running = asyncio.create_task(service.run(stop))
        # The device's first whole window closes; its task now waits for the outbox.
        await until(lambda: device.health.windows_closed >= 1, "a window to close")
        closed_before_stop = device.health.windows_closed
        attributed_until = device.builder.attributed_until
        assert attributed_until is not None
        stop.set()  # SIGTERM
        await until(lambda: not polling(), "the device tasks to end")
    await asyncio.wait_for(running, timeout=30)

    outbox = Outbox(tmp_path / "outbox.sqlite")
    windows = stored_windows(outbox)
    # Each window closed before the stop ends by the time attributed then; the stop's come after.
    closed_first = [w for w in windows if w.end.timestamp() <= attributed_until]
    assert len(closed_first) == closed_before_stop, "a window closed before the stop is missing"
    assert [w.device for w in windows] == ["press-1"] * len(windows)
    breaks = [(a.end, b.start) for a, b in itertools.pairwise(windows) if a.end != b.start]
    assert not breaks, f"windows lost between (end, next start): {breaks}"
    covered = outbox.covered("press-1")
    assert covered == [
        ("measured", windows[0].start.timestamp(), windows[-1].end.timestamp())
    ]  # and the outbox never stored less
    outbox.close()


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    """Yield to the event loop until ``condition`` holds; fail naming ``what`` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


def polling() -> bool:
    """True while a device task of the service (``poll <device>``) is alive."""
    return any(task.get_name().startswith("poll ") for task in asyncio.all_tasks())


def stored_windows(outbox: Outbox) -> list[wire.KpiWindow]:
    """Every window in the outbox, sealed and decoded in the order the publisher sends them."""
    windows: list[wire.KpiWindow] = []
    while (batch := outbox.seal_batch(wire.MAX_RECORDS, sealer)) is not None:
        windows.extend(wire.decode_envelope(batch.envelope).records)
    return windows


class _AbsorbsOneCancel:
    """The device's real source, whose reads absorb a cancellation as a library may.

    Python 3.11's ``asyncio.wait_for`` (pymodbus, asyncua) returns the answer when it and a
    cancel arrive together: the polling task carries on as if no stop had come.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.device_id = source.device_id
        self.absorbed = 0
        self.reading = asyncio.Event()

    async def connect(self) -> None:
        await self.source.connect()

    async def read(self) -> Sequence[Reading]:
        self.reading.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            self.absorbed += 1
        self.reading.clear()
        return await self.source.read()

    async def close(self) -> None:
        await self.source.close()


async def test_the_agent_stops_when_a_source_absorbs_the_cancel(
    tmp_path: Path, sim: Simulator
) -> None:
    service = AgentService(load_config(agent_config(tmp_path, sim)), drain_timeout_s=0.1)
    (device,) = service.devices
    device.source = absorbing = _AbsorbsOneCancel(device.source)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await until(lambda: device.health.polls >= 2, "two polls")
    await absorbing.reading.wait()
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert absorbing.absorbed >= 1, "the stop did not land in a read: the test proved nothing"
    assert not polling()
