"""Agent device blocks that read a simulated plant: the register map and calendars, as config.

The demo, the benchmarks and the tests build their agent configuration from here, so the tags
an agent reads always match what the simulator serves (``sim.registers``, docs/simulator.md):
16-bit counters sit in the first register of their pair, word order follows the machine, and
each device's calendar is its machine's calendar.
"""

from __future__ import annotations

from typing import Any, Literal

from sim.plant import MachineConfig, PlantConfig

__all__ = ["agent_devices"]

#: The simulator's state codes (sim.registers.STATE_CODES) as an agent state_map.
STATE_MAP = {0: "off", 1: "running", 2: "idle", 3: "down", 4: "planned_stop"}


def _calendar(machine: MachineConfig) -> dict[str, Any]:
    calendar = machine.calendar
    return {
        "timezone": calendar.timezone,
        "holidays": [day.isoformat() for day in calendar.holidays],
        "shifts": [
            {
                "name": shift.name,
                "days": list(shift.days),
                "start": shift.start.strftime("%H:%M"),
                "end": shift.end.strftime("%H:%M"),
                "breaks": [
                    {"start": b.start.strftime("%H:%M"), "end": b.end.strftime("%H:%M")}
                    for b in shift.breaks
                ],
            }
            for shift in calendar.shifts
        ],
    }


def _modbus_tags(machine: MachineConfig, float_table: str) -> dict[str, Any]:
    wide = machine.counter_bits == 32
    counter = {
        "register_type": "holding",
        "data_type": "uint32" if wide else "uint16",
        "width": machine.counter_bits,
        **({"word_order": machine.word_order} if wide else {}),
    }
    floats = {
        "register_type": float_table,
        "data_type": "float32",
        "word_order": machine.word_order,
    }
    return {
        "state": {
            "role": "state",
            "register_type": "holding",
            "address": 0,
            "data_type": "uint16",
            "state_map": STATE_MAP,
        },
        "total": {"role": "total_count", "address": 2, **counter},
        "rejects": {"role": "reject_count", "address": 4, **counter},
        "energy": {"role": "energy_kwh", "address": 8, **floats},
        "power": {"role": "power_kw", "address": 10, **floats},
        "cycle_time": {"role": "cycle_time_s", "address": 12, **floats},
    }


def _opcua_tags(machine: MachineConfig) -> dict[str, Any]:
    node = f"ns=2;s={machine.id}."
    return {
        "state": {"role": "state", "node": node + "State", "state_map": STATE_MAP},
        "total": {"role": "total_count", "node": node + "TotalCount", "width": 32},
        "rejects": {"role": "reject_count", "node": node + "RejectCount", "width": 32},
        "energy": {"role": "energy_kwh", "node": node + "EnergyKWh"},
        "power": {"role": "power_kw", "node": node + "PowerKW"},
        "cycle_time": {"role": "cycle_time_s", "node": node + "CycleTimeS"},
    }


def _s7_tags(machine: MachineConfig) -> dict[str, Any]:
    """Tags of a machine's data block (``sim.s7_machine``)."""
    block = {"area": "db", "db": machine.s7_db}
    counter = {**block, "data_type": "dword", "width": machine.counter_bits}
    return {
        "state": {"role": "state", **block, "byte": 0, "data_type": "int", "state_map": STATE_MAP},
        "total": {"role": "total_count", **counter, "byte": 4},
        "rejects": {"role": "reject_count", **counter, "byte": 8},
        "energy": {"role": "energy_kwh", **block, "byte": 16, "data_type": "lreal"},
        "power": {"role": "power_kw", **block, "byte": 24, "data_type": "real"},
        "cycle_time": {"role": "cycle_time_s", **block, "byte": 28, "data_type": "real"},
    }


def agent_devices(
    plant: PlantConfig,
    *,
    modbus: tuple[str, int] | None,
    opcua_endpoint: str | None,
    s7: tuple[str, int] | None = None,
    poll_interval_s: float = 5.0,
    ideal_cycle_factor: float = 0.9,
    float_table: Literal["input", "holding"] = "input",
) -> list[dict[str, Any]]:
    """One agent device block per machine (its ideal cycle a little under the simulated one).

    The floats (meter, power, cycle time) come from the input registers by default, as many
    meters serve them; ``float_table="holding"`` reads them from the holding registers, where
    the simulator serves the same map, so the agent reads a machine in one request.
    """
    devices: list[dict[str, Any]] = []
    for machine in plant.machines:
        common: dict[str, Any] = {
            "id": machine.id,
            "poll_interval_s": poll_interval_s,
            "ideal_cycle_s": round(machine.cycle_s * ideal_cycle_factor, 3),
            "calendar": _calendar(machine),
        }
        if machine.protocol == "modbus" and modbus is not None:
            host, port = modbus
            devices.append(
                {
                    **common,
                    "protocol": "modbus_tcp",
                    "host": host,
                    "port": port,
                    "unit_id": machine.unit_id,
                    "timeout_s": 1,
                    "tags": _modbus_tags(machine, float_table),
                }
            )
        elif machine.protocol == "opcua" and opcua_endpoint is not None:
            devices.append(
                {
                    **common,
                    "protocol": "opcua",
                    "endpoint": opcua_endpoint,
                    "timeout_s": 2,
                    "sampling_interval_s": 0.05,
                    "tags": _opcua_tags(machine),
                }
            )
        elif machine.protocol == "s7" and s7 is not None:
            host, port = s7
            devices.append(
                {
                    **common,
                    "protocol": "s7",
                    "host": host,
                    "port": port,
                    "connection_type": "op",
                    "timeout_s": 1,
                    "tags": _s7_tags(machine),
                }
            )
    return devices
