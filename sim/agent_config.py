"""Agent device blocks that read a simulated plant: the register map and calendars, as config.

The demo, the benchmarks and the tests build their agent configuration from here, so the tags
an agent reads always match what the simulator serves (``sim.registers``, docs/simulator.md):
16-bit counters sit in the first register of their pair, word order follows the machine, and
each device's calendar is its machine's calendar.

A ``retrofit`` machine is one agent device with two units: the power meter (the device's
``unit_id``) and the DI module (``unit_id`` on its tags, ``sim.retrofit``). It has no state
tag: its tags are named so that an inferred-state block can refer to them, ``power`` (kW),
``current`` (A) and ``lamp`` (the run lamp, true while running), and it gets one
(:func:`retrofit_state_block`): the machine's state inferred from its power, with thresholds
between its standby, idle and running draws (docs/kpi.md, "Inferred state").
"""

from __future__ import annotations

from typing import Any, Literal

from sim.plant import MachineConfig, PlantConfig

__all__ = ["agent_devices", "retrofit_state_block"]

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


def _retrofit_tags(machine: MachineConfig) -> dict[str, Any]:
    """Tags of a retrofit machine's power meter and DI module (``sim.retrofit``)."""
    kit = machine.retrofit
    if kit is None:
        raise ValueError(f"machine {machine.id!r} is not a retrofit machine")
    meter = {"register_type": "input", "data_type": "float32"}
    wide = machine.counter_bits == 32
    counter = {
        "register_type": "holding",
        "unit_id": kit.di_unit_id,
        "data_type": "uint32" if wide else "uint16",
        "width": machine.counter_bits,
        **({"word_order": machine.word_order} if wide else {}),
    }
    return {
        "power": {"role": "power_kw", "address": 0, **meter, "scale": 0.001, "unit": "kW"},
        "current": {"address": 2, **meter, "unit": "A"},
        # The Wh counter, exact and rolling over at 2^32; the float32 kWh at 4 loses Wh.
        "energy": {"role": "energy_kwh", "register_type": "input", "address": 8,
                   "data_type": "uint32", "width": 32, "scale": 0.001},
        "lamp": {"register_type": "discrete_input", "address": 0, "unit_id": kit.di_unit_id},
        "total": {"role": "total_count", "address": 0, **counter},
        "rejects": {"role": "reject_count", "address": 2, **counter},
    }  # fmt: skip


def retrofit_state_block(machine: MachineConfig) -> dict[str, Any]:
    """The ``state:`` block of a retrofit machine: its state inferred from the meter's power.

    The simulated machine draws ``standby_kw`` off, ``idle_kw`` idle (and down), and
    ``idle_kw`` plus its energy per part spread over the cycle while running
    (``sim.machine``). The edges sit halfway: ``off_below`` between standby and idle,
    ``running_above`` between idle and the nominal running draw (a retrofit that cuts the energy
    per part by a fifth and the cycle by a tenth, with the cycle's 3-sigma jitter, still runs
    above it), each with a hysteresis of a quarter of the smaller gap. ``implausible_above`` is
    1.5 x the inrush of the nominal running draw: a meter's NaN or 3.4e38 is garbage, no draw
    of the machine is. ``min_dwell_s`` is twice the inrush: at polls a second apart the polls
    in a row a new state needs span more than the inrush, so a poll that lands in a power-on's
    inrush (6 x the idle draw, above ``running_above``) never makes the machine run. At polls
    longer than the dwell (the demo's 10 and 15 minutes) the poll that sees a state adopts it,
    and one that lands in an inrush counts a poll as running: 3 s per power-on on average, the
    polls' phase being unrelated to the power-ons (docs/kpi.md, "Dwell"); a longer dwell would
    drop the idle spells shorter than a poll.
    Raises ValueError for a machine that is not a retrofit one.
    """
    kit = machine.retrofit
    if kit is None:
        raise ValueError(f"machine {machine.id!r} is not a retrofit machine")
    running_kw = machine.idle_kw + machine.energy_per_part_kwh * 3600.0 / machine.cycle_s
    gap_kw = min(machine.idle_kw - machine.standby_kw, running_kw - machine.idle_kw)
    return {
        "power": {
            "tag": "power",
            "off_below": round((machine.standby_kw + machine.idle_kw) / 2, 3),
            "running_above": round((machine.idle_kw + running_kw) / 2, 3),
            "hysteresis": round(gap_kw / 4, 3),
            "implausible_above": round(1.5 * kit.inrush_factor * running_kw, 1),
        },
        "min_dwell_s": max(1.0, 2 * kit.inrush_s),
    }


def _retrofit_device(
    machine: MachineConfig,
    modbus: tuple[str, int] | None,
    rtu: tuple[str, int] | None,
) -> dict[str, Any] | None:
    """The link part of a retrofit machine's device: RTU when given, else Modbus TCP."""
    if machine.retrofit is None:
        return None
    link: dict[str, Any]
    if rtu is not None:
        # The simulator serves RTU 8N1 (pymodbus's serial server).
        link = {"protocol": "modbus_rtu", "serial_port": rtu[0], "baudrate": rtu[1],
                "parity": "none"}  # fmt: skip
    elif modbus is not None:
        link = {"protocol": "modbus_tcp", "host": modbus[0], "port": modbus[1]}
    else:
        return None
    tags = _retrofit_tags(machine)
    return {**link, "unit_id": machine.retrofit.meter_unit_id, "timeout_s": 1, "tags": tags,
            "state": retrofit_state_block(machine)}  # fmt: skip


def agent_devices(
    plant: PlantConfig,
    *,
    modbus: tuple[str, int] | None,
    opcua_endpoint: str | None,
    s7: tuple[str, int] | None = None,
    poll_interval_s: float = 5.0,
    ideal_cycle_factor: float = 0.9,
    float_table: Literal["input", "holding"] = "input",
    retrofit_rtu: tuple[str, int] | None = None,
) -> list[dict[str, Any]]:
    """One agent device block per machine (its ideal cycle a little under the simulated one).

    The floats (meter, power, cycle time) come from the input registers by default, as many
    meters serve them; ``float_table="holding"`` reads them from the holding registers, where
    the simulator serves the same map, so the agent reads a machine in one request.
    Retrofit machines are read over RTU on ``retrofit_rtu`` (serial port, baud rate) when it is
    given, else over Modbus TCP on ``modbus``.
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
        elif machine.protocol == "retrofit":
            device = _retrofit_device(machine, modbus, retrofit_rtu)
            if device is not None:
                devices.append({**common, **device})
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
