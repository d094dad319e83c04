"""Decoding: registers encoded by hand with struct round-trip for every type and order."""

from __future__ import annotations

import dataclasses
import math
import struct
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.client.mixin import ModbusClientMixin

from agent.sources.base import Quality
from agent.sources.modbus import (
    ByteOrder,
    DataType,
    ModbusPoint,
    ModbusSource,
    RegisterType,
    WordOrder,
)
from agent.sources.modbus.coalesce import ReadRequest
from agent.sources.modbus.decode import block_layout, decode_bit, decode_registers, point_decoder
from agent.sources.modbus.settings import ModbusConnection, TcpLink
from agent.sources.modbus.source import _prepare

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
INTEGER_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}
ORDERS = [(byte, word) for byte in ByteOrder for word in WordOrder]


def encode(
    data_type: DataType, value: float, byte_order: ByteOrder, word_order: WordOrder
) -> list[int]:
    """Registers a device with these orders would send for ``value`` (independent of decode.py)."""
    packed = struct.pack(FORMATS[data_type], value)  # most significant byte first: ABCD...
    words = [packed[i : i + 2] for i in range(0, len(packed), 2)]
    if word_order is WordOrder.LITTLE:
        words.reverse()
    # A register's value is its two wire bytes read high byte first; a little-byte device sends
    # the low byte of each word first.
    wire: Literal["big", "little"] = "big" if byte_order is ByteOrder.BIG else "little"
    return [int.from_bytes(word, wire) for word in words]


def point(
    data_type: DataType, byte_order: ByteOrder, word_order: WordOrder, **kw: object
) -> ModbusPoint:
    return ModbusPoint(
        tag="t",
        register_type=RegisterType.HOLDING,
        address=0,
        data_type=data_type,
        byte_order=byte_order,
        word_order=word_order,
        **kw,  # type: ignore[arg-type]  # test helper passes only ModbusPoint fields
    )


def value_strategy(data_type: DataType) -> st.SearchStrategy[float]:
    if data_type is DataType.FLOAT32:
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if data_type is DataType.FLOAT64:
        return st.floats(allow_nan=False, allow_infinity=False)
    low, high = INTEGER_RANGES[data_type]
    return st.integers(low, high)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[DataType, ByteOrder, WordOrder, float]:
    data_type = draw(st.sampled_from(sorted(FORMATS)))
    byte_order, word_order = draw(st.sampled_from(ORDERS))
    return data_type, byte_order, word_order, draw(value_strategy(data_type))


@given(typed_values())
def test_numeric_values_round_trip_for_every_type_and_order(
    case: tuple[DataType, ByteOrder, WordOrder, float],
) -> None:
    data_type, byte_order, word_order, value = case
    registers = encode(data_type, value, byte_order, word_order)
    decoded = decode_registers(point(data_type, byte_order, word_order), registers)
    assert decoded.reason is None
    assert decoded.value == value
    assert type(decoded.value) is type(value)


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
def test_the_four_classic_orders_of_0x0a0b0c0d(
    byte_order: ByteOrder, word_order: WordOrder
) -> None:
    # ABCD, CDAB (word swap), BADC (byte swap), DCBA: how device manuals name them.
    expected_registers = {
        (ByteOrder.BIG, WordOrder.BIG): [0x0A0B, 0x0C0D],
        (ByteOrder.BIG, WordOrder.LITTLE): [0x0C0D, 0x0A0B],
        (ByteOrder.LITTLE, WordOrder.BIG): [0x0B0A, 0x0D0C],
        (ByteOrder.LITTLE, WordOrder.LITTLE): [0x0D0C, 0x0B0A],
    }[(byte_order, word_order)]
    assert encode(DataType.UINT32, 0x0A0B0C0D, byte_order, word_order) == expected_registers
    decoded = decode_registers(point(DataType.UINT32, byte_order, word_order), expected_registers)
    assert decoded.value == 0x0A0B0C0D


@given(
    st.sampled_from(sorted(FORMATS)).flatmap(
        lambda t: st.tuples(
            st.just(t),
            st.lists(
                st.integers(0, 0xFFFF),
                min_size=len(struct.pack(FORMATS[t], 0)) // 2,
                max_size=len(struct.pack(FORMATS[t], 0)) // 2,
            ),
        )
    ),
    st.sampled_from(list(WordOrder)),
)
def test_big_byte_order_agrees_with_pymodbus_convert_from_registers(
    case: tuple[DataType, list[int]], word_order: WordOrder
) -> None:
    data_type, registers = case
    ours = decode_registers(point(data_type, ByteOrder.BIG, word_order), registers)
    pymodbus_type = getattr(ModbusClientMixin.DATATYPE, data_type.name)
    theirs = ModbusClientMixin.convert_from_registers(registers, pymodbus_type, word_order.value)
    assert isinstance(theirs, int | float)
    if isinstance(theirs, float) and not math.isfinite(theirs):
        assert ours.value is None and ours.reason is not None
    else:
        assert ours.value == theirs


