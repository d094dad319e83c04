"""Configured devices to sources: Modbus TCP and a shared RTU line against the real simulator."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.config import parse_config
from agent.sources.base import Quality, Reading, Source
from agent.sources.factory import SharedLinkSource, SourceFactory
from contract.clock import ScaledClock
from sim.runtime import Simulator
from tests.pty import relay
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

MACHINE_TAGS = """
      state: {role: state, register_type: holding, address: 0, data_type: uint16,
              state_map: {0: "off", 1: running, 2: idle, 3: down, 4: planned_stop}}
      total: {role: total_count, register_type: holding, address: 2, data_type: uint32, width: 32}
      rejects: {role: reject_count, register_type: holding, address: 4, data_type: uint32,
                width: 32}
      energy: {role: energy_kwh, register_type: input, address: 8, data_type: float32}
"""


def two_machine_plant() -> Any:
    return plant(
        machine(id="press-1", unit_id=1, cycle_s=5),
        machine(id="press-2", unit_id=2, cycle_s=7),
        test_pattern_unit=None,
    )


def config_text(devices: str) -> str:
    return (
        "agent: {id: gw-01, platform: plat-a, enterprise: ent-01, key_path: k, outbox_path: o}\n"
        "broker: {host: 127.0.0.1}\n"
        f"devices:\n{devices}"
    )


def by_tag(readings: list[Reading] | Any) -> dict[str, Reading]:
    return {reading.tag: reading for reading in readings}


def assert_matches(readings: dict[str, Reading], values: dict[str, Any]) -> None:
    assert all(r.quality is Quality.GOOD for r in readings.values()), readings
    assert readings["state"].value == values["state"]
    assert readings["total"].value == values["total_count"]
    assert readings["rejects"].value == values["reject_count"]
    assert readings["energy"].value == pytest.approx(values["energy_kwh"], rel=1e-6)


async def test_modbus_tcp_devices_read_the_simulator(tmp_path: Path) -> None:
    clock = ScaledClock(start=START, anchor=time.time(), speed=60.0)
    async with Simulator(
        two_machine_plant(), clock=clock, start_ts=START.timestamp(), modbus_port=0, tick_s=0
    ) as sim:
        await sim.advance_to(START.timestamp() + 3600)
        assert sim.modbus_address is not None
        host, port = sim.modbus_address
        devices = "".join(
            f"  - id: {name}\n    protocol: modbus_tcp\n    host: {host}\n    port: {port}\n"
            f"    unit_id: {unit}\n    tags:{MACHINE_TAGS}"
            for name, unit in (("press-1", 1), ("press-2", 2))
        )
        loaded = parse_config(config_text(devices), "agent.yaml")
        sources = SourceFactory(clock).make_all(loaded.config.devices)
        try:
            for source, machine_id in zip(sources, ("press-1", "press-2"), strict=True):
                await source.connect()
                assert_matches(by_tag(await source.read()), sim.values(machine_id))
            # Coalesced: the three holding-register tags of a machine cost one request.
            assert sim.modbus_request_counts(1) == {3: 1, 4: 1}
        finally:
            for source in sources:
                await source.close()


@dataclass
class SerialLine:
    """The simulator's two presses on one pty "RS-485 line" and the agent's sources for them."""

    sim: Simulator
    sources: list[Source]

    async def read_on_one_tick(self) -> list[dict[str, Reading]]:
        """Each device's readings, both read at once as the agent's device tasks are on a tick."""
        readings = await asyncio.gather(*(source.read() for source in self.sources))
        return [by_tag(device_readings) for device_readings in readings]


@contextlib.asynccontextmanager
async def serial_line(
    pty_pair: tuple[int, int, str, str], clock: ScaledClock, settings: str
) -> AsyncIterator[SerialLine]:
    """Both presses served over RTU, read by connected sources; ``settings``: YAML device keys."""
    master_a, master_b, server_end, client_end = pty_pair
    simulator = Simulator(
        two_machine_plant(),
        clock=clock,
        start_ts=START.timestamp(),
        rtu_port=server_end,
        rtu_baudrate=115200,
        tick_s=0,
    )
    async with relay(master_a, master_b), simulator as sim:
        await sim.advance_to(START.timestamp() + 1800)
        devices = "".join(
            f"  - id: {name}\n    protocol: modbus_rtu\n    serial_port: {client_end}\n"
            f"    baudrate: 115200\n    parity: none\n{settings}"
            f"    unit_id: {unit}\n    tags:{MACHINE_TAGS}"
            for name, unit in (("press-1", 1), ("press-2", 2))
        )
        loaded = parse_config(config_text(devices), "agent.yaml")
        sources = SourceFactory(clock).make_all(loaded.config.devices)
        assert all(isinstance(source, SharedLinkSource) for source in sources)
        try:
            for source in sources:
                await source.connect()
            yield SerialLine(sim, sources)
        finally:
            for source in sources:
                await source.close()


async def test_devices_on_one_serial_line_share_it(pty_pair: tuple[int, int, str, str]) -> None:
    clock = ScaledClock(start=START, anchor=time.time(), speed=60.0)
    async with serial_line(pty_pair, clock, "    timeout_s: 2\n") as line:
        # Polled on one tick, as the agent's device tasks are: one pass serves both. (Read one
        # after the other they are a whole pass apart, over the 8 ms of wall time half a 1-s
        # poll lasts at 60x on a loaded machine, and rightly make a second pass.)
        first, second = await line.read_on_one_tick()
        assert_matches(first, line.sim.values("press-1"))
        assert_matches(second, line.sim.values("press-2"))
        assert line.sim.modbus_request_counts(1) == {3: 1, 4: 1}
        assert line.sim.modbus_request_counts(2) == {3: 1, 4: 1}


async def test_devices_polled_on_one_tick_share_a_pass_however_long_it_takes(
    pty_pair: tuple[int, int, str, str],
) -> None:
    # press-1 does not answer, so the pass waits out its timeout (1 s) on the line: longer than
    # the half poll interval (0.5 s) a pass is shared for. press-2, polled on the same tick, waits
    # for that pass and must take its readings from it, not send a second pass down the line.
    clock = ScaledClock(start=START, anchor=time.time(), speed=1.0)
    settings = "    timeout_s: 1\n    retries: 0\n    poll_interval_s: 1\n"
    async with serial_line(pty_pair, clock, settings) as line:
        line.sim.silence(1)
        first, second = await line.read_on_one_tick()
        assert all(r.quality is Quality.BAD for r in first.values()), first
        assert_matches(second, line.sim.values("press-2"))
        # One pass: press-1 timed out once (its second request skipped), press-2 answered.
        assert line.sim.modbus_request_counts(1) == {3: 1}
        assert line.sim.modbus_request_counts(2) == {3: 1, 4: 1}
