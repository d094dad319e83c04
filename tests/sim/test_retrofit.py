"""sim.retrofit: a machine seen only through a power meter and a DI module, read by the agent.

The agent's own configuration path (``sim.agent_config`` → ``parse_config`` → ``SourceFactory``
→ its Modbus decoder) reads the maps from the real simulator over TCP and over RTU through a
pty null modem; every value is held against the machine's exact truth.
"""

from __future__ import annotations

import itertools
import math
import random
import struct
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pymodbus.client import AsyncModbusTcpClient

from agent.config import parse_config
from agent.sources.base import Quality, Reading, Source
from agent.sources.factory import SourceFactory
from contract.clock import Clock, ScaledClock
from sim.agent_config import agent_devices
from sim.control import execute
from sim.machine import Machine, MachineState
from sim.plant import PlantConfig, RetrofitConfig
from sim.retrofit import GARBAGE_POWER_W, PULSE_S, di_bits, meter_reading
from sim.runtime import Simulator
from tests.sim.plants import StillClock, machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday
T0 = START.timestamp()
METER, DI = 11, 12
#: Just under 2^32 Wh: the meter's Wh counter rolls over within the first hour.
ENERGY_START_KWH = 4294967.0
KIT = {"meter_unit_id": METER, "di_unit_id": DI, "noise_pct": 3.0, "noise_floor_kw": 0.1}


def retrofit_plant(**overrides: Any) -> PlantConfig:
    settings: dict[str, Any] = {
        "id": "press-r",
        "protocol": "retrofit",
        "unit_id": None,
        "retrofit": KIT,
        "counter_bits": 16,
        "counter_start": 65500,  # the DI pulse counter wraps within the run
        "energy_start_kwh": ENERGY_START_KWH,
        "cycle_s": 8.0,
        "mtbf_s": 1800.0,
        "mttr_s": 300.0,
        "idle_every_s": 900.0,
        "idle_mean_s": 120.0,
        "idle_kw": 3.0,
        "reject_rate": 0.2,
        "calendar": {"shifts": [{"start": "06:10", "end": "22:00", "days": ["mon"]}]},
    }
    settings.update(overrides)
    return plant(machine(**settings), test_pattern_unit=None)


def clock() -> ScaledClock:
    return ScaledClock(start=START, anchor=time.time(), speed=1.0)


class PlantTime(StillClock):
    """The simulator's plant time as the agent's clock: the tests step the plant, not the wall,
    and a serial line is read at most once per half poll interval of this clock."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def timestamp(self) -> float:
        return max(machine.now for machine in self._sim.machines.values())


def agent_source(device: dict[str, Any], agent_clock: Clock | None = None) -> Source:
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e", "key_path": "k",
                  "outbox_path": "o"},
        "broker": {"host": "127.0.0.1"},
        "devices": [device],
    }  # fmt: skip
    loaded = parse_config(yaml.safe_dump(config), "agent.yaml")
    return SourceFactory(agent_clock or clock()).make(loaded.config.devices[0])


def with_float_energy(device: dict[str, Any]) -> dict[str, Any]:
    """The generated device plus the meter's float32 kWh register, to hold it against truth."""
    tags = {**device["tags"], "energy_float": {"register_type": "input", "address": 4,
                                               "data_type": "float32"}}  # fmt: skip
    return {**device, "tags": tags}


async def read(source: Source) -> dict[str, Reading]:
    return {reading.tag: reading for reading in await source.read()}


def number(reading: Reading) -> float:
    """A numeric reading's value (a tag of a numeric type is never a bool or text)."""
    value = reading.value
    assert isinstance(value, int | float) and not isinstance(value, bool), reading
    return float(value)


def float32(value: float) -> float:
    return float(struct.unpack(">f", struct.pack(">f", value))[0])


def check_against_truth(sim: Simulator, readings: dict[str, Reading], at: float) -> None:
    model = sim.machines["press-r"]
    config = model.config
    kit = config.retrofit
    assert kit is not None
    bad = {tag: r.reason for tag, r in readings.items() if r.quality is not Quality.GOOD}
    assert not bad, bad
    truth = sim.truth("press-r", T0, at)
    true_power = model.snapshot().power_kw
    spread = kit.noise_pct / 100 * true_power + kit.noise_floor_kw
    power = number(readings["power"])
    assert abs(power - true_power) <= spread * (1 + 1e-6) + 1e-6, (power, true_power)
    current = number(readings["current"])
    expected_a = power * 1000 / (math.sqrt(3) * kit.volts * kit.power_factor)
    assert current == pytest.approx(expected_a, rel=1e-6, abs=1e-6)
    assert readings["lamp"].value == (model.state is MachineState.RUNNING)
    assert readings["total"].value == (config.counter_start + truth.total_count) % 2**16
    assert readings["rejects"].value == truth.reject_count % 2**16
    energy_kwh = ENERGY_START_KWH + truth.energy_kwh
    assert readings["energy_float"].value == float32(energy_kwh)
    # The Wh counter: whole Wh of the truth, rolled over at 2^32 (the agent scales by 0.001).
    assert readings["energy"].value == pytest.approx(
        (round(energy_kwh * 1000) % 2**32) * 0.001, abs=1e-9
    )


