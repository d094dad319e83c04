"""Bytes to values for the S7 elementary types. Pure: never raises, a bad value has a reason.

S7 CPUs store every multi-byte value big-endian. STRING is a byte of declared maximum length,
a byte of actual length, then the characters (one byte each: Latin-1, as snap7 reads them);
WSTRING the same with 16-bit lengths and UTF-16 (big-endian) characters.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from .points import S7DataType, S7Point

__all__ = ["S7Decoded", "decode_point"]

_FORMATS = {
    S7DataType.BYTE: ">B",
    S7DataType.WORD: ">H",
    S7DataType.DWORD: ">I",
    S7DataType.INT: ">h",
    S7DataType.DINT: ">i",
    S7DataType.REAL: ">f",
    S7DataType.LREAL: ">d",
}


@dataclass(frozen=True, slots=True)
class S7Decoded:
    """A decoded value, or None and the reason it could not be decoded."""

    value: float | int | bool | str | None
    reason: str | None = None


def decode_point(point: S7Point, data: bytes) -> S7Decoded:
    """The value of ``point`` from exactly its ``point.size`` bytes, scale and offset applied."""
    if len(data) != point.size:
        return S7Decoded(None, f"got {len(data)} bytes, expected {point.size}")
    if point.data_type is S7DataType.BOOL:
        return S7Decoded(bool((data[0] >> (point.bit or 0)) & 1))
    if point.data_type is S7DataType.STRING:
        return _string(data, point)
    if point.data_type is S7DataType.WSTRING:
        return _wstring(data, point)
    (number,) = struct.unpack(_FORMATS[point.data_type], data)
    if isinstance(number, float) and not math.isfinite(number):
        return S7Decoded(None, f"not a finite number: {number}")
    if point.scale == 1.0 and point.offset == 0.0:
        return S7Decoded(number)
    return S7Decoded(number * point.scale + point.offset)


def _string(data: bytes, point: S7Point) -> S7Decoded:
    declared, actual = data[0], data[1]
    if actual > (point.length or 0) or actual > declared:
        return S7Decoded(
            None,
            f"string header says {actual} characters of {declared}, expected at most "
            f"{point.length} (is length the declared STRING[n]?)",
        )
    return S7Decoded(data[2 : 2 + actual].decode("latin-1"))


def _wstring(data: bytes, point: S7Point) -> S7Decoded:
    declared, actual = struct.unpack(">HH", data[:4])
    if actual > (point.length or 0) or actual > declared:
        return S7Decoded(
            None,
            f"wstring header says {actual} characters of {declared}, expected at most "
            f"{point.length} (is length the declared WSTRING[n]?)",
        )
    try:
        return S7Decoded(data[4 : 4 + 2 * actual].decode("utf-16-be"))
    except UnicodeDecodeError as exc:
        return S7Decoded(None, f"invalid UTF-16: {exc.reason}")
