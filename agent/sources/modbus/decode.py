"""Registers and bits to values: every data type, byte order and word order. Pure, no I/O.

We decode with :mod:`struct` ourselves rather than with pymodbus's
``ModbusClientMixin.convert_from_registers``: that helper only reverses the register list for
``word_order="little"`` and always reads each register high byte first, so it cannot express
byte-swapped devices (``BADC``/``DCBA``); for strings it strips trailing NULs but not spaces and
raises ``UnicodeDecodeError`` on invalid UTF-8, and for ``word_order="little"`` it reverses a
whole string's registers. For ``byte_order=big`` our numeric results equal pymodbus's (a test
checks it). A bad value never raises here: it comes back as a :class:`Decoded` with a reason.

:func:`point_decoder` is the same decoding prepared once per point for the poll loop (formats,
orders and scaling chosen when the plan is made, not per value); a property test holds it equal
to :func:`decode_registers` and :func:`decode_bit` for every type and order.

:func:`block_layout` goes one step further for a whole read response: the big-endian numbers
of a request that do not overlap are unpacked by one ``struct`` call over the response's
bytes, so the poll loop makes no call per value for them (a property test holds it equal to
:func:`decode_registers` too).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .points import ByteOrder, DataType, ModbusPoint, WordOrder

__all__ = [
    "BlockLayout",
    "Decoded",
    "PointDecoder",
    "block_layout",
    "decode_bit",
    "decode_registers",
    "point_decoder",
    "registers_to_bytes",
]

_STRUCT_FORMAT: dict[DataType, str] = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}

Value = float | int | bool | str

#: ``decoder(values, first)``: (value, reason) of one point whose first table entry is
#: ``values[first]``; ``values`` are a whole response's registers (or bits), already checked to
#: hold every entry the request asked for.
PointDecoder = Callable[[Sequence[int | bool], int], tuple[Value | None, str | None]]


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded value, or None and the reason it could not be decoded."""

    value: Value | None
    reason: str | None = None


def registers_to_bytes(
    registers: Sequence[int], byte_order: ByteOrder, word_order: WordOrder
) -> bytes:
    """Bytes of a value, most significant first, from its registers in address order.

    ``word_order=little`` puts the last register first; ``byte_order=little`` swaps the two bytes
    of every register. So ``ABCD`` (big/big), ``CDAB`` (little word), ``BADC`` (little byte) and
    ``DCBA`` (both little) all come back as ``ABCD``.
    """
    ordered = reversed(registers) if word_order is WordOrder.LITTLE else iter(registers)
    return b"".join(int(word).to_bytes(2, byte_order.value) for word in ordered)


def decode_registers(point: ModbusPoint, registers: Sequence[int]) -> Decoded:
    """Decode a register-table point from exactly its ``point.width`` registers, scaled.

    Returns a Decoded with a reason (never raises) for a wrong register count, invalid UTF-8,
    or NaN/infinity from a float register.
    """
    if len(registers) != point.width:
        return Decoded(
            None, f"decode error: got {len(registers)} registers, expected {point.width}"
        )
    if point.data_type is DataType.STRING:
        return _decode_string(point, registers)
    if point.data_type is DataType.BOOL:
        return Decoded(registers[0] != 0)
    if point.data_type is DataType.BIT:
        if point.bit_index is None:  # ModbusPoint refuses it; a bit needs its index
            raise ValueError(f"modbus point {point.tag!r}: a bit point without a bit index")
        word = int.from_bytes(int(registers[0]).to_bytes(2, point.byte_order.value), "big")
        return Decoded(bool((word >> point.bit_index) & 1))
    raw_bytes = registers_to_bytes(registers, point.byte_order, point.word_order)
    number: int | float = struct.unpack(_STRUCT_FORMAT[point.data_type], raw_bytes)[0]
    if isinstance(number, float) and not math.isfinite(number):
        return Decoded(None, f"decode error: {point.data_type.value} register holds {number}")
    return Decoded(_scaled(point, number))


def decode_bit(point: ModbusPoint, bit: bool) -> Decoded:
    """The value of a coil or discrete input point."""
    return Decoded(bool(bit))


