"""sim.runtime: a read answers with the plant as it is at the read's plant time, on every server.

The simulator advances its machines every ``tick_s`` wall seconds; when that update stalls (a
busy machine starves the ticker, or one step takes long), a read used to answer with the
values of the last step and the next one jumped by everything made since. The agent saw a
counter standing still and then leaping, and took the leap for a preset: the parts were lost
against ground truth (issue #18, the quick demo under load). Here the periodic update is held
back for good (``tick_s`` of an hour: one step at start, then none) while the plant clock moves
on, and the agent's own sources read every protocol the simulator serves: Modbus TCP, Modbus
RTU through the pty link, OPC UA and S7. Each counter must be the ground truth at the read's
plant time; the clock is held still during a read, so "within one cycle" is exact here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import DeviceConfig, parse_config
from agent.sources.base import Quality, Reading, Source
from agent.sources.factory import SourceFactory
from sim.agent_config import agent_devices
from sim.machine import Machine
from sim.plant import MachineConfig
from sim.registers import STATE_CODES
from sim.runtime import Simulator
from stack import free_port
from tests.sim.plants import StillClock, machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
T0 = START.timestamp()
SEED = 3
#: A ticker that steps once at start and then sleeps past the end of the test: stalled.
STALLED_TICK_S = 3600.0
KIT = {"meter_unit_id": 5, "di_unit_id": 6}


class HeldClock(StillClock):
    """A plant clock the test moves by hand: a read's plant time is exactly ``plant_ts``."""

    def __init__(self, plant_ts: float) -> None:
        self.plant_ts = plant_ts

    def timestamp(self) -> float:
        return self.plant_ts


def machines() -> list[MachineConfig]:
    """One machine per way the simulator serves one, running around the clock."""
    common: dict[str, Any] = {"mtbf_s": 3600.0, "mttr_s": 600.0, "reject_rate": 0.1}
    return [
        machine(id="press-1", unit_id=1, cycle_s=20.0, **common),
        machine(id="weld-1", unit_id=2, cycle_s=45.0, counter_bits=16, word_order="little",
                **common),
        machine(id="cnc-1", protocol="opcua", unit_id=None, cycle_s=90.0, **common),
        machine(id="line-1", protocol="s7", unit_id=None, s7_db=12, cycle_s=30.0, **common),
        machine(id="press-r", protocol="retrofit", unit_id=None, retrofit=KIT, cycle_s=25.0,
                **common),
    ]  # fmt: skip


def sources(sim: Simulator, link: Path, clock: HeldClock) -> dict[str, Source]:
    """The agent's own sources for every machine, the retrofit kit over RTU on the pty."""
    assert sim.opcua is not None
    devices = agent_devices(
        sim.plant,
        modbus=sim.modbus_address,
        opcua_endpoint=sim.opcua.endpoint,
        s7=sim.s7_address,
        retrofit_rtu=(str(link), 115200),
    )
    for device in devices:
        if device["protocol"] == "opcua":
            # One Read per poll, as the demo's agents do: a subscription is not a read, its
            # notifications follow the simulator's tick (docs/simulator.md).
            device["read_mode"] = "polling"
            device.pop("sampling_interval_s", None)
    factory = SourceFactory(clock)
    return {device.id: factory.make(device) for device in agent_configs(devices)}


def agent_configs(devices: list[dict[str, Any]]) -> list[DeviceConfig]:
    """The generated device blocks, validated as an agent loads its configuration."""
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e", "key_path": "k",
                  "outbox_path": "o"},
        "broker": {"host": "127.0.0.1"},
        "devices": devices,
    }  # fmt: skip
    return list(parse_config(yaml.safe_dump(config, sort_keys=False), "agent.yaml").config.devices)


def expected_at(config: MachineConfig, plant_ts: float) -> dict[str, Any]:
    """Ground truth at ``plant_ts`` from a twin of the machine (same seed, same plant however
    its time is chunked): the counters as the controller shows them, the meter, the state."""
    twin = Machine(config, SEED, T0)
    twin.advance_to(plant_ts)
    truth = twin.truth(T0, plant_ts)
    modulus = 1 << config.counter_bits
    return {
        "total": (config.counter_start + truth.total_count) % modulus,
        "rejects": truth.reject_count % modulus,
        "energy": config.energy_start_kwh + truth.energy_kwh,
        "state": STATE_CODES[twin.state],
    }


def check(device_id: str, readings: dict[str, Reading], expected: dict[str, Any]) -> None:
    bad = {tag: r.reason for tag, r in readings.items() if r.quality is not Quality.GOOD}
    assert not bad, (device_id, bad)
    served = {tag: readings[tag].value for tag in ("total", "rejects", "energy")}
    assert served["total"] == expected["total"], (device_id, served, expected)
    assert served["rejects"] == expected["rejects"], (device_id, served, expected)
    # float32 on Modbus, whole Wh on the retrofit meter: kWh to 1 Wh.
    assert served["energy"] == pytest.approx(expected["energy"], abs=1e-3), (device_id, served)
    if "state" in readings:  # the retrofit kit has no state code: its state is inferred
        assert readings["state"].value == expected["state"], (device_id, readings["state"])


async def test_every_read_answers_for_its_plant_time_while_the_update_is_stalled(
    tmp_path: Path,
) -> None:
    clock = HeldClock(T0)
    link = tmp_path / "ttyRETRO"
    sim = Simulator(
        plant(*machines()),
        clock=clock,
        seed=SEED,
        start_ts=T0,
        modbus_port=0,
        rtu_links=[link],
        opcua_port=free_port(),
        s7_port=0,
        work_dir=tmp_path,
        tick_s=STALLED_TICK_S,
    )
    async with sim:
        agent_sources = sources(sim, link, clock)
        try:
            for source in agent_sources.values():
                await source.connect()
            # Hours of plant time, none of them stepped by the ticker; the second move checks
            # that each read refreshes, not only the first after a stall.
            for plant_ts in (T0 + 4 * 3600, T0 + 6 * 3600 + 13 * 60):
                clock.plant_ts = plant_ts
                # Held back: the update has brought no machine to the read's time.
                assert all(m.now < plant_ts for m in sim.machines.values())
                for config in sim.plant.machines:
                    readings = {r.tag: r for r in await agent_sources[config.id].read()}
                    check(config.id, readings, expected_at(config, plant_ts))
        finally:
            for source in agent_sources.values():
                await source.close()


async def test_a_standing_plant_moves_only_when_stepped() -> None:
    """``tick_s=0`` is the tests' standing plant: a read does not move it, step() does."""
    clock = HeldClock(T0)
    press = machine(id="press-1", unit_id=1, cycle_s=20.0)
    async with Simulator(
        plant(press), clock=clock, seed=SEED, start_ts=T0, modbus_port=0, tick_s=0
    ) as sim:
        devices = agent_devices(sim.plant, modbus=sim.modbus_address, opcua_endpoint=None)
        source = SourceFactory(clock).make(agent_configs(devices)[0])
        try:
            await source.connect()
            clock.plant_ts = T0 + 3600
            first = {r.tag: r.value for r in await source.read()}
            assert first["total"] == 0 and sim.machines["press-1"].now == T0
            await sim.step()
            stepped = {r.tag: r.value for r in await source.read()}
            assert stepped["total"] == expected_at(press, T0 + 3600)["total"] > 0
        finally:
            await source.close()
