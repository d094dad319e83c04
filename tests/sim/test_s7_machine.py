"""The simulator's S7 machines, read by the agent's own S7 source from the snap7 server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import yaml
from pydantic import ValidationError

from agent.config import parse_config
from agent.sources.base import Quality, Reading
from agent.sources.factory import SourceFactory
from contract.clock import ScaledClock
from sim.agent_config import agent_devices
from sim.runtime import Simulator
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        plant(
            machine(id="press-1", protocol="s7", unit_id=None, s7_db=10, cycle_s=10),
            machine(id="press-2", protocol="s7", unit_id=None, s7_db=11, counter_bits=16),
            test_pattern_unit=None,
        ),
        clock=ScaledClock(start=START, anchor=time.time(), speed=1.0),
        seed=3,
        start_ts=START.timestamp(),
        s7_port=0,
        tick_s=0,
    )
    async with simulator:
        yield simulator


async def read_machines(sim: Simulator) -> dict[str, dict[str, Reading]]:
    devices = agent_devices(sim.plant, modbus=None, opcua_endpoint=None, s7=sim.s7_address)
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e", "key_path": "k",
                  "outbox_path": "o"},
        "broker": {"host": "127.0.0.1"},
        "devices": devices,
    }  # fmt: skip
    loaded = parse_config(yaml.safe_dump(config, sort_keys=False), "agent.yaml")
    found: dict[str, dict[str, Reading]] = {}
    for device in loaded.config.devices:
        source = SourceFactory().make(device)
        try:
            found[device.id] = {r.tag: r for r in await source.read()}
        finally:
            await source.close()
    return found


async def test_the_agent_reads_exactly_what_each_machine_shows(sim: Simulator) -> None:
    await sim.advance_to(START.timestamp() + 4 * 3600)
    readings = await read_machines(sim)
    for machine_id, tags in readings.items():
        shown = sim.values(machine_id)
        assert all(r.quality is Quality.GOOD for r in tags.values()), machine_id
        assert tags["state"].value == shown["state"]
        assert tags["total"].value == shown["total_count"] > 0
        assert tags["rejects"].value == shown["reject_count"]
        assert tags["energy"].value == shown["energy_kwh"]  # an LREAL: no rounding at all
        assert tags["power"].value == pytest.approx(shown["power_kw"], rel=1e-6)
        assert tags["cycle_time"].value == pytest.approx(shown["cycle_time_s"], rel=1e-6)


async def test_a_plc_restart_drops_the_readings_and_serves_the_plant_as_it_is_after(
    sim: Simulator,
) -> None:
    before = (await read_machines(sim))["press-1"]["total"].value
    await sim.restart_s7(down_s=0.1)
    await sim.advance_to(START.timestamp() + 3600)
    after = (await read_machines(sim))["press-1"]["total"].value
    assert isinstance(before, int) and isinstance(after, int) and after > before
    assert after == sim.values("press-1")["total_count"]


def test_an_s7_machine_needs_its_data_block() -> None:
    with pytest.raises(ValidationError, match="s7_db"):
        machine(id="press-1", protocol="s7", unit_id=None)
    with pytest.raises(ValidationError, match="s7_db"):
        machine(id="press-1", protocol="modbus", unit_id=1, s7_db=3)