@pytest.fixture
async def tcp_sim() -> AsyncIterator[Simulator]:
    async with Simulator(
        retrofit_plant(), clock=clock(), seed=5, start_ts=T0, modbus_port=0, tick_s=0
    ) as simulator:
        yield simulator


async def test_the_agent_reads_the_meter_and_di_maps_as_the_truth_has_them(
    tcp_sim: Simulator,
) -> None:
    devices = agent_devices(tcp_sim.plant, modbus=tcp_sim.modbus_address, opcua_endpoint=None)
    # No state tag: the state is the agent's to infer, from these named tags.
    assert set(devices[0]["tags"]) == {"power", "current", "energy", "lamp", "total", "rejects"}
    source = agent_source(with_float_energy(devices[0]))
    seen_states: set[bool] = set()
    energy_raw: list[float] = []
    pulses: list[int] = []
    try:
        await source.connect()
        for minute in range(0, 300, 3):
            at = T0 + 60 * minute
            await tcp_sim.advance_to(at)
            readings = await read(source)
            check_against_truth(tcp_sim, readings, at)
            seen_states.add(bool(readings["lamp"].value))
            energy_raw.append(number(readings["energy"]))
            pulses.append(int(number(readings["total"])))
    finally:
        await source.close()
    assert seen_states == {True, False}  # the lamp was seen on and off
    assert any(b < a for a, b in itertools.pairwise(energy_raw))  # Wh rolled over
    assert any(b < a for a, b in itertools.pairwise(pulses))  # pulses wrapped


async def test_each_device_answers_only_the_tables_it_has(tcp_sim: Simulator) -> None:
    address = tcp_sim.modbus_address
    assert address is not None
    client = AsyncModbusTcpClient(address[0], port=address[1], timeout=1, retries=0)
    assert await client.connect()
    try:
        assert not (await client.read_input_registers(0, count=10, device_id=METER)).isError()
        refused = await client.read_holding_registers(0, count=1, device_id=METER)
        assert refused.isError() and refused.exception_code == 1  # illegal function
        refused = await client.read_holding_registers(0, count=2, device_id=METER)
        assert refused.isError() and refused.exception_code == 2  # pymodbus checks this first
        assert (await client.read_input_registers(10, count=1, device_id=METER)).isError()
        assert not (await client.read_discrete_inputs(0, count=8, device_id=DI)).isError()
        assert not (await client.read_holding_registers(0, count=4, device_id=DI)).isError()
        refused = await client.read_coils(0, count=1, device_id=DI)
        assert refused.isError() and refused.exception_code == 1
    finally:
        client.close()


async def test_a_part_pulse_is_high_for_half_a_second_after_each_part(tcp_sim: Simulator) -> None:
    # A twin of the plant finds a part's instant; the plant is the same however it is stepped.
    twin = Machine(tcp_sim.plant.machines[0], seed=5, start_ts=T0)
    twin.advance_to(T0 + 3600)
    part_at = twin.snapshot().last_part_ts
    assert T0 < part_at < T0 + 3600
    address = tcp_sim.modbus_address
    assert address is not None
    client = AsyncModbusTcpClient(address[0], port=address[1], timeout=1, retries=0)
    assert await client.connect()
    try:
        for offset, expected in ((-0.1, False), (0.0, True), (PULSE_S / 2, True), (PULSE_S, False)):
            await tcp_sim.advance_to(part_at + offset)
            bits = (await client.read_discrete_inputs(0, count=3, device_id=DI)).bits[:3]
            assert bits[1] is expected, offset
    finally:
        client.close()


def _noisy_power(sim: Simulator) -> float:
    return float(sim.values("press-r")["power_kw"])


