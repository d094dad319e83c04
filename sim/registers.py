"""The Modbus register maps, as data: a machine's map and the test-pattern device's map.

Conventions (also in docs/simulator.md):
- Addresses are 0-based PDU addresses (what goes on the wire), not 4xxxx numbers.
- A machine serves the same map in holding registers (FC3) and input registers (FC4).
- Byte order is the order of the two bytes inside one register; word order is the order of the
  registers of a multi-register value. ``big`` = most significant first (Modbus's own order).
- Undefined addresses answer exception code 2 (illegal data address).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.machine import MachineState

__all__ = [
    "COIL_PATTERN",
    "DISCRETE_INPUT_PATTERN",
    "MACHINE_REGISTERS",
    "MACHINE_REGISTER_COUNT",
    "PATTERN_BITS_VALUE",
    "PATTERN_RAMP_COUNT",
    "PATTERN_RAMP_INPUT_OFFSET",
    "PATTERN_RAMP_START",
    "STATE_BITS",
    "STATE_CODES",
    "TEST_PATTERN",
    "MachineRegister",
    "Order",
    "PatternType",
    "PatternValue",
]

Order = Literal["big", "little"]
PatternType = Literal[
    "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"
]

#: Raw value of the ``state`` register (and OPC UA ``State``) for each machine state.
STATE_CODES: dict[MachineState, int] = {
    MachineState.OFF: 0,
    MachineState.RUNNING: 1,
    MachineState.IDLE: 2,
    MachineState.DOWN: 3,
    MachineState.PLANNED_STOP: 4,
}

#: Bit number in ``status_bits`` (and coil / discrete-input address) set while in each state.
STATE_BITS: dict[MachineState, int] = {
    MachineState.RUNNING: 0,
    MachineState.IDLE: 1,
    MachineState.DOWN: 2,
    MachineState.OFF: 3,
    MachineState.PLANNED_STOP: 4,
}


@dataclass(frozen=True)
class MachineRegister:
    """One value in a machine's register map."""

    name: str
    address: int
    count: int
    kind: Literal["uint16", "bits", "counter", "float32", "uint32"]
    unit: str
    description: str


#: A machine's map, identical in holding and input registers. ``counter`` slots are two
#: registers: uint32 in the machine's word order, or (counter_bits 16) uint16 in the first
#: register with the second reading 0. Floats and uint32 use the machine's word order.
MACHINE_REGISTERS: tuple[MachineRegister, ...] = (
    MachineRegister("state", 0, 1, "uint16", "", "state code, see STATE_CODES"),
    MachineRegister("status_bits", 1, 1, "bits", "", "bit STATE_BITS[state] set, others 0"),
    MachineRegister("total_count", 2, 2, "counter", "parts", "parts made, wraps at 2^bits"),
    MachineRegister("reject_count", 4, 2, "counter", "parts", "rejected parts, wraps"),
    MachineRegister("good_count", 6, 2, "counter", "parts", "(total - reject) mod 2^bits"),
    MachineRegister("energy_kwh", 8, 2, "float32", "kWh", "cumulative energy meter"),
    MachineRegister("power_kw", 10, 2, "float32", "kW", "present active power"),
    MachineRegister("cycle_time_s", 12, 2, "float32", "s", "duration of the last part"),
    MachineRegister("energy_kwh_x100", 14, 2, "uint32", "0.01 kWh", "meter, scale 0.01"),
)
MACHINE_REGISTER_COUNT = 16


@dataclass(frozen=True)
class PatternValue:
    """One fixed value of the test-pattern device, served at the same address in FC3 and FC4."""

    name: str
    address: int
    dtype: PatternType
    byte_order: Order
    word_order: Order
    value: int | float | str

    @property
    def count(self) -> int:
        """Registers the value occupies."""
        if isinstance(self.value, str):
            return (len(self.value.encode("ascii")) + 1) // 2
        return {"16": 1, "32": 2, "64": 4}[self.dtype[-2:]]


_PATTERN_SOURCE: tuple[tuple[PatternType, int | float | str], ...] = (
    ("int16", -12345),
    ("uint16", 54321),
    ("int32", -123456789),
    ("uint32", 3456789012),
    ("float32", -1234.5625),  # exactly representable in float32
    ("int64", -1234567890123456789),
    ("uint64", 12345678901234567890),
    ("float64", 98765.4321),
    ("string", "RETROFIT-SIM"),
)


def _build_pattern() -> tuple[PatternValue, ...]:
    values: list[PatternValue] = []
    address = 0
    for dtype, value in _PATTERN_SOURCE:
        single = dtype in ("int16", "uint16", "string")
        word_orders: tuple[Order, ...] = ("big",) if single else ("big", "little")
        byte_orders: tuple[Order, ...] = ("big", "little")
        for byte_order in byte_orders:
            for word_order in word_orders:
                name = f"{dtype}_b{byte_order[0]}" + ("" if single else f"_w{word_order[0]}")
                entry = PatternValue(name, address, dtype, byte_order, word_order, value)
                values.append(entry)
                address += entry.count
    return tuple(values)


#: Every typed value of the test-pattern device; names read ``<type>_b<byte>[_w<word>]`` with
#: b/l for big/little, e.g. ``int32_bl_wb`` is int32 with little byte order and big word order.
TEST_PATTERN: tuple[PatternValue, ...] = _build_pattern()

#: A bit-in-register value at the first address after TEST_PATTERN: bit n = (0xA5C3 >> n) & 1.
PATTERN_BITS_VALUE = 0xA5C3
#: A ramp for coalescing tests: holding register a (start <= a < start + count) holds a; input
#: register a holds a + PATTERN_RAMP_INPUT_OFFSET. Addresses between the typed values and the
#: ramp, and after the ramp, are undefined (exception 2).
PATTERN_RAMP_START = 100
PATTERN_RAMP_COUNT = 100
PATTERN_RAMP_INPUT_OFFSET = 1000

#: Coils 0..15 and discrete inputs 0..15 of the test-pattern device (others undefined).
COIL_PATTERN: tuple[bool, ...] = tuple(bool((0x4D2B >> n) & 1) for n in range(16))
DISCRETE_INPUT_PATTERN: tuple[bool, ...] = tuple(bool((0xB2D4 >> n) & 1) for n in range(16))
