"""The Modbus source against a real pymodbus server (``conftest.py``): TCP and RTU over a pty."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import time
from datetime import UTC, datetime

import pytest
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException
from pymodbus.pdu.register_message import ReadHoldingRegistersResponse

from agent.sources.base import Quality, Reading, Source
from agent.sources.modbus import (
    ByteOrder,
    DataType,
    ModbusConnection,
    ModbusPoint,
    ModbusSource,
    RegisterType,
    RtuLink,
    TcpLink,
    WordOrder,
)
from agent.sources.modbus.source import _LinkDrop
from contract.clock import ScaledClock

from ..conftest import DeviceServer, Fault

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

FORMATS = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}
SAMPLES = {
    DataType.INT16: -12345,
    DataType.UINT16: 54321,
    DataType.INT32: -123456789,
    DataType.UINT32: 3_000_000_001,
    DataType.INT64: -(2**62) - 12345,
    DataType.UINT64: 2**63 + 98765,
    DataType.FLOAT32: 1.5,
    DataType.FLOAT64: -2.0e-300,
}


def registers_for(
    data_type: DataType, value: float, byte_order: ByteOrder, word_order: WordOrder
) -> list[int]:
    """What a device with these orders holds for ``value``, encoded by hand with struct."""
    packed = struct.pack(FORMATS[data_type], value)
    words = [packed[i : i + 2] for i in range(0, len(packed), 2)]
    if word_order is WordOrder.LITTLE:
        words.reverse()
    return [
        int.from_bytes(word, "big" if byte_order is ByteOrder.BIG else "little") for word in words
    ]


def tcp(
    server: DeviceServer, *, max_gap: int = 10, max_read_registers: int = 125
) -> ModbusConnection:
    return ModbusConnection(
        link=TcpLink("127.0.0.1", server.port),
        timeout_s=1.0,
        retries=0,
        max_gap=max_gap,
        max_read_registers=max_read_registers,
    )


def holding(
    tag: str, address: int, data_type: DataType = DataType.UINT16, unit_id: int = 1
) -> ModbusPoint:
    return ModbusPoint(
        tag=tag,
        register_type=RegisterType.HOLDING,
        address=address,
        data_type=data_type,
        unit_id=unit_id,
    )


def by_tag(readings: list[Reading]) -> dict[str, Reading]:
    return {reading.tag: reading for reading in readings}


async def test_every_type_and_order_decodes_from_the_server(device_server: DeviceServer) -> None:
    points: list[ModbusPoint] = []
    expected: dict[str, object] = {}
    address = 0
    for data_type, value in SAMPLES.items():
        for byte_order in ByteOrder:
            for word_order in WordOrder:
                tag = f"{data_type.value}_{byte_order.value}_{word_order.value}"
                words = registers_for(data_type, value, byte_order, word_order)
                await device_server.write(1, "holding", address, words)
                points.append(
                    ModbusPoint(
                        tag=tag,
                        register_type=RegisterType.HOLDING,
                        address=address,
                        data_type=data_type,
                        byte_order=byte_order,
                        word_order=word_order,
                    )
                )
                expected[tag] = value
                address += len(words)
    await device_server.write(1, "input", 10, [0x4C69, 0x6E65, 0x2031, 0x0000])  # "Line 1"
    await device_server.write(1, "input", 14, [0b0000_0000_0010_0000])
    await device_server.write(1, "coil", 5, [True])
    await device_server.write(1, "discrete_input", 9, [True])
    points += [
        ModbusPoint(
            tag="name",
            register_type=RegisterType.INPUT,
            address=10,
            data_type=DataType.STRING,
            string_registers=4,
        ),
        ModbusPoint(
            tag="bit5",
            register_type=RegisterType.INPUT,
            address=14,
            data_type=DataType.BIT,
            bit_index=5,
        ),
        ModbusPoint(
            tag="bit4",
            register_type=RegisterType.INPUT,
            address=14,
            data_type=DataType.BIT,
            bit_index=4,
        ),
        ModbusPoint(
            tag="coil5", register_type=RegisterType.COIL, address=5, data_type=DataType.BOOL
        ),
        ModbusPoint(
            tag="coil6", register_type=RegisterType.COIL, address=6, data_type=DataType.BOOL
        ),
        ModbusPoint(
            tag="di9", register_type=RegisterType.DISCRETE_INPUT, address=9, data_type=DataType.BOOL
        ),
        ModbusPoint(
            tag="scaled",
            register_type=RegisterType.HOLDING,
            address=0,
            data_type=DataType.INT16,
            scale=0.5,
            offset=1.0,
        ),
    ]
    expected |= {
        "name": "Line 1",
        "bit5": True,
        "bit4": False,
        "coil5": True,
        "coil6": False,
        "di9": True,
    }
    expected["scaled"] = SAMPLES[DataType.INT16] * 0.5 + 1.0

    source = ModbusSource("press-1", tcp(device_server), points)
    readings = await source.read()
    await source.close()

    assert [reading.tag for reading in readings] == [p.tag for p in points]  # configuration order
    assert {r.tag: r.value for r in readings} == expected
    assert all(r.quality is Quality.GOOD and r.reason is None for r in readings)
    assert all(r.latency_s is not None and r.latency_s >= 0 for r in readings)
    assert by_tag(readings)["coil5"].raw is True
    assert by_tag(readings)["uint16_big_big"].raw == (54321,)


async def test_coalescing_sends_fewer_requests_than_points(device_server: DeviceServer) -> None:
    points = [holding(f"h{i}", i * 3) for i in range(20)] + [
        ModbusPoint(
            tag=f"c{i}", register_type=RegisterType.COIL, address=i * 2, data_type=DataType.BOOL
        )
        for i in range(10)
    ]
    coalesced = ModbusSource("press-1", tcp(device_server), points)
    await coalesced.read()
    assert len(device_server.reads()) == 2  # holding 0..57 and coils 0..18, one request each
    assert len(coalesced.plan) == 2

    device_server.requests.clear()
    contiguous_only = ModbusSource("press-1", tcp(device_server, max_gap=0), points)
    readings = await contiguous_only.read()
    assert len(device_server.reads()) == len(points)
    assert all(r.quality is Quality.GOOD for r in readings)

    device_server.requests.clear()
    short_reads = ModbusSource("press-1", tcp(device_server, max_read_registers=10), points)
    await short_reads.read()
    assert max(seen.count for seen in device_server.reads() if seen.table == "holding") <= 10
    for source in (coalesced, contiguous_only, short_reads):
        await source.close()


async def test_exception_marks_only_its_own_request_bad(device_server: DeviceServer) -> None:
    device_server.faults.append(Fault(1, "holding", range(0, 10), ExcCodes.DEVICE_FAILURE))
    await device_server.write(1, "input", 0, [42])
    points = [
        holding("broken", 2),
        ModbusPoint(tag="fine", register_type=RegisterType.INPUT, address=0),
        holding("other_unit", 2, unit_id=2),
    ]
    source = ModbusSource("press-1", tcp(device_server), points)
    readings = by_tag(await source.read())
    await source.close()

    assert readings["broken"].quality is Quality.BAD
    assert readings["broken"].value is None
    assert readings["broken"].reason == "modbus exception 4 (server device failure)"
    assert readings["broken"].latency_s is not None  # the device did answer
    assert (readings["fine"].quality, readings["fine"].value) == (Quality.GOOD, 42)
    assert readings["other_unit"].quality is Quality.GOOD


async def test_a_read_through_a_hole_is_split_once_and_values_still_arrive(
    device_server: DeviceServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Holding 200..209 is undefined on the device: 199..210 with max_gap 10 reads through it.
    await device_server.write(1, "holding", 199, [1])
    await device_server.write(1, "holding", 210, [2])
    source = ModbusSource(
        "press-1", tcp(device_server), [holding("before", 199), holding("after", 210)]
    )
    assert len(source.plan) == 1
    with caplog.at_level(logging.WARNING, logger="agent.sources.modbus.source"):
        first = by_tag(await source.read())
        second = by_tag(await source.read())
    await source.close()

    assert {tag: r.value for tag, r in first.items()} == {"before": 1, "after": 2}
    assert {tag: r.value for tag, r in second.items()} == {"before": 1, "after": 2}
    assert [(r.address, r.count) for r in source.plan] == [(199, 1), (210, 1)]
    # 1 refused coalesced read + 2 strict ones, then 2 strict ones: the split is remembered.
    assert [(seen.address, seen.count) for seen in device_server.reads()] == [
        (199, 12),
        (199, 1),
        (210, 1),
        (199, 1),
        (210, 1),
    ]
    holes = [record for record in caplog.records if "holes in its map" in record.getMessage()]
    assert len(holes) == 1
    assert "device press-1:" in holes[0].getMessage()


async def test_an_undefined_strict_address_is_bad_with_exception_2(
    device_server: DeviceServer,
) -> None:
    source = ModbusSource("press-1", tcp(device_server), [holding("missing", 205)])
    (reading,) = await source.read()
    await source.close()
    assert reading.reason == "modbus exception 2 (illegal data address)"


async def test_decode_errors_are_bad_values_next_to_good_ones(device_server: DeviceServer) -> None:
    await device_server.write(
        1, "holding", 0, [0x7FC0, 0x0000, 0xFFFE, 0x4100, 7]
    )  # NaN, bad UTF-8
    points = [
        holding("nan", 0, DataType.FLOAT32),
        ModbusPoint(
            tag="text",
            register_type=RegisterType.HOLDING,
            address=2,
            data_type=DataType.STRING,
            string_registers=2,
        ),
        holding("count", 4),
    ]
    source = ModbusSource("press-1", tcp(device_server), points)
    readings = by_tag(await source.read())
    await source.close()
    assert len(device_server.reads()) == 1
    assert readings["nan"].quality is Quality.BAD and "float32 register holds nan" in str(
        readings["nan"].reason
    )
    assert readings["text"].quality is Quality.BAD and "invalid UTF-8" in str(
        readings["text"].reason
    )
    assert readings["text"].raw == (0xFFFE, 0x4100)
    assert (readings["count"].quality, readings["count"].value) == (Quality.GOOD, 7)


async def test_reconnects_after_the_device_drops_the_connection(
    device_server: DeviceServer,
) -> None:
    await device_server.write(1, "holding", 0, [11])
    source = ModbusSource("press-1", tcp(device_server), [holding("count", 0)])
    assert (await source.read())[0].value == 11
    # The client may notice the close before the next poll or only when that poll's request hits
    # the closed socket; either way the poll reconnects and reads.
    device_server.drop_connections()
    await device_server.write(1, "holding", 0, [12])

    (reading,) = await source.read()
    await source.close()
    assert (reading.quality, reading.value) == (Quality.GOOD, 12)
    assert device_server.connections == 2


async def test_a_drop_during_a_request_is_connection_lost_then_recovers(
    device_server: DeviceServer,
) -> None:
    # Long timeout and retries: without noticing the drop the read would hang for 30 s.
    connection = ModbusConnection(
        link=TcpLink("127.0.0.1", device_server.port), timeout_s=10.0, retries=2
    )
    source = ModbusSource(
        "press-1", connection, [holding("count", 0), holding("other", 0, unit_id=2)]
    )
    await source.read()
    device_server.faults.append(Fault(1, "holding", range(0, 1), "drop"))

    readings = by_tag(await source.read())
    assert readings["count"].reason == "connection lost"
    assert readings["other"].reason == "connection lost"  # same link, later in the same poll

    device_server.faults.clear()
    readings = by_tag(await source.read())
    await source.close()
    assert all(r.quality is Quality.GOOD for r in readings.values())


async def test_an_unreachable_port_gives_connection_refused_without_raising(free_port: int) -> None:
    connection = ModbusConnection(
        link=TcpLink("127.0.0.1", free_port),
        timeout_s=1.0,
        backoff_initial_s=60.0,
        backoff_max_s=60.0,
    )
    source = ModbusSource(
        "press-1", connection, [holding("a", 0), holding("b", 1)], rng=random.Random(1)
    )
    first = await source.read()
    second = await source.read()  # within the backoff: no new attempt, same reason
    await source.close()
    for reading in [*first, *second]:
        assert reading.quality is Quality.BAD
        assert reading.reason == f"connection refused (127.0.0.1:{free_port})"
        assert reading.value is None and reading.latency_s is None


async def test_a_unit_that_stops_answering_times_out_once_per_poll(
    device_server: DeviceServer,
) -> None:
    device_server.faults.append(Fault(2, "holding", range(0, 100), "hang"))
    connection = ModbusConnection(
        link=TcpLink("127.0.0.1", device_server.port), timeout_s=0.2, retries=0
    )
    points = [
        holding("silent_a", 0, unit_id=2),
        ModbusPoint(tag="silent_b", register_type=RegisterType.INPUT, address=0, unit_id=2),
        holding("alive", 0, unit_id=1),
    ]
    source = ModbusSource("line-gw", connection, points)
    readings = by_tag(await source.read())
    await source.close()

    assert readings["silent_a"].reason == "timeout after 0.2 s x 1 attempts"
    assert readings["silent_b"].reason == "timeout after 0.2 s x 1 attempts (skipped)"
    assert readings["alive"].quality is Quality.GOOD
    assert [seen.unit for seen in device_server.reads()].count(2) == 1


async def test_long_outages_are_logged_on_change_only(
    free_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    connection = ModbusConnection(
        link=TcpLink("127.0.0.1", free_port),
        timeout_s=1.0,
        backoff_initial_s=0.01,
        backoff_max_s=0.01,
    )
    source = ModbusSource("press-1", connection, [holding("a", 0)])
    with caplog.at_level(logging.INFO, logger="agent.sources.modbus"):
        for _ in range(5):
            await source.read()
            await asyncio.sleep(0.02)  # past the backoff, so every poll really tries again
    await source.close()
    ours = [r for r in caplog.records if r.name.startswith("agent.sources.modbus")]
    assert len(ours) == 1
    assert "cannot connect: connection refused" in ours[0].getMessage()


async def test_rtu_over_a_pseudo_terminal(rtu_server: DeviceServer) -> None:
    await rtu_server.write(
        1, "holding", 0, registers_for(DataType.FLOAT32, 230.5, ByteOrder.BIG, WordOrder.LITTLE)
    )
    await rtu_server.write(1, "holding", 2, [17])
    await rtu_server.write(2, "input", 0, [99])
    link = RtuLink(port=rtu_server.serial_port, baudrate=19200)
    points = [
        ModbusPoint(
            tag="voltage",
            register_type=RegisterType.HOLDING,
            address=0,
            data_type=DataType.FLOAT32,
            word_order=WordOrder.LITTLE,
        ),
        holding("count", 2),
        ModbusPoint(tag="meter2", register_type=RegisterType.INPUT, address=0, unit_id=2),
        holding("missing", 205),
    ]
    source = ModbusSource(
        "meter-bus", ModbusConnection(link=link, timeout_s=1.0, retries=0), points
    )
    readings = by_tag(await source.read())
    await source.close()

    assert {tag: readings[tag].value for tag in ("voltage", "count", "meter2")} == {
        "voltage": 230.5,
        "count": 17,
        "meter2": 99,
    }
    assert readings["missing"].reason == "modbus exception 2 (illegal data address)"
    assert len(rtu_server.reads()) == 3  # voltage and count coalesced on unit 1


async def test_a_missing_serial_port_is_bad_quality(tmp_path: object) -> None:
    link = RtuLink(port="/dev/nonexistent-tty-for-test")
    source = ModbusSource(
        "meter-bus", ModbusConnection(link=link, timeout_s=0.5), [holding("a", 0)]
    )
    (reading,) = await source.read()
    await source.close()
    assert reading.quality is Quality.BAD
    assert reading.reason is not None and "/dev/nonexistent-tty-for-test" in reading.reason


def test_duplicate_tags_are_refused() -> None:
    connection = ModbusConnection(link=TcpLink("127.0.0.1", 502))
    with pytest.raises(ValueError, match=r"device press-1: duplicate modbus tags \['a'\]"):
        ModbusSource("press-1", connection, [holding("a", 0), holding("a", 1)])


async def test_readings_are_stamped_with_the_given_clock(device_server: DeviceServer) -> None:
    start = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
    clock = ScaledClock(start=start, anchor=time.time(), speed=1.0)
    source = ModbusSource("press-1", tcp(device_server), [holding("count", 0)], clock=clock)
    (reading,) = await source.read()
    await source.close()
    # Plant time in 2025, not today's wall clock: the source reads time only from its clock.
    assert start.timestamp() <= reading.read_ts < start.timestamp() + 3600


def test_modbus_source_implements_the_source_protocol() -> None:
    source: Source = ModbusSource(  # mypy checks the assignment against the Protocol
        "press-1", ModbusConnection(link=TcpLink("127.0.0.1", 502)), [holding("a", 0)]
    )
    assert source.device_id == "press-1"


async def test_a_stop_is_not_lost_when_the_request_absorbs_its_cancel() -> None:
    """A polling task cancelled during a request stops, even if the request absorbs the cancel.

    pymodbus waits for the answer with ``asyncio.wait_for``, which on Python 3.11 returns the
    response when it and the cancel arrive in the same loop iteration. The request here does
    that every time: it catches the cancel and answers. The demo's CI run lost an agent's stop
    this way (the polling task got the answer and polled on until SIGKILL).
    """
    started = asyncio.Event()

    async def absorbing_request() -> ReadHoldingRegistersResponse:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(30)
        return ReadHoldingRegistersResponse(registers=[1])

    polling = asyncio.create_task(_LinkDrop().unless_set(absorbing_request, budget_s=30))
    await started.wait()
    polling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(polling, timeout=5)
    assert polling.cancelled()


async def test_a_hung_request_times_out_after_many_quick_ones() -> None:
    """One watchdog per link bounds every request: quick answers move its deadline, a hang
    after them still ends in TimeoutError, and so does one whose bound is shorter than the
    watchdog's current wait."""
    link = _LinkDrop()

    async def quick() -> ReadHoldingRegistersResponse:
        return ReadHoldingRegistersResponse(registers=[1])

    async def hung() -> ReadHoldingRegistersResponse:
        await asyncio.sleep(3600)
        return ReadHoldingRegistersResponse(registers=[2])

    async def outcome_of_hung() -> BaseException | None:
        # The test's own bound is a wait, not wait_for: its TimeoutError must not pass for ours.
        request = asyncio.create_task(link.unless_set(hung, budget_s=0.05))
        await asyncio.wait((request,), timeout=30)
        request.cancel()
        return request.exception() if request.done() and not request.cancelled() else None

    for _ in range(50):
        response = await link.unless_set(quick, budget_s=0.05)
        assert response.registers == [1]
    assert isinstance(await outcome_of_hung(), TimeoutError)
    await link.unless_set(quick, budget_s=3600)  # arms the watchdog an hour ahead
    assert isinstance(await outcome_of_hung(), TimeoutError)


