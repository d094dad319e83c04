"""sim.modbus_server through a real pymodbus client: test pattern, machines, counters, faults."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from contract.clock import ScaledClock
from sim.registers import (
    COIL_PATTERN,
    DISCRETE_INPUT_PATTERN,
    PATTERN_BITS_VALUE,
    PATTERN_RAMP_INPUT_OFFSET,
    PATTERN_RAMP_START,
    STATE_BITS,
    STATE_CODES,
    TEST_PATTERN,
    PatternValue,
)
from sim.runtime import Simulator
from tests.pty import relay
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
PATTERN_UNIT = 247
DT = AsyncModbusTcpClient.DATATYPE


def _plant_of_two() -> object:
    return plant(
        machine(id="press-16", unit_id=1, counter_bits=16, counter_start=65530, cycle_s=10),
        machine(id="press-32", unit_id=2, counter_bits=32, word_order="little", cycle_s=10),
        test_pattern_unit=PATTERN_UNIT,
    )


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """Two machines and the test pattern on Modbus TCP (port chosen by the OS), no ticking."""
    clock = ScaledClock(start=START, anchor=time.time(), speed=1.0)
    simulator = Simulator(
        _plant_of_two(),  # type: ignore[arg-type]  # PlantConfig, built by the helper
        clock=clock,
        seed=1,
        start_ts=START.timestamp(),
        modbus_port=0,
        work_dir=tmp_path,
        tick_s=0,
    )
    async with simulator:
        yield simulator


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[AsyncModbusTcpClient]:
    address = sim.modbus_address
    assert address is not None
    modbus = AsyncModbusTcpClient(address[0], port=address[1], timeout=0.5, retries=0)
    assert await modbus.connect()
    try:
        yield modbus
    finally:
        modbus.close()


def _decode(entry: PatternValue, registers: Sequence[int]) -> int | float | str:
    if entry.byte_order == "little":
        registers = [((r & 0xFF) << 8) | (r >> 8) for r in registers]
    value = AsyncModbusTcpClient.convert_from_registers(
        registers, DT[entry.dtype.upper()], word_order=entry.word_order
    )
    assert isinstance(value, int | float | str)
    return value


@pytest.mark.parametrize("table", ["holding", "input"])
async def test_every_test_pattern_value_decodes(client: AsyncModbusTcpClient, table: str) -> None:
    read = client.read_holding_registers if table == "holding" else client.read_input_registers
    assert len({entry.dtype for entry in TEST_PATTERN}) == 9
    for entry in TEST_PATTERN:
        reply = await read(entry.address, count=entry.count, device_id=PATTERN_UNIT)
        assert not reply.isError(), entry.name
        assert _decode(entry, reply.registers) == entry.value, entry.name
    bits_address = TEST_PATTERN[-1].address + TEST_PATTERN[-1].count
    reply = await read(bits_address, count=1, device_id=PATTERN_UNIT)
    assert reply.registers == [PATTERN_BITS_VALUE]
    ramp = await read(PATTERN_RAMP_START + 10, count=5, device_id=PATTERN_UNIT)
    offset = 0 if table == "holding" else PATTERN_RAMP_INPUT_OFFSET
    assert ramp.registers == [PATTERN_RAMP_START + 10 + i + offset for i in range(5)]


async def test_coils_and_discrete_inputs(client: AsyncModbusTcpClient) -> None:
    coils = await client.read_coils(0, count=16, device_id=PATTERN_UNIT)
    inputs = await client.read_discrete_inputs(0, count=16, device_id=PATTERN_UNIT)
    assert tuple(coils.bits[:16]) == COIL_PATTERN
    assert tuple(inputs.bits[:16]) == DISCRETE_INPUT_PATTERN
    assert (await client.read_coils(3, count=2, device_id=PATTERN_UNIT)).bits[:2] == list(
        COIL_PATTERN[3:5]
    )


async def test_undefined_addresses_answer_exception_2(client: AsyncModbusTcpClient) -> None:
    bits_address = TEST_PATTERN[-1].address + TEST_PATTERN[-1].count
    for address, count in [(bits_address + 1, 1), (bits_address - 1, 4), (5000, 2)]:
        reply = await client.read_holding_registers(address, count=count, device_id=PATTERN_UNIT)
        assert reply.isError() and reply.exception_code == 2, (address, count)
    reply = await client.read_coils(16, count=1, device_id=PATTERN_UNIT)
    assert reply.isError() and reply.exception_code == 2


async def test_machine_registers_follow_the_model(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    await sim.advance_to(START.timestamp() + 600)
    truth = sim.truth("press-16", START.timestamp(), START.timestamp() + 600)
    assert truth.total_count > 6  # enough parts to wrap the 16-bit counter from 65530

    narrow = (await client.read_holding_registers(0, count=16, device_id=1)).registers
    assert narrow[0] == STATE_CODES[sim.machines["press-16"].state]
    assert narrow[1] == 1 << STATE_BITS[sim.machines["press-16"].state]
    assert narrow[2] == (65530 + truth.total_count) % 65536
    assert narrow[3] == 0
    energy = DT.FLOAT32
    assert AsyncModbusTcpClient.convert_from_registers(narrow[8:10], energy) == pytest.approx(
        sim.values("press-16")["energy_kwh"], rel=1e-6
    )

    wide = (await client.read_input_registers(0, count=16, device_id=2)).registers
    total = AsyncModbusTcpClient.convert_from_registers(wide[2:4], DT.UINT32, word_order="little")
    assert total == sim.values("press-32")["total_count"] > 0
    meter = AsyncModbusTcpClient.convert_from_registers(wide[14:16], DT.UINT32, word_order="little")
    assert meter == round(sim.values("press-32")["energy_kwh"] * 100)
    state_bits = await client.read_discrete_inputs(0, count=5, device_id=2)
    assert state_bits.bits[:5] == [n == 0 for n in range(5)]  # running


async def test_requests_are_counted_per_unit_and_function(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    sim.reset_modbus_request_counts()
    for _ in range(3):
        await client.read_holding_registers(0, count=10, device_id=1)
    await client.read_input_registers(0, count=2, device_id=1)
    await client.read_coils(0, count=1, device_id=PATTERN_UNIT)
    await client.read_holding_registers(5000, count=1, device_id=PATTERN_UNIT)  # exception 2
    assert sim.modbus_request_counts(1) == {3: 3, 4: 1}
    assert sim.modbus_request_counts(PATTERN_UNIT) == {1: 1, 3: 1}
    assert sim.modbus_request_counts(2) == {}


async def test_exception_fault_hits_only_its_unit_and_range(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    sim.modbus_exception(1, 4, start=8, end=9)
    hit = await client.read_holding_registers(0, count=10, device_id=1)
    assert hit.isError() and hit.exception_code == 4
    assert not (await client.read_holding_registers(0, count=8, device_id=1)).isError()
    assert not (await client.read_holding_registers(0, count=10, device_id=2)).isError()
    sim.clear_modbus_exceptions(1)
    assert not (await client.read_holding_registers(0, count=10, device_id=1)).isError()


async def test_silenced_unit_times_out_while_others_answer(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    sim.silence(1)
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=2, device_id=1)
    assert not (await client.read_holding_registers(0, count=2, device_id=2)).isError()
    sim.unsilence(1)
    assert not (await client.read_holding_registers(0, count=2, device_id=1)).isError()


async def test_unknown_unit_gets_no_answer(client: AsyncModbusTcpClient) -> None:
    with pytest.raises(ModbusIOException):
        await client.read_holding_registers(0, count=2, device_id=99)


async def test_frozen_signal_keeps_its_value(sim: Simulator, client: AsyncModbusTcpClient) -> None:
    await sim.advance_to(START.timestamp() + 60)
    await sim.freeze("press-32", "total_count")
    frozen = (await client.read_holding_registers(2, count=2, device_id=2)).registers
    await sim.advance_to(START.timestamp() + 600)
    assert (await client.read_holding_registers(2, count=2, device_id=2)).registers == frozen
    await sim.unfreeze("press-32")
    assert (await client.read_holding_registers(2, count=2, device_id=2)).registers != frozen


async def test_drop_closes_connections_and_the_server_accepts_new_ones(
    sim: Simulator, client: AsyncModbusTcpClient
) -> None:
    assert sim.drop_modbus_connections() == 1
    address = sim.modbus_address
    assert address is not None
    again = AsyncModbusTcpClient(address[0], port=address[1], timeout=0.5, retries=0)
    assert await again.connect()
    try:
        assert not (await again.read_holding_registers(0, count=2, device_id=1)).isError()
    finally:
        again.close()
    assert not client.connected  # the old connection was closed by the server


async def test_rtu_over_a_pty_pair(tmp_path: Path, pty_pair: tuple[int, int, str, str]) -> None:
    master_a, master_b, server_end, client_end = pty_pair
    clock = ScaledClock(start=START, anchor=time.time(), speed=1.0)
    simulator = Simulator(
        _plant_of_two(),  # type: ignore[arg-type]  # PlantConfig, built by the helper
        clock=clock,
        rtu_port=server_end,
        rtu_baudrate=115200,
        tick_s=0,
    )
    async with relay(master_a, master_b), simulator:
        rtu = AsyncModbusSerialClient(
            client_end, framer=FramerType.RTU, baudrate=115200, timeout=0.5, retries=0
        )
        assert await rtu.connect()
        try:
            int32 = next(e for e in TEST_PATTERN if e.name == "int32_bl_wl")
            reply = await rtu.read_holding_registers(int32.address, count=2, device_id=PATTERN_UNIT)
            assert _decode(int32, reply.registers) == int32.value
            state = await rtu.read_input_registers(0, count=1, device_id=1)
            assert state.registers == [STATE_CODES[simulator.machines["press-16"].state]]
            assert simulator.modbus_request_counts(PATTERN_UNIT) == {3: 1}
        finally:
            rtu.close()


async def test_retrofit_units_over_rtu_on_a_pty_pair(pty_pair: tuple[int, int, str, str]) -> None:
    master_a, master_b, server_end, client_end = pty_pair
    kit = {"meter_unit_id": 21, "di_unit_id": 22, "volts": 230.0}
    retrofit = plant(
        machine(id="lathe", protocol="retrofit", unit_id=None, retrofit=kit, cycle_s=10),
        test_pattern_unit=None,
    )
    clock = ScaledClock(start=START, anchor=time.time(), speed=1.0)
    simulator = Simulator(retrofit, clock=clock, rtu_port=server_end, tick_s=0)
    async with relay(master_a, master_b), simulator:
        await simulator.advance_to(START.timestamp() + 600)
        rtu = AsyncModbusSerialClient(client_end, framer=FramerType.RTU, timeout=0.5, retries=0)
        assert await rtu.connect()
        try:
            meter = await rtu.read_input_registers(6, count=2, device_id=21)
            assert rtu.convert_from_registers(meter.registers, DT.FLOAT32) == 230.0
            lamp = await rtu.read_discrete_inputs(0, count=1, device_id=22)
            running = simulator.machines["lathe"].state.value == "running"
            assert lamp.bits[0] is running
            parts = await rtu.read_holding_registers(0, count=2, device_id=22)
            truth = simulator.truth("lathe", START.timestamp(), START.timestamp() + 600)
            assert rtu.convert_from_registers(parts.registers, DT.UINT32) == truth.total_count > 0
        finally:
            rtu.close()
