"""Registers and bits to values: every data type, byte order and word order. Pure, no I/O.

We decode with :mod:`struct` ourselves rather than with pymodbus's
``ModbusClientMixin.convert_from_registers``: that helper only reverses the register list for
``word_order="little"`` and always reads each register high byte first, so it cannot express
byte-swapped devices (``BADC``/``DCBA``); for strings it strips trailing NULs but not spaces and
raises ``UnicodeDecodeError`` on invalid UTF-8, and for ``word_order="little"`` it reverses a
whole string's registers. For ``byte_order=big`` our numeric results equal pymodbus's (a test
checks it). A bad value never raises here: it comes back as a :class:`Decoded` with a reason.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from .points import ByteOrder, DataType, ModbusPoint, WordOrder

__all__ = ["Decoded", "decode_bit", "decode_registers", "registers_to_bytes"]

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
