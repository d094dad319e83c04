"""A poll that overruns its interval: the grid points it covered are counted, and a busy outbox
does not hold polls up.

The device reads the real Modbus simulator of ``test_service_stop.py`` on its 100x plant clock
(a 5-s poll every 0.05 wall s). A wrapper around the real source stands in for a slow device (a
serial line, a PLC answering late); the outbox lock held by the test stands in for another
device's commit or the publisher.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.config import load_config
from agent.metrics import render_metrics
from agent.outbox import Outbox
from agent.service import AgentService
from agent.sources.base import Reading, Source
from sim.runtime import Simulator
from tests.agent.test_service_stop import (
    POLL_S,
    SPEED,
    agent_config,
    polling,
    sim,
    stored_windows,
    until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
__all__ = ["sim"]  # the fixture, shared with test_service_stop.py

#: The slow device answers after this many poll intervals.
OVERRUN = 2.5


class _SlowSource:
    """The device's real source, answering OVERRUN poll intervals late."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.device_id = source.device_id

    async def connect(self) -> None:
        await self.source.connect()

    async def read(self) -> Sequence[Reading]:
        await asyncio.sleep(OVERRUN * POLL_S / SPEED)
        return await self.source.read()

    async def close(self) -> None:
        await self.source.close()


async def test_grid_points_a_slow_poll_covered_are_counted_as_skipped(
    tmp_path: Path, sim: Simulator
) -> None:
    service = AgentService(load_config(agent_config(tmp_path, sim)), drain_timeout_s=0.1)
    (device,) = service.devices
    device.source = _SlowSource(device.source)
    stop = asyncio.Event()
    started = time.time()
    running = asyncio.create_task(service.run(stop))
    await until(lambda: device.health.polls >= 6, "six slow polls")
    # The health file and the metrics, taken in one step of the loop, say the same.
    health_file, metrics = service.health(), render_metrics(service)
    skipped = device.health.polls_skipped
    stop.set()
    await asyncio.wait_for(running, timeout=30)
    elapsed_points = (time.time() - started) * SPEED / POLL_S

    health = device.health
    # Each poll ends 2.5 intervals after its grid point: the next two points passed during it
    # (more when the machine is busy), and polls plus skipped points never exceed the grid.
    assert health.polls_skipped >= 2 * (health.polls - 1)
    assert health.polls + health.polls_skipped <= elapsed_points + 2
    devices = health_file["devices"]
    assert isinstance(devices, dict) and devices[device.config.id]["polls_skipped"] == skipped
    assert f'rv_agent_polls_skipped_total{{device="{device.config.id}"}} {skipped}' in metrics
    assert skipped > 0


async def test_polls_go_on_while_the_outbox_is_busy_and_every_window_is_stored(
    tmp_path: Path, sim: Simulator
) -> None:
    service = AgentService(load_config(agent_config(tmp_path, sim)), drain_timeout_s=0.1)
    (device,) = service.devices
    stop = asyncio.Event()
    async with service.outbox_lock:  # another device's commit, or the publisher, never ends
        running = asyncio.create_task(service.run(stop))
        await until(lambda: device.health.windows_closed >= 1, "a window to close")
        polls_at_first_close = device.health.polls
        # A window closes every two polls; the device task no longer waits for the outbox.
        await until(lambda: device.health.windows_closed >= 3, "two more windows to close")
        assert device.health.polls >= polls_at_first_close + 4
        stop.set()
        await until(lambda: not polling(), "the device task to end")
    await asyncio.wait_for(running, timeout=30)

    outbox = Outbox(tmp_path / "outbox.sqlite")
    windows = stored_windows(outbox)
    outbox.close()
    assert len(windows) >= device.health.windows_closed  # and the stop's partial window
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
