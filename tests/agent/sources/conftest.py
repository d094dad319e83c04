"""A real pymodbus 3.16 server on a free loopback port (TCP) or a pseudo-terminal pair (RTU).

Deliberately not the ``sim/`` plant simulator: these tests need a device whose registers,
holes, exceptions and faults the test itself decides. The server counts the read requests it
receives (through pymodbus's ``trace_pdu`` hook, called for every PDU it decodes) and can be told
to answer an exception, to hang, or to drop the connection for reads touching given addresses.

Layout of each unit (``SimDevice`` with separate tables, so coil N is bit N):
coils and discrete inputs 0..63; holding registers 0..199 and 210..219 (200..209 undefined: a
hole); input registers 0..99. Unit 1 and unit 2 exist; others answer exception 4 (pymodbus's
simulator raises KeyError for an unknown unit and turns it into "device failure").
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import pytest
from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.base import ModbusBaseServer
from pymodbus.simulator import DataType, SimData, SimDevice

import stack
from tests.pty import relay

UNITS = (1, 2)
HOLE = range(200, 210)
READ_FUNCTION_CODES = {1: "coil", 2: "discrete_input", 3: "holding", 4: "input"}
WRITE_FUNCTION_CODE = {"coil": 15, "discrete_input": 2, "holding": 16, "input": 4}


@dataclass(frozen=True)
class Fault:
    """Misbehave for reads of ``unit``'s ``table`` overlapping ``addresses``.

    ``kind`` is an ``ExcCodes`` member (answer that exception), ``"hang"`` (never answer) or
    ``"drop"`` (close every client connection instead of answering).
    """

    unit: int
    table: str
    addresses: range
    kind: ExcCodes | str


@dataclass(frozen=True)
class SeenRequest:
    """A read request as the server decoded it."""

    unit: int
    table: str
    address: int
    count: int


@dataclass
class DeviceServer:
    """Handle on a running test server: its address, what it saw, and how to change it."""

    server: ModbusBaseServer
    host: str = "127.0.0.1"
    port: int = 0
    serial_port: str = ""
    requests: list[SeenRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    connections: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def write(
        self, unit: int, table: str, address: int, values: Sequence[int | bool]
    ) -> None:
        """Set values in a table of a unit (through the running server's own context)."""
        await self.server.async_setValues(unit, WRITE_FUNCTION_CODE[table], address, list(values))

    def drop_connections(self) -> None:
        """Close every client connection, as a device rebooting or a gateway timing out does."""
        for handler in list(self.server.active_connections.values()):
            handler.close()

    def reads(self, unit: int | None = None) -> list[SeenRequest]:
        """Read requests seen so far, optionally only for one unit."""
        return [seen for seen in self.requests if unit is None or seen.unit == unit]


def _trace_pdu(state: DeviceServer, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
    """Count each read request the server receives."""
    if not sending and pdu.function_code in READ_FUNCTION_CODES:
        table = READ_FUNCTION_CODES[pdu.function_code]
        state.requests.append(SeenRequest(pdu.dev_id, table, pdu.address, pdu.count))
    return pdu


def _trace_connect(state: DeviceServer, connected: bool) -> None:
    """Count client connections (pymodbus does not call this when the server closes one)."""
    if connected:
        state.connections += 1


async def _action(
    state: DeviceServer,
    unit: int,
    function_code: int,
    _start: int,
    address: int,
    count: int,
    _registers: list[int],
    set_values: list[int] | list[bool] | None,
) -> ExcCodes | None:
    """Apply the first matching fault to a read; writes from the test always pass."""
    if set_values is not None or function_code not in READ_FUNCTION_CODES:
        return None
    table = READ_FUNCTION_CODES[function_code]
    # pymodbus passes bit tables' count in registers of 16 bits; only the start matters here.
    asked = range(address, address + (count if table in ("holding", "input") else 1))
    for fault in state.faults:
        if fault.unit != unit or fault.table != table or not _overlap(asked, fault.addresses):
            continue
        if fault.kind == "hang":
            await state.released.wait()  # set at teardown, so no handler task outlives the test
            return ExcCodes.DEVICE_BUSY
        if fault.kind == "drop":
            state.drop_connections()
            return ExcCodes.DEVICE_FAILURE  # sent into the closed connection: never arrives
        if isinstance(fault.kind, ExcCodes):
            return fault.kind
    return None


def _overlap(first: range, second: range) -> bool:
    return first.start < second.stop and second.start < first.stop


def _devices(state: DeviceServer) -> list[SimDevice]:
    """Units 1 and 2, each with all four tables (holding registers with a hole at 200..209)."""
    return [
        SimDevice(
            unit,
            simdata=(
                [SimData(0, count=64, values=False, datatype=DataType.BITS)],
                [SimData(0, count=64, values=False, datatype=DataType.BITS)],
                [
                    SimData(0, count=HOLE.start, values=0, datatype=DataType.REGISTERS),
                    SimData(HOLE.stop, count=10, values=0, datatype=DataType.REGISTERS),
                ],
                [SimData(0, count=100, values=0, datatype=DataType.REGISTERS)],
            ),
            action=partial(_action, state, unit),
        )
        for unit in UNITS
    ]


@contextlib.asynccontextmanager
async def _serving(state: DeviceServer) -> AsyncIterator[DeviceServer]:
    await state.server.serve_forever(background=True)
    try:
        yield state
    finally:
        state.released.set()
        state.drop_connections()
        async with asyncio.timeout(5):  # a stuck shutdown must not hang the suite
            await state.server.shutdown()  # type: ignore[no-untyped-call]  # untyped in pymodbus


@pytest.fixture
async def device_server() -> AsyncIterator[DeviceServer]:
    """A Modbus TCP server on a free loopback port, stopped after the test."""
    state = DeviceServer(server=None)  # type: ignore[arg-type]  # set just below; it needs state
    state.server = ModbusTcpServer(
        _devices(state),
        address=("127.0.0.1", 0),
        trace_pdu=partial(_trace_pdu, state),
        trace_connect=partial(_trace_connect, state),
    )
    async with _serving(state):
        state.port = state.server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # asyncio.Server
        yield state


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return stack.free_port()


@pytest.fixture
async def rtu_server(pty_pair: tuple[int, int, str, str]) -> AsyncIterator[DeviceServer]:
    """A Modbus RTU server on one end of a pty pair; ``serial_port`` is the client's end."""
    master_a, master_b, server_end, client_end = pty_pair
    state = DeviceServer(server=None, serial_port=client_end)  # type: ignore[arg-type]
    state.server = ModbusSerialServer(
        _devices(state),
        framer=FramerType.RTU,
        port=server_end,
        baudrate=19200,
        trace_pdu=partial(_trace_pdu, state),
    )
    async with relay(master_a, master_b), _serving(state):
        yield state