def _decode_string(point: ModbusPoint, registers: Sequence[int]) -> Decoded:
    """Text of a string point: registers in address order, trailing NULs and spaces stripped.

    Word order does not apply to strings: characters run in address order on every device we
    know; only the byte order inside each register varies.
    """
    raw_bytes = registers_to_bytes(registers, point.byte_order, WordOrder.BIG)
    try:
        return Decoded(raw_bytes.rstrip(b"\x00 ").decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Decoded(None, f"decode error: invalid UTF-8 at byte {exc.start} of {len(raw_bytes)}")


def _scaled(point: ModbusPoint, number: int | float) -> int | float:
    """``number * scale + offset``, keeping integers integral when nothing is scaled."""
    if point.scale == 1.0 and point.offset == 0.0:
        return number
    return number * point.scale + point.offset


@dataclass(frozen=True, slots=True)
class BlockLayout:
    """One ``struct`` over a whole register response, for the points it can serve.

    ``to_bytes(*registers)`` packs the response's registers (raises ``struct.error`` for a
    value outside 0..65535); ``numbers(block)`` unpacks every served point's number at once, in
    address order. ``slots[i]`` is the index of point ``i``'s number in that tuple, or -1 for a
    point it does not serve (bits, strings, little-endian orders, points overlapping another):
    those keep their :func:`point_decoder`. Scale, offset and the NaN check stay per point.
    """

    to_bytes: Callable[..., bytes]
    numbers: Callable[[bytes], tuple[int | float, ...]]
    slots: tuple[int, ...]


def block_layout(points: Sequence[ModbusPoint], address: int, count: int) -> BlockLayout | None:
    """The :class:`BlockLayout` of a register read of ``count`` words from ``address``.

    ``points`` lie inside the read. None when no point can be served by it (a bit table, or no
    big-endian number), so the caller decodes every point on its own.
    """
    served: list[tuple[int, int]] = []  # (point index, offset in the response), by offset
    next_free = 0
    for index, point in sorted(enumerate(points), key=lambda item: item[1].address):
        offset = point.address - address
        if (
            point.register_type.is_bit_table
            or point.data_type not in _STRUCT_FORMAT
            or point.byte_order is not ByteOrder.BIG
            or point.word_order is not WordOrder.BIG
            or offset < next_free  # overlaps the point before it: struct reads each byte once
        ):
            continue
        served.append((index, offset))
        next_free = offset + point.width
    if not served:
        return None
    codes: list[str] = []
    cursor = 0
    slots = [-1] * len(points)
    for slot, (index, offset) in enumerate(served):
        codes.append("x" * (2 * (offset - cursor)) + _STRUCT_FORMAT[points[index].data_type][1])
        cursor = offset + points[index].width
        slots[index] = slot
    return BlockLayout(
        to_bytes=struct.Struct(f">{count}H").pack,
        numbers=struct.Struct(">" + "".join(codes) + "x" * (2 * (count - cursor))).unpack,
        slots=tuple(slots),
    )


def point_decoder(point: ModbusPoint) -> PointDecoder:
    """:func:`decode_registers` (or :func:`decode_bit`) for ``point``, prepared once.

    Returns a function of a response's values and the point's offset in them; it gives the same
    value or reason as the general functions for every register value 0..65535 (a property test
    holds them equal), at a fraction of the cost per value.
    """
    if point.register_type.is_bit_table:
        return _bit_table_decoder()
    if point.data_type is DataType.BOOL:
        return _bool_decoder()
    if point.data_type is DataType.BIT:
        return _bit_decoder(point)
    if point.data_type is DataType.STRING:
        return _general_decoder(point)
    return _number_decoder(point)


def _bit_table_decoder() -> PointDecoder:
    def decode(values: Sequence[int | bool], first: int) -> tuple[Value | None, str | None]:
        return bool(values[first]), None

    return decode


def _bool_decoder() -> PointDecoder:
    def decode(values: Sequence[int | bool], first: int) -> tuple[Value | None, str | None]:
        return values[first] != 0, None

    return decode


def _bit_decoder(point: ModbusPoint) -> PointDecoder:
    if point.bit_index is None:  # ModbusPoint refuses it; a bit needs its index
        raise ValueError(f"modbus point {point.tag!r}: a bit point without a bit index")
    # A little-byte device sends each word's low byte first: bit n of the word it means is
    # bit n+8 (n < 8) or n-8 (n >= 8) of the register as read.
    bit = point.bit_index if point.byte_order is ByteOrder.BIG else (point.bit_index + 8) % 16

    def decode(values: Sequence[int | bool], first: int) -> tuple[Value | None, str | None]:
        word = values[first]
        if not 0 <= word <= 0xFFFF:
            return decode_registers(point, [int(word)]).value, None  # raises as before
        return bool((word >> bit) & 1), None

    return decode


def _general_decoder(point: ModbusPoint) -> PointDecoder:
    width = point.width

    def decode(values: Sequence[int | bool], first: int) -> tuple[Value | None, str | None]:
        decoded = decode_registers(point, [int(word) for word in values[first : first + width]])
        return decoded.value, decoded.reason

    return decode


def _number_decoder(point: ModbusPoint) -> PointDecoder:
    """Integers and floats: the words reordered, packed high byte first, unpacked once."""
    if (
        point.data_type in (DataType.UINT16, DataType.UINT32)
        and point.byte_order is ByteOrder.BIG
        and point.word_order is WordOrder.BIG
        and point.scale == 1.0
        and point.offset == 0.0
    ):
        return _plain_unsigned_decoder(point.width)
    width = point.width
    pack = struct.Struct(f">{width}H").pack
    unpack = struct.Struct(_STRUCT_FORMAT[point.data_type]).unpack
    reverse = point.word_order is WordOrder.LITTLE
    swap = point.byte_order is ByteOrder.LITTLE
    is_float = point.data_type in (DataType.FLOAT32, DataType.FLOAT64)
    scaled = not (point.scale == 1.0 and point.offset == 0.0)
    scale, offset, type_name = point.scale, point.offset, point.data_type.value

    def decode(values: Sequence[int | bool], first: int) -> tuple[Value | None, str | None]:
        words = values[first : first + width]
        if reverse:
            words = words[::-1]
        if swap:
            words = [((word & 0xFF) << 8) | (word >> 8) for word in words]
        number: int | float = unpack(pack(*words))[0]
        if is_float and not math.isfinite(number):
            return None, f"decode error: {type_name} register holds {number}"
        return (number * scale + offset if scaled else number), None

    return decode


def _plain_unsigned_decoder(width: int) -> PointDecoder:
    """Unscaled uint16 and big-endian uint32: the words are the number, no struct needed."""

    def decode_16(values: Sequence[int | bool], first: int) -> tuple[Value | None, str | None]:
        word = values[first]
        if not 0 <= word <= 0xFFFF:
            raise ValueError(f"register value {word} out of 0..65535")
        return int(word), None

    def decode_32(values: Sequence[int | bool], first: int) -> tuple[Value | None, str | None]:
        high, low = values[first], values[first + 1]
        if not (0 <= high <= 0xFFFF and 0 <= low <= 0xFFFF):
            raise ValueError(f"register values {high}, {low} out of 0..65535")
        return (int(high) << 16) | int(low), None

    return decode_16 if width == 1 else decode_32