async def test_a_drop_ends_the_request_in_flight_as_connection_lost() -> None:
    link = _LinkDrop()
    started = asyncio.Event()

    async def hung() -> ReadHoldingRegistersResponse:
        started.set()
        await asyncio.sleep(3600)
        return ReadHoldingRegistersResponse(registers=[2])

    polling = asyncio.create_task(link.unless_set(hung, budget_s=3600))
    await started.wait()
    link.set()
    with pytest.raises(ConnectionException):
        await asyncio.wait_for(polling, timeout=30)
    with pytest.raises(ConnectionException):  # and every request after it, at once
        await link.unless_set(hung, budget_s=3600)


async def test_readings_come_in_the_configured_order_before_and_after_a_split(
    device_server: DeviceServer,
) -> None:
    # The plan reads by table and address (and, after the refused read through the hole at
    # 200..209, point by point); read() must still answer in the order the points were given.
    await device_server.write(1, "holding", 199, [1])
    await device_server.write(1, "holding", 210, [2])
    coil = ModbusPoint(
        tag="c0", register_type=RegisterType.COIL, address=0, data_type=DataType.BOOL
    )
    points = [holding("after", 210), coil, holding("before", 199)]
    source = ModbusSource("press-1", tcp(device_server), points)
    for _ in range(3):
        readings = await source.read()
        assert [r.tag for r in readings] == ["after", "c0", "before"]
        assert [r.value for r in readings if r.tag != "c0"] == [2, 1]
        assert all(r.quality is Quality.GOOD for r in readings)
    await source.close()
    assert [(r.address, r.count) for r in source.plan] == [(0, 1), (199, 1), (210, 1)]
