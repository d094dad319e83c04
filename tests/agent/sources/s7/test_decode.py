"""S7 bytes to values: big-endian numbers, bits, STRING and WSTRING headers, bad values."""

from __future__ import annotations

import struct

import pytest

from agent.sources.s7 import S7DataType, S7MemoryArea, S7Point, decode_point

T = S7DataType


def point(data_type: S7DataType, **keys: object) -> S7Point:
    return S7Point("t", S7MemoryArea.DB, 1, 0, data_type, **keys)  # type: ignore[arg-type]  # keys are the optional fields


@pytest.mark.parametrize(
    ("data_type", "data", "value"),
    [
        (T.BYTE, b"\xff", 255),
        (T.WORD, b"\xbe\xef", 0xBEEF),
        (T.INT, b"\xff\xfe", -2),
        (T.DWORD, b"\xff\xff\xff\xff", 2**32 - 1),
        (T.DINT, b"\x80\x00\x00\x00", -(2**31)),
        (T.REAL, struct.pack(">f", -1.25), -1.25),
        (T.LREAL, struct.pack(">d", 1e300), 1e300),
    ],
)
def test_numbers_are_big_endian(data_type: S7DataType, data: bytes, value: object) -> None:
    decoded = decode_point(point(data_type), data)
    assert (decoded.value, decoded.reason) == (value, None)


def test_bits_count_from_the_least_significant() -> None:
    assert [decode_point(point(T.BOOL, bit=n), b"\x05").value for n in range(4)] == [
        True, False, True, False
    ]  # fmt: skip


def test_scale_and_offset() -> None:
    assert decode_point(point(T.INT, scale=0.1, offset=-5.0), b"\x00\x64").value == pytest.approx(
        5.0
    )


def test_strings_use_their_actual_length() -> None:
    assert decode_point(point(T.STRING, length=6), b"\x06\x03ABCxyz").value == "ABC"
    wide = struct.pack(">HH", 3, 2) + "Zö".encode("utf-16-be") + b"\0\0"
    assert decode_point(point(T.WSTRING, length=3), wide).value == "Zö"


@pytest.mark.parametrize(
    ("data_type", "keys", "data", "reason"),
    [
        (T.STRING, {"length": 4}, b"\x04\x09ABCD", "string header says 9 characters"),
        (T.WSTRING, {"length": 1}, struct.pack(">HH", 1, 2) + b"\0A", "wstring header says 2"),
        (T.WSTRING, {"length": 1}, struct.pack(">HH", 1, 1) + b"\xd8\x00", "invalid UTF-16"),
        (T.REAL, {}, struct.pack(">f", float("nan")), "not a finite number"),
        (T.DINT, {}, b"\x00\x01", "got 2 bytes, expected 4"),
    ],
)
def test_bad_values_have_a_reason_never_a_guess(
    data_type: S7DataType, keys: dict[str, int], data: bytes, reason: str
) -> None:
    decoded = decode_point(point(data_type, **keys), data)
    assert decoded.value is None
    assert decoded.reason is not None and reason in decoded.reason