@given(st.integers(0, 0xFFFF), st.integers(0, 15), st.sampled_from(list(ByteOrder)))
def test_bit_in_register_counts_from_the_least_significant_bit(
    register: int, bit_index: int, byte_order: ByteOrder
) -> None:
    wire: Literal["big", "little"] = "big" if byte_order is ByteOrder.BIG else "little"
    device_value = int.from_bytes(register.to_bytes(2, "big"), wire)
    decoded = decode_registers(
        point(DataType.BIT, byte_order, WordOrder.BIG, bit_index=bit_index), [register]
    )
    assert decoded.value is bool((device_value >> bit_index) & 1)


TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00", exclude_categories=["Cs"]),
    max_size=12,
).filter(lambda text: not text.endswith(" "))


@given(TEXT, st.sampled_from(list(ByteOrder)), st.integers(0, 3))
def test_strings_round_trip_with_trailing_nuls_stripped(
    text: str, byte_order: ByteOrder, padding_registers: int
) -> None:
    encoded = text.encode("utf-8")
    registers_needed = (len(encoded) + 1) // 2 + padding_registers or 1
    padded = encoded.ljust(registers_needed * 2, b"\x00")
    wire: Literal["big", "little"] = "big" if byte_order is ByteOrder.BIG else "little"
    registers = [int.from_bytes(padded[i : i + 2], wire) for i in range(0, len(padded), 2)]
    string_point = point(
        DataType.STRING, byte_order, WordOrder.BIG, string_registers=registers_needed
    )
    assert decode_registers(string_point, registers).value == text


def test_string_trailing_spaces_are_stripped_and_word_order_ignored() -> None:
    registers = [0x4142, 0x4320, 0x2020]  # "ABC   "
    for word_order in WordOrder:
        string_point = point(DataType.STRING, ByteOrder.BIG, word_order, string_registers=3)
        assert decode_registers(string_point, registers).value == "ABC"


def test_invalid_utf8_is_a_bad_value_with_a_reason_not_an_exception() -> None:
    string_point = point(DataType.STRING, ByteOrder.BIG, WordOrder.BIG, string_registers=2)
    decoded = decode_registers(string_point, [0x41FF, 0xFE42])
    assert decoded.value is None
    assert decoded.reason == "decode error: invalid UTF-8 at byte 1 of 4"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("data_type", [DataType.FLOAT32, DataType.FLOAT64])
def test_nan_and_infinity_are_bad_values_with_a_reason(bad: float, data_type: DataType) -> None:
    registers = encode(data_type, bad, ByteOrder.BIG, WordOrder.BIG)
    decoded = decode_registers(point(data_type, ByteOrder.BIG, WordOrder.BIG), registers)
    assert decoded.value is None
    assert decoded.reason is not None and data_type.value in decoded.reason


def test_scale_and_offset_apply_to_numbers() -> None:
    scaled = point(DataType.INT16, ByteOrder.BIG, WordOrder.BIG, scale=0.1, offset=-40.0)
    assert decode_registers(scaled, [0xFFF6]).value == pytest.approx(-41.0)  # -10 * 0.1 - 40
    assert decode_registers(point(DataType.INT16, ByteOrder.BIG, WordOrder.BIG), [7]).value == 7


def test_wrong_register_count_is_a_bad_value() -> None:
    decoded = decode_registers(point(DataType.FLOAT32, ByteOrder.BIG, WordOrder.BIG), [1])
    assert decoded.reason == "decode error: got 1 registers, expected 2"


def test_bool_on_a_register_means_non_zero_and_coils_are_bools() -> None:
    bool_point = point(DataType.BOOL, ByteOrder.BIG, WordOrder.BIG)
    assert decode_registers(bool_point, [0]).value is False
    assert decode_registers(bool_point, [0x0100]).value is True
    coil = ModbusPoint(tag="c", register_type=RegisterType.COIL, address=3, data_type=DataType.BOOL)
    assert decode_bit(coil, True).value is True


@st.composite
def register_points(draw: st.DrawFn) -> ModbusPoint:
    """Any valid register-table point: every type, order, bit, string length, scale."""
    data_type = draw(st.sampled_from(list(DataType)))
    extra: dict[str, object] = {}
    if data_type is DataType.BIT:
        extra["bit_index"] = draw(st.integers(0, 15))
    if data_type is DataType.STRING:
        extra["string_registers"] = draw(st.integers(1, 6))
    if data_type in FORMATS and draw(st.booleans()):
        extra["scale"] = draw(st.sampled_from([0.01, 0.1, 10.0, -1.0]))
        extra["offset"] = draw(st.sampled_from([0.0, -40.0, 273.15]))
    byte_order, word_order = draw(st.sampled_from(ORDERS))
    return point(data_type, byte_order, word_order, **extra)


