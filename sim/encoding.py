"""Values to Modbus registers in a given byte and word order (the agent decodes them back)."""

from __future__ import annotations

import struct

from sim.registers import (
    MACHINE_REGISTER_COUNT,
    MACHINE_REGISTERS,
    STATE_BITS,
    STATE_CODES,
    Order,
    PatternValue,
)

__all__ = ["encode_machine", "encode_pattern", "encode_value"]

_STRUCT = {
    "int16": "h",
    "uint16": "H",
    "int32": "i",
    "uint32": "I",
    "int64": "q",
    "uint64": "Q",
    "float32": "f",
    "float64": "d",
}


def encode_value(
    value: int | float | str, dtype: str, byte_order: Order = "big", word_order: Order = "big"
) -> list[int]:
    """Encode one value as 16-bit registers.

    Strings are ASCII, padded with NUL to whole registers; word order does not apply to them.
    Raises KeyError for an unknown dtype and struct.error for a value out of the type's range.
    """
    if isinstance(value, str):
        raw = value.encode("ascii")
        raw += b"\0" * (len(raw) % 2)
    else:
        raw = struct.pack(">" + _STRUCT[dtype], value)
    words = [raw[i : i + 2] for i in range(0, len(raw), 2)]
    if word_order == "little" and not isinstance(value, str):
        words.reverse()
    if byte_order == "little":
        words = [word[::-1] for word in words]
    return [int.from_bytes(word, "big") for word in words]


def encode_pattern(entry: PatternValue) -> list[int]:
    """The registers of one test-pattern value."""
    return encode_value(entry.value, entry.dtype, entry.byte_order, entry.word_order)


def encode_machine(
    values: dict[str, float | int], counter_bits: int, word_order: Order
) -> list[int]:
    """A machine's whole register map (MACHINE_REGISTER_COUNT registers) from its signal values.

    ``values`` holds ``state`` (a STATE_CODES value) and the other MACHINE_REGISTERS names except
    status_bits and energy_kwh_x100, which are derived.
    """
    registers = [0] * MACHINE_REGISTER_COUNT
    state_code = int(values["state"])
    state = next(s for s, code in STATE_CODES.items() if code == state_code)
    for spec in MACHINE_REGISTERS:
        if spec.kind == "uint16":
            words = [state_code]
        elif spec.kind == "bits":
            words = [1 << STATE_BITS[state]]
        elif spec.kind == "counter":
            raw = int(values[spec.name])
            words = (
                [raw, 0] if counter_bits == 16 else encode_value(raw, "uint32", "big", word_order)
            )
        elif spec.kind == "float32":
            words = encode_value(float(values[spec.name]), "float32", "big", word_order)
        else:
            meter = round(float(values["energy_kwh"]) * 100) % (1 << 32)
            words = encode_value(meter, "uint32", "big", word_order)
        registers[spec.address : spec.address + spec.count] = words
    return registers
