"""Modbus TCP and RTU servers for the simulated machines and the test-pattern device.

Built on pymodbus 3.16's ``SimDevice``/``SimData`` datastore (the non-deprecated server API).
Each machine is one device id (unit id); a retrofit machine is two, its power meter and its DI
module (``sim.retrofit``), each answering only the function codes such a device has; the
test-pattern device serves fixed values of every type (``sim.registers``). Two pymodbus hooks
do the rest:

- ``trace_pdu`` sees every request a server receives: it counts requests per unit and function
  code, and swallows requests for silenced or unknown units (pymodbus only answers a request
  when the hook returns the PDU), so the client times out as on a dead RS-485 drop.
- each device's ``action`` runs before a request is served and can return an exception code:
  that is how the exception fault answers for a unit and address range, and how a meter
  answers "illegal function" to a table it does not have. For a read it also awaits
  ``before_read(unit_id)`` first, so the simulator can publish that unit's values for the
  plant time of the read: the datastore's slice is taken after the action returns.
  pymodbus needs every device to have all four tables, so an unused one holds one
  placeholder entry at address 0 and checks the address before the action: a read of that
  table answers exception 1 when it asks for that one address, exception 2 (illegal data
  address) otherwise; never a value.

Values are written through ``server.context.async_setValues``: the server builds its own
datastore from the devices, so writing to the objects passed in would change nothing.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.base import ModbusBaseServer
from pymodbus.simulator import DataType, SimData, SimDevice

from sim.encoding import encode_pattern
from sim.registers import (
    COIL_PATTERN,
    DISCRETE_INPUT_PATTERN,
    MACHINE_REGISTER_COUNT,
    PATTERN_BITS_VALUE,
    PATTERN_RAMP_COUNT,
    PATTERN_RAMP_INPUT_OFFSET,
    PATTERN_RAMP_START,
    TEST_PATTERN,
)
from sim.retrofit import DI_INPUT_COUNT, DI_REGISTER_COUNT, METER_REGISTER_COUNT

__all__ = ["ExceptionFault", "ModbusSim"]

log = logging.getLogger(__name__)

_TraceHook = Callable[[bool, ModbusPDU], ModbusPDU]
#: Awaited with the unit id before a read of that unit is answered.
BeforeRead = Callable[[int], Awaitable[None]]

# pymodbus function codes, by the table they address, for our own datastore writes.
_FC_WRITE_COILS = 15
_FC_DISCRETE_INPUTS = 2
_FC_WRITE_HOLDING = 16
_FC_INPUT_REGISTERS = 4
_FC_READ_HOLDING = 3
#: Function codes a retrofit meter and DI module answer (reads of the tables they have).
_METER_FUNCTIONS = frozenset({_FC_INPUT_REGISTERS})
_DI_FUNCTIONS = frozenset({_FC_DISCRETE_INPUTS, _FC_READ_HOLDING})


@dataclass(frozen=True)
class ExceptionFault:
    """Answer ``code`` to every request for ``unit_id`` touching addresses start..end."""

    unit_id: int
    code: int
    start: int = 0
    end: int = 65535

    def hits(self, address: int, count: int) -> bool:
        """True when the request range [address, address + count) overlaps the fault's range."""
        return address <= self.end and address + max(count, 1) - 1 >= self.start


