"""The running simulator: machines on a clock, their values served over Modbus and OPC UA, faults.

This is the object tests and the demo start (``async with Simulator(...) as sim``). It advances
every machine to the clock's plant time every ``tick_s`` wall seconds and publishes the values;
with ``tick_s=0`` nothing moves until the caller awaits ``step()`` or ``advance_to()``.

A ticking simulator also answers every read for the plant time of that read: before a Modbus
request (TCP or RTU), an OPC UA Read or an S7 read is answered, the machines it asks about are
advanced to the clock's plant time and their values written to that server. So a read never
serves what the last tick left, however late the tick is (a busy machine starves it): a served
counter is the model's at the read's plant time, and the next read's difference is what was
made in between (issue #18: stale counters that then leapt looked like presets to the agent).
OPC UA subscriptions are not reads: their notifications follow the tick.

A ``retrofit`` machine is served as its power meter and DI module (``sim.retrofit``); its
``values()`` show the meter's power (with its noise) and current, while its truth and energy
stay the noiseless model's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from contract.clock import Clock
from sim.encoding import encode_machine
from sim.errors import ControlError
from sim.machine import Machine, MachineState, Transition, TruthBin, machine_seed
from sim.modbus_server import ExceptionFault, ModbusSim
from sim.opcua_server import OpcUaSim
from sim.plant import MachineConfig, PlantConfig
from sim.pty import PtyLink
from sim.registers import STATE_BITS, STATE_CODES
from sim.retrofit import (
    di_bits,
    encode_di_counters,
    encode_meter,
    garbage_power_w,
    meter_reading,
)
from sim.s7_machine import MACHINE_DB_SIZE, encode_s7_machine
from sim.s7_server import S7Sim, SimArea
from sim.scripted import ScriptedMachine, load_script

__all__ = ["SIGNALS", "Simulator"]

log = logging.getLogger(__name__)

#: The signals a machine publishes (Modbus registers and OPC UA variables are made from these).
SIGNALS = (
    "state",
    "total_count",
    "reject_count",
    "good_count",
    "energy_kwh",
    "power_kw",
    "cycle_time_s",
    "current_a",  # retrofit machines only: the meter's current
)
_STATE_BY_CODE = {code: state for state, code in STATE_CODES.items()}


class Simulator:
    """A plant of simulated machines served over Modbus TCP/RTU and OPC UA."""

    def __init__(
        self,
        plant: PlantConfig,
        *,
        clock: Clock,
        seed: int = 0,
        start_ts: float | None = None,
        host: str = "127.0.0.1",
        modbus_port: int | None = None,
        rtu_port: str | None = None,
        rtu_baudrate: int = 19200,
        rtu_links: Sequence[Path] = (),
        opcua_port: int | None = None,
        opcua_users: Mapping[str, str] | None = None,
        opcua_anonymous: bool = True,
        s7_port: int | None = None,
        work_dir: Path | None = None,
        tick_s: float = 0.05,
        truth_bin_s: int = 60,
    ) -> None:
        self.plant = plant
        self.clock = clock
        self.seed = seed
        self.host = host
        self.tick_s = tick_s
        self._start_ts = start_ts
        self._truth_bin_s = truth_bin_s
        self._modbus_port = modbus_port
        self._rtu = (rtu_port, rtu_baudrate)
        self._pty_links = [PtyLink(Path(link)) for link in rtu_links]
        self._garbage: set[str] = set()
        self.machines: dict[str, Machine | ScriptedMachine] = {}
        self._frozen: dict[str, dict[str, Any]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # Guards the machine models: snap7 answers S7 reads from its own threads, and a read
        # advances the machine it asks about (re-entrant: values() is called under it).
        self._models = threading.RLock()
        self._configs = {m.id: m for m in plant.machines}
        self._machine_by_unit = {unit: m.id for m in plant.machines for unit in m.unit_ids.values()}
        self._machine_by_db = {m.s7_db: m.id for m in plant.machines if m.s7_db is not None}
        units = [m.unit_id for m in plant.machines if m.protocol == "modbus" and m.unit_id]
        kits = [
            (m.retrofit.meter_unit_id, m.retrofit.di_unit_id) for m in plant.machines if m.retrofit
        ]
        pattern_unit = plant.test_pattern.unit_id if plant.test_pattern else None
        serve_modbus = modbus_port is not None or rtu_port is not None or bool(rtu_links)
        self.modbus = ModbusSim(units, pattern_unit, kits) if serve_modbus else None
        self.s7 = _s7_plc(plant, host, s7_port)
        opcua_ids = [m.id for m in plant.machines if m.protocol == "opcua"]
        self.opcua: OpcUaSim | None = None
        if opcua_port is not None:
            if work_dir is None:
                raise ValueError("an OPC UA server needs work_dir for its certificate")
            self.opcua = OpcUaSim(
                opcua_ids,
                host=host,
                port=opcua_port,
                work_dir=work_dir,
                users=opcua_users,
                allow_anonymous=opcua_anonymous,
            )
        if self.follows_clock:
            self._answer_reads_for_their_time()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def follows_clock(self) -> bool:
        """True when the plant moves with the clock by itself (``tick_s`` > 0): then every read
        is answered for its plant time. A standing plant (``tick_s=0``) moves only by step()."""
        return self.tick_s > 0

    @property
    def modbus_address(self) -> tuple[str, int] | None:
        """(host, port) of the Modbus TCP server, if one runs (the real port when 0 was asked)."""
        if self._modbus_port is None or self.modbus is None:
            return None
        return self.host, self.modbus.tcp_port or self._modbus_port

    @property
    def s7_address(self) -> tuple[str, int] | None:
        """(host, port) of the S7 PLC simulator, if one runs (the real port when 0 was asked)."""
        return (self.s7.host, self.s7.port) if self.s7 is not None else None

    async def start(self) -> None:
        """Create the machines at the start time, publish their values and start the servers.

        Raises RuntimeError or OSError when a server cannot bind its port.
        """
        start_ts = self.clock.timestamp() if self._start_ts is None else self._start_ts
        for config in self.plant.machines:
            self.machines[config.id] = self._machine_for(config, start_ts)
        await self._publish()
        try:
            await self._start_servers()
        except BaseException:
            await self.stop()  # a port taken by the second server must not leak the first
            raise
        if self.tick_s > 0:
            # A plain task rather than a TaskGroup: its lifetime is start()..stop(), which
            # fixtures call from different places.
            self._ticker = asyncio.create_task(self._tick_forever(), name="retrofit-sim-tick")
        log.info("simulator started: %d machines, seed %d", len(self.machines), self.seed)

    async def _start_servers(self) -> None:
        if self.modbus is not None:
            if self._modbus_port is not None:
                await self.modbus.start_tcp(self.host, self._modbus_port)
            if self._rtu[0] is not None:
                await self.modbus.start_rtu(self._rtu[0], self._rtu[1])
            for link in self._pty_links:
                await self.modbus.start_rtu(link.open(), self._rtu[1])
        if self.opcua is not None:
            await self.opcua.start()
        if self.s7 is not None:
            self.s7.start()

    async def stop(self) -> None:
        """Stop ticking and close every server."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self.modbus is not None:
            await self.modbus.stop()
        for link in self._pty_links:
            link.close()
        if self.opcua is not None:
            await self.opcua.stop()
        if self.s7 is not None:
            # snap7's server joins its threads (up to a second per client): not on the loop.
            await asyncio.to_thread(self.s7.stop)

    async def step(self) -> float:
        """Advance every machine to the clock's plant time and publish; return that time."""
        plant_ts = self.clock.timestamp()
        await self.advance_to(plant_ts)
        return plant_ts

    async def advance_to(self, plant_ts: float) -> None:
        """Advance every machine to ``plant_ts`` (never backwards) and publish the values."""
        async with self._lock:
            for machine in self.machines.values():
                with self._models:
                    machine.advance_to(max(plant_ts, machine.now))
            await self._publish()

    def values(self, machine_id: str) -> dict[str, Any]:
        """The signal values a machine shows now (frozen signals keep their frozen value).

        Raises ControlError for an unknown machine.
        """
        machine = self._machine(machine_id)
        with self._models:
            return self._values_of(machine_id, machine)

    def _values_of(self, machine_id: str, machine: Machine | ScriptedMachine) -> dict[str, Any]:
        snapshot = machine.snapshot()
        values: dict[str, Any] = {
            "state": STATE_CODES[snapshot.state],
            "total_count": snapshot.total_count,
            "reject_count": snapshot.reject_count,
            "good_count": snapshot.good_count,
            "energy_kwh": snapshot.energy_kwh,
            "power_kw": snapshot.power_kw,
            "cycle_time_s": snapshot.cycle_time_s,
        }
        kit = machine.config.retrofit
        if kit is not None:
            seed = machine_seed(self.seed, machine_id)
            shown = meter_reading(kit, snapshot.power_kw, seed, snapshot.ts)
            values["power_kw"], values["current_a"] = shown.power_kw, shown.current_a
        values.update(self._frozen.get(machine_id, {}))
        values["state_name"] = _STATE_BY_CODE[values["state"]].value
        return values

    def truth(self, machine_id: str, start_ts: float, end_ts: float) -> TruthBin:
        """Exact ground truth of a machine over [start_ts, end_ts) (see Machine.truth).

        Raises ControlError for an unknown machine, ValueError for a misaligned interval.
        """
        machine = self._machine(machine_id)
        with self._models:
            return machine.truth(start_ts, end_ts)

    def transitions(self, machine_id: str, start_ts: float, end_ts: float) -> list[Transition]:
        """A modelled machine's state changes in [start_ts, end_ts) (see Machine.transitions).

        Raises ControlError for an unknown or a scripted machine.
        """
        machine = self._machine(machine_id)
        if not isinstance(machine, Machine):
            raise ControlError(f"machine {machine_id!r} is scripted: its script is its log")
        with self._models:
            return machine.transitions(start_ts, end_ts)

    # -- faults -----------------------------------------------------------------------------

    async def freeze(self, machine_id: str, signal: str) -> None:
        """Hold a signal at its present value on every protocol until unfrozen.

        Raises ControlError for an unknown machine or signal.
        """
        if signal not in SIGNALS:
            raise ControlError(f"unknown signal {signal!r}, expected one of {', '.join(SIGNALS)}")
        shown = self.values(machine_id)
        if signal not in shown:
            raise ControlError(f"machine {machine_id!r} has no signal {signal!r}")
        current = shown[signal]
        self._frozen.setdefault(machine_id, {})[signal] = current

    async def unfreeze(self, machine_id: str, signal: str | None = None) -> None:
        """Let one signal, or all of a machine's signals, follow the model again, at once."""
        if signal is None:
            self._frozen.pop(machine_id, None)
        else:
            self._frozen.get(machine_id, {}).pop(signal, None)
        async with self._lock:
            await self._publish()

    async def meter_garbage(self, machine_id: str, on: bool) -> None:
        """Make a retrofit machine's meter serve garbage power (NaN, then 3.4e38), or stop it.

        Raises ControlError for an unknown machine or one that is not ``retrofit``.
        """
        if self._machine(machine_id).config.retrofit is None:
            raise ControlError(f"machine {machine_id!r} has no power meter (not retrofit)")
        if on:
            self._garbage.add(machine_id)
        else:
            self._garbage.discard(machine_id)
        async with self._lock:
            await self._publish()

    def modbus_exception(self, unit_id: int, code: int, start: int = 0, end: int = 65535) -> None:
        """Answer Modbus exception ``code`` for a unit and address range until cleared.

        Raises ControlError when no Modbus server runs or the code is not 1..11.
        """
        if not 1 <= code <= 11:
            raise ControlError(f"exception code must be 1..11, got {code}")
        self._need_modbus().add_exception(ExceptionFault(unit_id, code, start, end))

    def clear_modbus_exceptions(self, unit_id: int | None = None) -> None:
        """Stop the exception faults of one unit, or of all."""
        self._need_modbus().clear_exceptions(unit_id)

    def silence(self, unit_id: int) -> None:
        """Make a Modbus unit stop answering (requests time out)."""
        self._need_modbus().silence(unit_id)

    def unsilence(self, unit_id: int | None = None) -> None:
        """Make one silenced unit, or all, answer again."""
        self._need_modbus().unsilence(unit_id)

    def drop_modbus_connections(self) -> int:
        """Close every open Modbus TCP connection; return how many were closed."""
        return self._need_modbus().drop_connections()

    def modbus_request_counts(self, unit_id: int) -> dict[int, int]:
        """Requests received by a unit since the last reset, by function code."""
        return self._need_modbus().request_counts(unit_id)

    def reset_modbus_request_counts(self) -> None:
        """Zero every request counter."""
        self._need_modbus().reset_request_counts()

    async def restart_opcua(self, down_s: float = 0.0) -> None:
        """Stop the OPC UA server, wait ``down_s`` wall seconds, start it on the same endpoint.

        Raises ControlError when no OPC UA server runs.
        """
        if self.opcua is None:
            raise ControlError("no OPC UA server is running (start with --opcua-port)")
        await self.opcua.stop()
        await asyncio.sleep(max(0.0, down_s))
        await self.opcua.start()

    async def restart_s7(self, down_s: float = 0.0) -> None:
        """Switch the S7 PLC off (every connection dropped), wait ``down_s`` wall seconds, and
        on again on the same port, its data blocks as the machines have them by then.

        Raises ControlError when no S7 PLC runs.
        """
        if self.s7 is None:
            raise ControlError("no S7 PLC is running (start with --s7-port)")
        await asyncio.to_thread(self.s7.stop)
        await asyncio.sleep(max(0.0, down_s))
        self.s7.start()

    # -- internals --------------------------------------------------------------------------

    def _machine_for(self, config: MachineConfig, start_ts: float) -> Machine | ScriptedMachine:
        """The modelled machine, or the scripted one replaying ``config.script``.

        Raises ScriptError when the script cannot be read or is invalid.
        """
        if config.script is not None:
            return ScriptedMachine(config, load_script(config.script), start_ts)
        return Machine(config, self.seed, start_ts, self._truth_bin_s)

    def _machine(self, machine_id: str) -> Machine | ScriptedMachine:
        try:
            return self.machines[machine_id]
        except KeyError:
            known = ", ".join(self.machines) or "none"
            raise ControlError(f"unknown machine {machine_id!r}, known: {known}") from None

    def _need_modbus(self) -> ModbusSim:
        if self.modbus is None:
            raise ControlError("no Modbus server is running (start with --modbus-port)")
        return self.modbus

    async def _publish(self) -> None:
        for config in self.plant.machines:
            await self._publish_machine(config)

    async def _publish_machine(self, config: MachineConfig) -> None:
        """Write one machine's present values to the server that serves it."""
        machine = self.machines[config.id]
        if config.protocol == "s7":
            self._publish_s7(config)
            return
        values = self.values(config.id)
        if config.protocol == "modbus" and self.modbus is not None and config.unit_id:
            registers = encode_machine(values, config.counter_bits, config.word_order)
            state_bit = STATE_BITS[MachineState(values["state_name"])]
            await self.modbus.publish_machine(config.unit_id, registers, state_bit)
        elif config.protocol == "retrofit" and self.modbus is not None:
            await self._publish_retrofit(config, values, machine)
        elif config.protocol == "opcua" and self.opcua is not None:
            await self.opcua.publish(config.id, values, machine.now)

    def _publish_s7(self, config: MachineConfig) -> None:
        """Write an S7 machine's data block, its values taken and written under the models'
        lock: a read in snap7's thread must not be overtaken by an older write from the loop."""
        if self.s7 is None or config.s7_db is None:
            return
        with self._models:
            values = self._values_of(config.id, self.machines[config.id])
            self.s7.write("db", 0, encode_s7_machine(values, config.id), db=config.s7_db)

    # -- reads answered for their plant time ------------------------------------------------

    def _answer_reads_for_their_time(self) -> None:
        """Have every server bring what a read asks about to the read's plant time first."""
        if self.modbus is not None:
            self.modbus.before_read = self._before_modbus_read
        if self.opcua is not None:
            self.opcua.before_read = self._before_opcua_read
        if self.s7 is not None:
            self.s7.before_read = self._before_s7_read

    def _bring_to_now(self, machine_id: str) -> None:
        """Advance one machine to the clock's plant time (never back)."""
        machine = self.machines.get(machine_id)
        if machine is None:  # a read before start() made the machines
            return
        with self._models:
            plant_ts = self.clock.timestamp()
            if plant_ts > machine.now:
                machine.advance_to(plant_ts)

    async def _before_modbus_read(self, unit_id: int) -> None:
        machine_id = self._machine_by_unit.get(unit_id)
        if machine_id is not None:  # the test pattern's values never change
            self._bring_to_now(machine_id)
            await self._publish_machine(self._configs[machine_id])

    async def _before_opcua_read(self, machine_ids: Sequence[str]) -> None:
        for machine_id in machine_ids:
            self._bring_to_now(machine_id)
            await self._publish_machine(self._configs[machine_id])

    def _before_s7_read(self, area: SimArea, db: int) -> None:
        """Called from snap7's client thread, not the event loop: no awaits, only the lock."""
        machine_id = self._machine_by_db.get(db) if area == "db" else None
        if machine_id is not None:
            self._bring_to_now(machine_id)
            self._publish_s7(self._configs[machine_id])

    async def _publish_retrofit(
        self, config: MachineConfig, values: dict[str, Any], machine: Machine | ScriptedMachine
    ) -> None:
        kit, modbus = config.retrofit, self.modbus
        if kit is None or modbus is None:
            return
        with self._models:
            snapshot = machine.snapshot()
        garbage = garbage_power_w(snapshot.ts) if config.id in self._garbage else None
        await modbus.publish_retrofit(
            kit.meter_unit_id,
            encode_meter(values, kit, garbage),
            kit.di_unit_id,
            di_bits(values, snapshot.last_part_ts, snapshot.last_reject_ts, snapshot.ts),
            encode_di_counters(values, config.counter_bits, config.word_order),
        )

    async def _tick_forever(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:  # the plant must keep running; the error is logged with its cause
                log.exception("simulator step failed; retrying in %.2f s", self.tick_s)
            await asyncio.sleep(self.tick_s)


def _s7_plc(plant: PlantConfig, host: str, port: int | None) -> S7Sim | None:
    """The S7 PLC simulator with one data block per ``s7`` machine, if a port was given."""
    if port is None:
        return None
    plc = S7Sim(host, port)
    for config in plant.machines:
        if config.protocol == "s7" and config.s7_db:
            plc.add_area("db", MACHINE_DB_SIZE, db=config.s7_db)
    return plc