@given(register_points(), st.data())
def test_prepared_decoder_equals_decode_registers(
    register_point: ModbusPoint, data: st.DataObject
) -> None:
    # The poll loop's prepared decoder must give the same value and reason as the general one,
    # for the point anywhere inside a longer response (NaN and infinity included).
    before = data.draw(st.lists(st.integers(0, 0xFFFF), max_size=4))
    words = data.draw(
        st.lists(
            st.integers(0, 0xFFFF), min_size=register_point.width, max_size=register_point.width
        )
    )
    after = data.draw(st.lists(st.integers(0, 0xFFFF), max_size=4))
    expected = decode_registers(register_point, words)
    value, reason = point_decoder(register_point)([*before, *words, *after], len(before))
    assert reason == expected.reason
    if isinstance(value, float) and isinstance(expected.value, float):
        assert value == expected.value or (math.isnan(value) and math.isnan(expected.value))
    else:
        assert value == expected.value
    assert type(value) is type(expected.value)


@given(st.lists(st.booleans(), min_size=1, max_size=20), st.data())
def test_prepared_decoder_equals_decode_bit_on_bit_tables(
    bits: list[bool], data: st.DataObject
) -> None:
    first = data.draw(st.integers(0, len(bits) - 1))
    table = data.draw(st.sampled_from([RegisterType.COIL, RegisterType.DISCRETE_INPUT]))
    coil = ModbusPoint(tag="c", register_type=table, address=0, data_type=DataType.BOOL)
    assert point_decoder(coil)(bits, first) == (decode_bit(coil, bits[first]).value, None)


@st.composite
def register_requests(draw: st.DrawFn) -> ReadRequest:
    """A register read serving 1-8 points of any type and order, overlapping or not."""
    points: list[ModbusPoint] = []
    for index in range(draw(st.integers(1, 8))):
        drawn = draw(register_points())
        address = draw(st.integers(0, 12))
        points.append(dataclasses.replace(drawn, tag=f"t{index}", address=address))
    count = max(p.address + p.width for p in points)
    return ReadRequest(1, RegisterType.HOLDING, 0, count, tuple(points))


@given(register_requests(), st.data())
def test_the_poll_loop_decodes_a_whole_response_as_decode_registers_does(
    request: ReadRequest, data: st.DataObject
) -> None:
    # The poll loop unpacks the big-endian numbers of a response in one struct call
    # (block_layout) and shifts bits out of registers itself; every reading must still carry
    # what decode_registers says of its point alone: value, reason, quality and raw words.
    words = data.draw(
        st.lists(st.integers(0, 0xFFFF), min_size=request.count, max_size=request.count)
    )
    source = ModbusSource("d", ModbusConnection(link=TcpLink("127.0.0.1", 502)), request.points)
    readings = source._decoded(_prepare(request), words, 1.0, 0.002)
    assert [r.tag for r in readings] == [p.tag for p in request.points]
    for reading, point in zip(readings, request.points, strict=True):
        own = words[point.address : point.address + point.width]
        expected = decode_registers(point, own)
        assert reading.reason == expected.reason
        assert reading.quality is (Quality.GOOD if expected.reason is None else Quality.BAD)
        assert type(reading.value) is type(expected.value)
        assert reading.value == expected.value
        assert reading.raw == tuple(own)
        assert (reading.read_ts, reading.latency_s) == (1.0, 0.002)


def test_a_block_serves_only_big_endian_numbers_that_do_not_overlap() -> None:
    points = [
        dataclasses.replace(point(DataType.UINT32, ByteOrder.BIG, WordOrder.BIG), tag="a"),
        # overlaps "a": decoded on its own
        dataclasses.replace(
            point(DataType.BIT, ByteOrder.BIG, WordOrder.BIG, bit_index=3), tag="b", address=1
        ),
        dataclasses.replace(point(DataType.FLOAT32, ByteOrder.BIG, WordOrder.LITTLE), tag="c",
                            address=2),
        dataclasses.replace(point(DataType.INT16, ByteOrder.BIG, WordOrder.BIG), tag="d",
                            address=5),
    ]  # fmt: skip
    layout = block_layout(points, 0, 6)
    assert layout is not None
    assert layout.slots == (0, -1, -1, 1)
    assert layout.numbers(layout.to_bytes(0, 7, 1, 2, 9, 0xFFFF)) == (7, -1)
    coil = ModbusPoint(tag="c", register_type=RegisterType.COIL, address=0, data_type=DataType.BOOL)
    assert block_layout([coil], 0, 1) is None
