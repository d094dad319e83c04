"""The agent device blocks sim.agent_config emits are valid config and read the right values."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.config import parse_config
from agent.sources.base import Quality
from agent.sources.factory import SourceFactory
from contract.clock import ScaledClock
from sim.agent_config import agent_devices
from sim.plant import load_plant
from sim.runtime import Simulator
from stack import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PLANT = Path(__file__).parents[2] / "sim" / "examples" / "plant.yaml"
START = datetime(2026, 2, 23, 0, 0, tzinfo=UTC)  # a Monday, 08:00 in Shanghai
SIGNALS = {"state": "state", "total": "total_count", "rejects": "reject_count"}
FLOATS = {"energy": "energy_kwh", "power": "power_kw", "cycle_time": "cycle_time_s"}


def config_text(devices: list[dict[str, Any]]) -> str:
    import yaml

    return yaml.safe_dump(
        {
            "agent": {"id": "gw", "platform": "p", "enterprise": "e", "key_path": "k",
                      "outbox_path": "o"},
            "broker": {"host": "127.0.0.1"},
            "devices": devices,
        }
    )  # fmt: skip


async def test_generated_devices_read_every_machine_of_the_example_plant(tmp_path: Path) -> None:
    plant = load_plant(PLANT)
    clock = ScaledClock(start=START, anchor=time.time(), speed=60.0)
    async with Simulator(
        plant,
        clock=clock,
        start_ts=START.timestamp(),
        modbus_port=0,
        opcua_port=free_port(),
        work_dir=tmp_path,
        tick_s=0,
    ) as sim:
        await sim.advance_to(START.timestamp() + 3 * 3600)
        assert sim.opcua is not None
        devices = agent_devices(plant, modbus=sim.modbus_address, opcua_endpoint=sim.opcua.endpoint)
        loaded = parse_config(config_text(devices), "agent.yaml")
        assert [d.id for d in loaded.config.devices] == [m.id for m in plant.machines]
        sources = SourceFactory(clock).make_all(loaded.config.devices)
        try:
            for source, machine in zip(sources, plant.machines, strict=True):
                await source.connect()
                readings = {r.tag: r for r in await source.read()}
                values = sim.values(machine.id)
                assert all(r.quality is Quality.GOOD for r in readings.values()), readings
                for tag, signal in SIGNALS.items():
                    assert readings[tag].value == values[signal], (machine.id, tag)
                for tag, signal in FLOATS.items():
                    assert readings[tag].value == pytest.approx(values[signal], rel=1e-6)
                assert values["total_count"] > 0 or machine.id == "cnc-1"
        finally:
            for source in sources:
                await source.close()
