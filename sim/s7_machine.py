"""A simulated machine's data block on the S7 PLC simulator: its layout and its bytes.

One non-optimized data block per machine (``s7_db`` in the plant file), as a PLC programmer
lays out a machine's interface DB for an HMI; offsets are what TIA Portal shows in the block's
"Offset" column. Counters are DWORD (unsigned, rolling over at 2^32 as the machine's counters
do); the energy meter is an LREAL so that kWh keep their decimals however large the total.

=====  ===============  =========  ==========================================
byte   name             S7 type    meaning
=====  ===============  =========  ==========================================
0      state            INT        state code (``sim.registers.STATE_CODES``)
2      status_bits      BYTE       bit ``STATE_BITS[state]`` set, others 0
4      total_count      DWORD      parts made (rolls over at 2^32)
8      reject_count     DWORD      rejected parts
12     good_count       DWORD      total minus rejects
16     energy_kwh       LREAL      cumulative energy meter, kWh
24     power_kw         REAL       present power, kW
28     cycle_time_s     REAL       last cycle time, s
32     machine_id       STRING[16] the machine's id (18 bytes)
=====  ===============  =========  ==========================================
"""

from __future__ import annotations

import struct
from typing import Any

from sim.machine import MachineState
from sim.registers import STATE_BITS

__all__ = ["MACHINE_DB_SIZE", "S7_MACHINE_LAYOUT", "encode_s7_machine"]

#: (name, byte offset, S7 type) of each value in a machine's data block.
S7_MACHINE_LAYOUT: tuple[tuple[str, int, str], ...] = (
    ("state", 0, "int"),
    ("status_bits", 2, "byte"),
    ("total_count", 4, "dword"),
    ("reject_count", 8, "dword"),
    ("good_count", 12, "dword"),
    ("energy_kwh", 16, "lreal"),
    ("power_kw", 24, "real"),
    ("cycle_time_s", 28, "real"),
    ("machine_id", 32, "string"),
)
MACHINE_ID_LENGTH = 16
MACHINE_DB_SIZE = 32 + 2 + MACHINE_ID_LENGTH


def encode_s7_machine(values: dict[str, Any], machine_id: str) -> bytes:
    """The data block's bytes from a machine's signal values (``Simulator.values``)."""
    state = MachineState(values["state_name"])
    counters = [int(values[name]) % (1 << 32) for name in ("total_count", "reject_count")]
    good = int(values["good_count"]) % (1 << 32)
    name = machine_id.encode("latin-1")[:MACHINE_ID_LENGTH]
    return b"".join(
        (
            struct.pack(">hB", int(values["state"]), 1 << STATE_BITS[state]),
            b"\0",  # byte 3: free, so the counters start on a word boundary as TIA lays them out
            struct.pack(">III", *counters, good),
            struct.pack(">d", float(values["energy_kwh"])),
            struct.pack(">ff", float(values["power_kw"]), float(values["cycle_time_s"])),
            bytes([MACHINE_ID_LENGTH, len(name)]) + name.ljust(MACHINE_ID_LENGTH, b"\0"),
        )
    )