class ModbusSim:
    """Serves machine units and the optional test-pattern unit over Modbus TCP and/or RTU."""

    def __init__(
        self,
        machine_units: Sequence[int],
        test_pattern_unit: int | None,
        retrofit_units: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.machine_units = tuple(machine_units)
        self.test_pattern_unit = test_pattern_unit
        #: (meter unit, DI module unit) of each retrofit machine.
        self.retrofit_units = tuple(retrofit_units)
        self._functions: dict[int, frozenset[int]] = {}
        for meter, di in self.retrofit_units:
            self._functions[meter] = _METER_FUNCTIONS
            self._functions[di] = _DI_FUNCTIONS
        self._servers: list[ModbusBaseServer] = []
        self._counts: dict[int, Counter[int]] = {}
        self._silent: set[int] = set()
        self._faults: list[ExceptionFault] = []
        self._internal_write = False
        self._published: dict[int, list[int]] = {}
        self.tcp_port: int | None = None
        #: Awaited before each read a client asks of a unit (see the module doc).
        self.before_read: BeforeRead | None = None

    @property
    def units(self) -> tuple[int, ...]:
        """Every unit id served."""
        extra = () if self.test_pattern_unit is None else (self.test_pattern_unit,)
        kits = tuple(unit for pair in self.retrofit_units for unit in pair)
        return self.machine_units + kits + extra

    async def start_tcp(self, host: str, port: int) -> None:
        """Listen for Modbus TCP on host:port (0: any free port, then read ``tcp_port``).

        Raises RuntimeError when the address cannot be bound.
        """
        server = ModbusTcpServer(
            self._devices(), address=(host, port), trace_pdu=self._trace_hook()
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        # Port 0 lets the OS choose; the listener's socket tells which port it got.
        sockets = getattr(server.transport, "sockets", None) or []
        self.tcp_port = sockets[0].getsockname()[1] if sockets else port
        log.info("modbus tcp listening on %s:%d, units %s", host, self.tcp_port, self.units)

    async def start_rtu(self, port_path: str, baudrate: int = 19200) -> None:
        """Serve Modbus RTU on the serial port (or pty) at ``port_path``.

        Raises RuntimeError when the port cannot be opened.
        """
        server = ModbusSerialServer(
            self._devices(), port=port_path, baudrate=baudrate, trace_pdu=self._trace_hook()
        )
        await server.serve_forever(background=True)
        self._servers.append(server)
        log.info("modbus rtu serving on %s at %d baud, units %s", port_path, baudrate, self.units)

    async def stop(self) -> None:
        """Close every server and connection."""
        for server in self._servers:
            await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it unannotated
        self._servers.clear()

    async def publish_machine(self, unit_id: int, registers: list[int], state_bit: int) -> None:
        """Write a machine's register map (both tables) and its state bits (coils, inputs).

        Only what changed is written: the bits change with the state alone, and a read of a
        running simulator publishes its unit first (``before_read``), so this is on every read.
        """
        previous = self._published.get(unit_id)
        if previous == [*registers, state_bit]:
            return
        self._published[unit_id] = [*registers, state_bit]
        words_changed = previous is None or previous[:-1] != registers
        bits_changed = previous is None or previous[-1] != state_bit
        bits = [n == state_bit for n in range(16)]
        self._internal_write = True
        try:
            for server in self._servers:
                context = server.context
                if words_changed:
                    await context.async_setValues(unit_id, _FC_WRITE_HOLDING, 0, registers)
                    await context.async_setValues(unit_id, _FC_INPUT_REGISTERS, 0, registers)
                if bits_changed:
                    await context.async_setValues(unit_id, _FC_WRITE_COILS, 0, bits)
                    await context.async_setValues(unit_id, _FC_DISCRETE_INPUTS, 0, bits)
        finally:
            self._internal_write = False

    async def publish_retrofit(
        self,
        meter_unit: int,
        meter_words: list[int],
        di_unit: int,
        di_bits: list[bool],
        counter_words: list[int],
    ) -> None:
        """Write a retrofit machine's meter registers and its DI module's inputs and counters."""
        key = [*meter_words, *map(int, di_bits), *counter_words]
        if self._published.get(meter_unit) == key:
            return
        self._published[meter_unit] = key
        self._internal_write = True
        try:
            for server in self._servers:
                context = server.context
                await context.async_setValues(meter_unit, _FC_INPUT_REGISTERS, 0, meter_words)
                await context.async_setValues(di_unit, _FC_DISCRETE_INPUTS, 0, di_bits)
                await context.async_setValues(di_unit, _FC_WRITE_HOLDING, 0, counter_words)
        finally:
            self._internal_write = False

    # -- faults and counters ----------------------------------------------------------------

    def request_counts(self, unit_id: int) -> dict[int, int]:
        """Requests received for ``unit_id`` since the last reset, by function code."""
        return dict(self._counts.get(unit_id, Counter()))

    def reset_request_counts(self) -> None:
        """Forget all request counts."""
        self._counts.clear()

    def add_exception(self, fault: ExceptionFault) -> None:
        """Start answering an exception code for a unit and address range."""
        self._faults.append(fault)

    def clear_exceptions(self, unit_id: int | None = None) -> None:
        """Stop the exception faults of one unit, or of all units."""
        self._faults = [f for f in self._faults if unit_id is not None and f.unit_id != unit_id]

    def silence(self, unit_id: int) -> None:
        """Make a unit stop answering (clients time out)."""
        self._silent.add(unit_id)

    def unsilence(self, unit_id: int | None = None) -> None:
        """Make one unit, or all units, answer again."""
        if unit_id is None:
            self._silent.clear()
        else:
            self._silent.discard(unit_id)

    def drop_connections(self) -> int:
        """Close every open TCP connection (the listener stays up); return how many closed."""
        dropped = 0
        for server in self._servers:
            for connection in list(server.active_connections.values()):
                connection.close()
                dropped += 1
        log.info("modbus: dropped %d connections", dropped)
        return dropped

    # -- pymodbus hooks ---------------------------------------------------------------------

    def _trace_hook(self) -> _TraceHook:
        known = set(self.units)

        def trace(sending: bool, pdu: ModbusPDU) -> ModbusPDU | None:
            if sending:
                return pdu
            self._counts.setdefault(pdu.dev_id, Counter())[pdu.function_code] += 1
            if pdu.dev_id in self._silent or pdu.dev_id not in known:
                return None  # no PDU: pymodbus sends no answer
            return pdu

        # pymodbus types the hook as returning a PDU; returning None is how it drops a request.
        return cast(_TraceHook, trace)

    async def _action(
        self,
        unit_id: int,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if self._internal_write:
            return None
        if function_code not in self._functions.get(unit_id, (function_code,)):
            return ExcCodes.ILLEGAL_FUNCTION
        for fault in self._faults:
            if fault.unit_id == unit_id and fault.hits(address, count):
                return ExcCodes(fault.code)
        if set_values is None and self.before_read is not None:
            try:
                await self.before_read(unit_id)
            except Exception:  # the read is still answered, with the values last published
                log.exception("modbus unit %d: refreshing before a read failed", unit_id)
        return None

    # -- datastore --------------------------------------------------------------------------

    def _devices(self) -> list[SimDevice]:
        devices = [self._machine_device(unit) for unit in self.machine_units]
        for meter, di in self.retrofit_units:
            devices += [self._meter_device(meter), self._di_device(meter, di)]
        if self.test_pattern_unit is not None:
            devices.append(self._pattern_device(self.test_pattern_unit))
        return devices

    def _machine_device(self, unit_id: int) -> SimDevice:
        registers = self._published.get(unit_id, [0] * (MACHINE_REGISTER_COUNT + 1))
        words = registers[:MACHINE_REGISTER_COUNT]
        bits = [n == registers[-1] and unit_id in self._published for n in range(16)]
        table = [SimData(0, values=words, datatype=DataType.REGISTERS)]
        return SimDevice(
            unit_id,
            (
                [SimData(0, values=bits, datatype=DataType.BITS)],
                [SimData(0, values=list(bits), datatype=DataType.BITS)],
                table,
                [SimData(0, values=list(words), datatype=DataType.REGISTERS)],
            ),
            action=functools.partial(self._action, unit_id),
        )

    def _meter_device(self, unit_id: int) -> SimDevice:
        words = self._published.get(unit_id, [0] * METER_REGISTER_COUNT)[:METER_REGISTER_COUNT]
        return SimDevice(
            unit_id,
            (
                [_PLACEHOLDER_BITS],
                [_PLACEHOLDER_BITS],
                [_PLACEHOLDER_WORDS],
                [SimData(0, values=words, datatype=DataType.REGISTERS)],
            ),
            action=functools.partial(self._action, unit_id),
        )

    def _di_device(self, meter_unit: int, unit_id: int) -> SimDevice:
        # Published with the meter (one key per retrofit machine): inputs, then counters.
        empty = [0] * (METER_REGISTER_COUNT + DI_INPUT_COUNT + DI_REGISTER_COUNT)
        published = self._published.get(meter_unit, empty)[METER_REGISTER_COUNT:]
        bits = [bool(bit) for bit in published[:DI_INPUT_COUNT]]
        counters = published[DI_INPUT_COUNT:]
        return SimDevice(
            unit_id,
            (
                [_PLACEHOLDER_BITS],
                [SimData(0, values=bits, datatype=DataType.BITS)],
                [SimData(0, values=counters, datatype=DataType.REGISTERS)],
                [_PLACEHOLDER_WORDS],
            ),
            action=functools.partial(self._action, unit_id),
        )

    def _pattern_device(self, unit_id: int) -> SimDevice:
        words: list[int] = []
        for entry in TEST_PATTERN:
            words.extend(encode_pattern(entry))
        words.append(PATTERN_BITS_VALUE)
        ramp = list(range(PATTERN_RAMP_START, PATTERN_RAMP_START + PATTERN_RAMP_COUNT))
        ramp_input = [value + PATTERN_RAMP_INPUT_OFFSET for value in ramp]
        return SimDevice(
            unit_id,
            (
                [SimData(0, values=list(COIL_PATTERN), datatype=DataType.BITS)],
                [SimData(0, values=list(DISCRETE_INPUT_PATTERN), datatype=DataType.BITS)],
                [
                    SimData(0, values=words, datatype=DataType.REGISTERS),
                    SimData(PATTERN_RAMP_START, values=ramp, datatype=DataType.REGISTERS),
                ],
                [
                    SimData(0, values=list(words), datatype=DataType.REGISTERS),
                    SimData(PATTERN_RAMP_START, values=ramp_input, datatype=DataType.REGISTERS),
                ],
            ),
            action=functools.partial(self._action, unit_id),
        )


# A table a retrofit device does not have: the action answers exception 1 before it is read.
_PLACEHOLDER_BITS = SimData(0, values=[False], datatype=DataType.BITS)
_PLACEHOLDER_WORDS = SimData(0, values=[0], datatype=DataType.REGISTERS)