async def test_noise_is_bounded_and_the_same_for_a_plant_second_however_ticked() -> None:
    samples = [T0 + 600 + 37.3 * n for n in range(400)]
    direct = Simulator(retrofit_plant(), clock=clock(), seed=9, start_ts=T0, tick_s=0)
    stepped = Simulator(retrofit_plant(), clock=clock(), seed=9, start_ts=T0, tick_s=0)
    steps = random.Random(1)
    deviations: list[float] = []
    async with direct, stepped:
        for at in samples:
            await direct.advance_to(at)
            ts = stepped.machines["press-r"].now
            while ts < at:
                ts = min(at, ts + steps.uniform(0.01, 20.0))
                await stepped.advance_to(ts)
            shown = _noisy_power(direct)
            assert shown == _noisy_power(stepped), at
            true_kw = direct.machines["press-r"].snapshot().power_kw
            spread = 0.03 * true_kw + 0.1
            deviations.append((shown - true_kw) / spread)
    assert all(-1.0 <= d <= 1.0 for d in deviations)
    # Noise there is, and it uses its band on both sides.
    assert min(deviations) < -0.8 and max(deviations) > 0.8


def test_the_noise_of_a_second_does_not_depend_on_where_in_it_the_meter_is_read() -> None:
    kit = RetrofitConfig(meter_unit_id=1, di_unit_id=2)
    first = meter_reading(kit, 10.0, 42, 1000.0)
    assert meter_reading(kit, 10.0, 42, 1000.999) == first
    assert meter_reading(kit, 10.0, 42, 1001.0) != first
    assert meter_reading(kit, 10.0, 43, 1000.0) != first  # another machine, other noise


def test_di_bits_follow_the_state_and_the_pulses() -> None:
    running = {"state": 1}
    assert di_bits(running, -math.inf, -math.inf, 100.0)[:3] == [True, False, False]
    assert di_bits({"state": 2}, 99.8, 99.9, 100.0)[:3] == [False, True, True]
    assert di_bits(running, 99.5, -math.inf, 100.0)[1] is False


async def test_meter_garbage_serves_nan_then_a_huge_power_and_stops(tcp_sim: Simulator) -> None:
    devices = agent_devices(tcp_sim.plant, modbus=tcp_sim.modbus_address, opcua_endpoint=None)
    source = agent_source(devices[0])
    try:
        await source.connect()
        answer = await execute(tcp_sim, "meter-garbage press-r on")
        assert answer["ok"], answer
        await tcp_sim.advance_to(T0 + 3600)  # an even plant second: NaN
        power = (await read(source))["power"]
        assert power.quality is not Quality.GOOD and power.value is None
        assert "nan" in (power.reason or "")
        await tcp_sim.advance_to(T0 + 3601)  # an odd one: 3.4e38 W
        power = (await read(source))["power"]
        assert power.quality is Quality.GOOD
        assert power.value == pytest.approx(float32(GARBAGE_POWER_W) * 0.001, rel=1e-6)
        assert (await read(source))["energy"].quality is Quality.GOOD  # only the power is bad
        assert (await execute(tcp_sim, "meter-garbage press-r off"))["ok"]
        power = (await read(source))["power"]
        assert power.quality is Quality.GOOD and number(power) < 1000
    finally:
        await source.close()
    refused = await execute(tcp_sim, "meter-garbage press-r maybe")
    assert not refused["ok"] and "expected on or off" in refused["error"]


async def test_meter_garbage_is_refused_for_a_machine_without_a_meter() -> None:
    plain = plant(machine(id="m1", unit_id=1), test_pattern_unit=None)
    async with Simulator(plain, clock=clock(), start_ts=T0, modbus_port=0, tick_s=0) as sim:
        answer = await execute(sim, "meter-garbage m1 on")
        assert not answer["ok"] and "has no power meter" in answer["error"]


async def test_transitions_command_lists_the_state_changes(tcp_sim: Simulator) -> None:
    await tcp_sim.advance_to(T0 + 7200)
    answer = await execute(tcp_sim, f"transitions press-r {T0} {T0 + 7200}")
    assert answer["ok"], answer
    changes = answer["transitions"]
    assert changes[0] == [T0 + 600, "off", "running"]  # the shift starts at 06:10
    assert all(a[2] == b[1] for a, b in itertools.pairwise(changes))


async def test_a_retrofit_machine_over_rtu_through_the_pty_link(tmp_path: Path) -> None:
    link = tmp_path / "ttyRETRO"
    sim = Simulator(
        retrofit_plant(), clock=clock(), seed=5, start_ts=T0, rtu_links=[link], tick_s=0
    )
    async with sim:
        assert link.is_symlink()
        devices = agent_devices(
            sim.plant, modbus=None, opcua_endpoint=None, retrofit_rtu=(str(link), 19200)
        )
        assert devices[0]["protocol"] == "modbus_rtu"
        source = agent_source(with_float_energy(devices[0]), PlantTime(sim))
        try:
            await source.connect()
            for minute in (5, 20, 95):
                await sim.advance_to(T0 + 60 * minute)
                check_against_truth(sim, await read(source), T0 + 60 * minute)
        finally:
            await source.close()
    assert not link.exists() and not link.is_symlink()  # the link goes with the simulator
