"""What a retrofit kit reads of a machine with no controller: a power meter and a DI module.

Pure: a machine's values in, Modbus registers and bits out; no I/O, no clock. The maps are data
(``METER_REGISTERS``, ``DI_INPUTS``, ``DI_REGISTERS``), documented in docs/simulator.md, and the
rules worth knowing are:

- The meter serves input registers only (FC4), big-endian words and bytes, as most DIN-rail
  meters do; the DI module serves discrete inputs (FC2) and its pulse counters in holding
  registers (FC3). Other function codes answer exception 1 (illegal function).
- Noise is bounded and uniform, ``±(noise_pct % of the power + noise_floor_kw)``, on power and on
  the current derived from it, never on the energy registers: those integrate the noiseless
  model, so they equal the ground truth. The draw for plant second ``floor(ts)`` comes from a
  hash of (machine seed, second): the same at that second however the plant is ticked, and no
  draw is taken from the machine's own random stream (its plant stays as it was).
- A pulse input is high for ``PULSE_S`` plant seconds after each part (or reject); the counters
  count those pulses and wrap at the machine's ``counter_bits``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass

from sim.encoding import encode_value
from sim.machine import MachineState
from sim.plant import RetrofitConfig
from sim.registers import STATE_CODES, MachineRegister, Order

__all__ = [
    "DI_INPUTS",
    "DI_INPUT_COUNT",
    "DI_REGISTERS",
    "DI_REGISTER_COUNT",
    "GARBAGE_POWER_W",
    "METER_REGISTERS",
    "METER_REGISTER_COUNT",
    "PULSE_S",
    "DigitalInput",
    "MeterReading",
    "di_bits",
    "encode_di_counters",
    "encode_meter",
    "garbage_power_w",
    "meter_reading",
    "noise_unit",
]

#: The meter's map, input registers (FC4), each value two registers, big-endian.
METER_REGISTERS: tuple[MachineRegister, ...] = (
    MachineRegister("power_w", 0, 2, "float32", "W", "active power, with the meter's noise"),
    MachineRegister("current_a", 2, 2, "float32", "A", "phase current from that power"),
    MachineRegister("energy_kwh", 4, 2, "float32", "kWh", "imported energy (= truth)"),
    MachineRegister("voltage_v", 6, 2, "float32", "V", "line-to-line voltage (volts)"),
    MachineRegister("energy_wh", 8, 2, "uint32", "Wh", "imported energy, wraps at 2^32"),
)
METER_REGISTER_COUNT = 10


@dataclass(frozen=True)
class DigitalInput:
    """One discrete input (FC2) of the DI module."""

    address: int
    name: str
    description: str


#: The DI module's wired inputs; inputs up to DI_INPUT_COUNT - 1 exist and read 0 (unwired).
DI_INPUTS: tuple[DigitalInput, ...] = (
    DigitalInput(0, "run_lamp", "on while the machine runs"),
    DigitalInput(1, "part_pulse", "on for PULSE_S (0.5 s) after each part"),
    DigitalInput(2, "reject_pulse", "on for PULSE_S after each rejected part"),
)
DI_INPUT_COUNT = 8

#: The DI module's pulse counters, holding registers (FC3), in the machine's counter layout:
#: uint32 in its word order, or (counter_bits 16) uint16 in the first register, 0 in the second.
DI_REGISTERS: tuple[MachineRegister, ...] = (
    MachineRegister("part_count", 0, 2, "counter", "pulses", "pulses of input 1, wraps"),
    MachineRegister("reject_count", 2, 2, "counter", "pulses", "pulses of input 2, wraps"),
)
DI_REGISTER_COUNT = 4

#: Plant seconds a pulse input stays on after its part.
PULSE_S = 0.5

#: The ``meter-garbage`` fault's power values: NaN in even plant seconds, this in odd ones (the
#: largest float32 a meter with a broken converter shows, near FLT_MAX 3.4028e38).
GARBAGE_POWER_W = 3.4e38

_SQRT3 = math.sqrt(3.0)
_RUNNING = STATE_CODES[MachineState.RUNNING]


@dataclass(frozen=True)
class MeterReading:
    """What the meter shows of the power now: with noise, and the current derived from it."""

    power_kw: float
    current_a: float


def noise_unit(machine_seed: int, second: int) -> float:
    """A uniform number in [-1, 1) for one plant second, from a hash (no random stream)."""
    digest = hashlib.blake2b(f"{machine_seed}:{second}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**63 - 1.0


def meter_reading(
    kit: RetrofitConfig, power_kw: float, machine_seed: int, ts: float
) -> MeterReading:
    """The meter's power and current at plant time ``ts`` for a true power of ``power_kw``.

    The power is off by at most ``noise_pct`` % of it plus ``noise_floor_kw`` and never below
    0 (the meter reads import only). The current is that power over sqrt(3) x volts x power
    factor (a balanced three-phase load, line-to-line volts).
    """
    spread_kw = kit.noise_pct / 100.0 * abs(power_kw) + kit.noise_floor_kw
    noisy_kw = max(0.0, power_kw + noise_unit(machine_seed, math.floor(ts)) * spread_kw)
    current_a = noisy_kw * 1000.0 / (_SQRT3 * kit.volts * kit.power_factor)
    return MeterReading(noisy_kw, current_a)


def garbage_power_w(ts: float) -> float:
    """The power the ``meter-garbage`` fault serves at plant time ``ts``."""
    return math.nan if math.floor(ts) % 2 == 0 else GARBAGE_POWER_W


def encode_meter(
    values: Mapping[str, float | int], kit: RetrofitConfig, power_w: float | None = None
) -> list[int]:
    """The meter's registers from a machine's values (``power_kw``, ``current_a``, ``energy_kwh``).

    ``power_w`` replaces the power register (the garbage fault); energy_wh is the energy in
    whole Wh modulo 2^32.
    """
    energy_kwh = float(values["energy_kwh"])
    shown_w = float(values["power_kw"]) * 1000.0 if power_w is None else power_w
    words: list[int] = []
    for value in (shown_w, float(values["current_a"]), energy_kwh, kit.volts):
        words += encode_value(value, "float32")
    words += encode_value(round(energy_kwh * 1000.0) % (1 << 32), "uint32")
    return words


def di_bits(
    values: Mapping[str, float | int], last_part_ts: float, last_reject_ts: float, ts: float
) -> list[bool]:
    """The DI module's inputs at plant time ``ts`` (DI_INPUT_COUNT bits, unwired ones off)."""
    bits = [False] * DI_INPUT_COUNT
    bits[0] = int(values["state"]) == _RUNNING
    bits[1] = 0.0 <= ts - last_part_ts < PULSE_S
    bits[2] = 0.0 <= ts - last_reject_ts < PULSE_S
    return bits


def encode_di_counters(
    values: Mapping[str, float | int], counter_bits: int, word_order: Order
) -> list[int]:
    """The pulse counters' registers (``total_count`` and ``reject_count``, already wrapped)."""
    words: list[int] = []
    for name in ("total_count", "reject_count"):
        raw = int(values[name]) % (1 << counter_bits)
        words += [raw, 0] if counter_bits == 16 else encode_value(raw, "uint32", "big", word_order)
    return words
