"""The agent's Modbus source against the plant simulator's test-pattern device.

Every type, byte order and word order the simulator serves is read through the agent's own
configuration path (YAML tags → SourceFactory → ModbusSource) over TCP and over RTU on a pty,
in holding and input registers, with the bits of a register, coils and discrete inputs; the
request counter shows how many reads the whole device costs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from agent.config import parse_config
from agent.sources.base import Quality, Reading, Source
from agent.sources.factory import SourceFactory
from contract.clock import ScaledClock
from sim.registers import (
    COIL_PATTERN,
    DISCRETE_INPUT_PATTERN,
    PATTERN_BITS_VALUE,
    TEST_PATTERN,
)
from sim.runtime import Simulator
from tests.pty import relay
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
UNIT = 247
BITS_ADDRESS = max(e.address + e.count for e in TEST_PATTERN)


def pattern_tags() -> dict[str, dict[str, Any]]:
    tags: dict[str, dict[str, Any]] = {}
    for table in ("holding", "input"):
        for entry in TEST_PATTERN:
            tag: dict[str, Any] = {
                "register_type": table,
                "address": entry.address,
                "data_type": entry.dtype,
                "byte_order": entry.byte_order,
            }
            if entry.dtype == "string":
                tag["length"] = entry.count
            elif entry.count > 1:
                tag["word_order"] = entry.word_order
            tags[f"{table}_{entry.name}"] = tag
    for bit in (0, 1, 7, 15):
        tags[f"bit_{bit}"] = {"register_type": "holding", "address": BITS_ADDRESS,
                              "data_type": "bit", "bit": bit}  # fmt: skip
    for n in (0, 3, 15):
        tags[f"coil_{n}"] = {"register_type": "coil", "address": n}
        tags[f"input_bit_{n}"] = {"register_type": "discrete_input", "address": n}
    return tags


def expected(tag: str) -> Any:
    if tag.startswith("bit_"):
        return bool((PATTERN_BITS_VALUE >> int(tag[4:])) & 1)
    if tag.startswith("coil_"):
        return COIL_PATTERN[int(tag[5:])]
    if tag.startswith("input_bit_"):
        return DISCRETE_INPUT_PATTERN[int(tag[10:])]
    name = tag.split("_", 1)[1]
    return next(e.value for e in TEST_PATTERN if e.name == name)


def device_source(connection: dict[str, Any], clock: ScaledClock) -> Source:
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e", "key_path": "k",
                  "outbox_path": "o"},
        "broker": {"host": "127.0.0.1"},
        "devices": [{"id": "pattern", "unit_id": UNIT, "timeout_s": 2, **connection,
                     "tags": pattern_tags()}],
    }  # fmt: skip
    loaded = parse_config(yaml.safe_dump(config), "agent.yaml")
    return SourceFactory(clock).make(loaded.config.devices[0])


def assert_pattern(readings: list[Reading] | Any) -> None:
    for reading in readings:
        assert reading.quality is Quality.GOOD, (reading.tag, reading.reason)
        want = expected(reading.tag)
        if isinstance(want, float):
            assert reading.value == pytest.approx(want, rel=1e-12), reading.tag
        else:
            assert reading.value == want, reading.tag


def clock() -> ScaledClock:
    return ScaledClock(start=START, anchor=time.time(), speed=1.0)


async def test_every_type_and_order_over_tcp_in_few_requests() -> None:
    sim_plant = plant(machine(id="m1", unit_id=1), test_pattern_unit=UNIT)
    async with Simulator(sim_plant, clock=clock(), modbus_port=0, tick_s=0) as sim:
        assert sim.modbus_address is not None
        host, port = sim.modbus_address
        source = device_source({"protocol": "modbus_tcp", "host": host, "port": port}, clock())
        try:
            await source.connect()
            sim.reset_modbus_request_counts()
            readings = list(await source.read())
            assert len(readings) == len(pattern_tags())
            assert_pattern(readings)
            # 70 values in two tables plus bits: one read per table and bit table.
            assert sim.modbus_request_counts(UNIT) == {1: 1, 2: 1, 3: 1, 4: 1}
        finally:
            await source.close()


async def test_every_type_and_order_over_rtu(pty_pair: tuple[int, int, str, str]) -> None:
    master_a, master_b, server_end, client_end = pty_pair
    sim_plant = plant(machine(id="m1", unit_id=1), test_pattern_unit=UNIT)
    simulator = Simulator(
        sim_plant, clock=clock(), rtu_port=server_end, rtu_baudrate=115200, tick_s=0
    )
    async with relay(master_a, master_b), simulator:
        connection = {"protocol": "modbus_rtu", "serial_port": client_end, "baudrate": 115200,
                      "parity": "none"}  # fmt: skip
        source = device_source(connection, clock())
        try:
            await source.connect()
            assert_pattern(list(await source.read()))
        finally:
            await source.close()
