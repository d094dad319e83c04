"""Quirks of real devices (issue 18), each a configuration key whose default changes nothing,
against a real pymodbus server that has the quirk:

- a device that ignores requests arriving too soon after a connection opens (inverter dongles,
  Telegraf #11919): ``pause_after_connect_s``;
- a device that ignores a request arriving too soon after its last answer (serial gateways,
  Telegraf #9253): ``min_request_gap_s``;
- several unit ids behind one TCP gateway that shares one connection: ``share_connection``;
- single bits of holding and input registers (Telegraf PR #15648): ``data_type: bit``.

Each quirky device is also read without the key, to show the quirk is real: that is the
behaviour the key changes, not a timing this test measures.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from agent.config import parse_config
from agent.sources.base import Quality, Reading, Source
from agent.sources.factory import SourceFactory

from ..conftest import DeviceServer

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

#: The quirky device ignores requests this soon after connecting or after its last answer (s).
WARM_UP_S = 1.0
SETTLE_S = 0.3


@dataclass
class QuirkyDevice:
    """When the server last accepted a connection and last answered, and what it ignored."""

    warm_up_s: float = 0.0
    settle_s: float = 0.0
    connected_s: float = 0.0
    answered_s: float | None = None
    ignored: list[str] = field(default_factory=list)
    port: int = 0

    def trace_connect(self, connected: bool) -> None:
        if connected:
            self.connected_s = time.monotonic()
            self.answered_s = None

    def trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU | None:
        now_s = time.monotonic()
        if sending:
            self.answered_s = now_s
            return pdu
        if now_s - self.connected_s < self.warm_up_s:
            self.ignored.append("warming up")
            return None  # no PDU: pymodbus sends no answer, the client times out
        if self.answered_s is not None and now_s - self.answered_s < self.settle_s:
            self.ignored.append("settling")
            return None
        return pdu


async def quirky_server(device: QuirkyDevice) -> ModbusTcpServer:
    server = ModbusTcpServer(
        [SimDevice(1, simdata=[SimData(0, count=100, values=7, datatype=DataType.REGISTERS)])],
        address=("127.0.0.1", 0),
        trace_pdu=device.trace_pdu,  # type: ignore[arg-type]  # None is how a hook swallows
        trace_connect=device.trace_connect,
    )
    await server.serve_forever(background=True)
    device.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # asyncio.Server
    return server


@pytest.fixture
async def warming_device() -> AsyncIterator[QuirkyDevice]:
    device = QuirkyDevice(warm_up_s=WARM_UP_S)
    server = await quirky_server(device)
    yield device
    await server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus


@pytest.fixture
async def settling_device() -> AsyncIterator[QuirkyDevice]:
    device = QuirkyDevice(settle_s=SETTLE_S)
    server = await quirky_server(device)
    yield device
    await server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus


def sources(port: int, devices: list[dict[str, Any]]) -> list[Source]:
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e", "key_path": "k",
                  "outbox_path": "o"},
        "broker": {"host": "127.0.0.1"},
        "devices": [{"protocol": "modbus_tcp", "host": "127.0.0.1", "port": port,
                     "timeout_s": 0.5, "retries": 0, **device} for device in devices],
    }  # fmt: skip
    loaded = parse_config(yaml.safe_dump(config, sort_keys=False), "agent.yaml")
    return SourceFactory().make_all(loaded.config.devices)


def two_requests() -> dict[str, dict[str, Any]]:
    """Two registers far apart: two requests per poll with max_gap 0."""
    return {
        "a": {"register_type": "holding", "address": 0},
        "b": {"register_type": "holding", "address": 50},
    }


async def read_once(source: Source) -> list[Reading]:
    try:
        return list(await source.read())
    finally:
        await source.close()


async def test_without_a_pause_after_connect_the_first_request_is_lost(
    warming_device: QuirkyDevice,
) -> None:
    (source,) = sources(warming_device.port, [{"id": "dongle", "tags": two_requests()}])
    readings = await read_once(source)
    assert readings[0].quality is Quality.BAD and "timeout" in (readings[0].reason or "")
    assert warming_device.ignored


async def test_a_pause_after_connect_gets_good_values_from_the_first_poll(
    warming_device: QuirkyDevice,
) -> None:
    device = {"id": "dongle", "pause_after_connect_s": WARM_UP_S + 0.2, "tags": two_requests()}
    (source,) = sources(warming_device.port, [device])
    readings = await read_once(source)
    assert [(r.quality, r.value) for r in readings] == [(Quality.GOOD, 7), (Quality.GOOD, 7)]
    assert warming_device.ignored == []


async def test_without_a_gap_between_requests_the_second_is_lost(
    settling_device: QuirkyDevice,
) -> None:
    device = {"id": "meter", "max_gap": 0, "tags": two_requests()}
    (source,) = sources(settling_device.port, [device])
    readings = await read_once(source)
    assert readings[0].quality is Quality.GOOD
    assert readings[1].quality is Quality.BAD and "timeout" in (readings[1].reason or "")


async def test_a_minimum_gap_between_requests_gets_every_value(
    settling_device: QuirkyDevice,
) -> None:
    device = {"id": "meter", "max_gap": 0, "min_request_gap_s": SETTLE_S + 0.2,
              "tags": two_requests()}  # fmt: skip
    (source,) = sources(settling_device.port, [device])
    for _ in range(2):  # the gap holds between polls too
        readings = list(await source.read())
        assert [(r.quality, r.value) for r in readings] == [(Quality.GOOD, 7), (Quality.GOOD, 7)]
    await source.close()
    assert settling_device.ignored == []


def gateway_devices(share: bool) -> list[dict[str, Any]]:
    return [
        {"id": f"press-{unit}", "unit_id": unit, "share_connection": share,
         "tags": {"count": {"register_type": "holding", "address": 3}}}
        for unit in (1, 2)
    ]  # fmt: skip


async def read_all(found: list[Source]) -> list[list[Reading]]:
    try:
        for source in found:
            await source.connect()
        return [list(await source.read()) for source in found]
    finally:
        for source in found:
            await source.close()


async def test_units_behind_one_gateway_share_one_connection(device_server: DeviceServer) -> None:
    await device_server.write(1, "holding", 3, [11])
    await device_server.write(2, "holding", 3, [22])
    by_device = await read_all(sources(device_server.port, gateway_devices(share=True)))
    assert [[(r.quality, r.value) for r in rs] for rs in by_device] == [
        [(Quality.GOOD, 11)],
        [(Quality.GOOD, 22)],
    ]
    assert device_server.connections == 1
    # One pass over the gateway per tick: each unit read once, not once per device.
    assert sorted(seen.unit for seen in device_server.reads()) == [1, 2]


async def test_by_default_each_device_behind_a_gateway_has_its_own_connection(
    device_server: DeviceServer,
) -> None:
    by_device = await read_all(sources(device_server.port, gateway_devices(share=False)))
    assert all(r.quality is Quality.GOOD for rs in by_device for r in rs)
    assert device_server.connections == 2


async def test_single_bits_of_holding_and_input_registers(device_server: DeviceServer) -> None:
    await device_server.write(1, "holding", 10, [0b1000_0000_0000_0101])
    await device_server.write(1, "input", 20, [0b0000_0000_0000_0010])
    tags = {
        "door_open": {"register_type": "holding", "address": 10, "data_type": "bit", "bit": 0},
        "guard": {"register_type": "holding", "address": 10, "data_type": "bit", "bit": 1},
        "e_stop": {"register_type": "holding", "address": 10, "data_type": "bit", "bit": 15},
        "run_lamp": {"register_type": "input", "address": 20, "data_type": "bit", "bit": 1},
    }
    (source,) = sources(device_server.port, [{"id": "press", "tags": tags}])
    readings = await read_once(source)
    assert {r.tag: r.value for r in readings} == {
        "door_open": True,
        "guard": False,
        "e_stop": True,
        "run_lamp": True,
    }
    assert len(device_server.reads()) == 2  # one read per table, the bits sharing a register
