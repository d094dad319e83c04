"""What ``retrofit-agent probe modbus`` is asked to read: ranges, the target and the layout.

Turns the probe's ``--read``, target and ``--as``/``--byte-order``/``--word-order`` texts into
the agent's own types (:class:`~agent.sources.modbus.TcpLink`,
:class:`~agent.sources.modbus.ModbusPoint`), raising :class:`ProbeUsageError` with what was
given and what is expected. Pure: no I/O and no rendering.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.sources.modbus import (
    ByteOrder,
    DataType,
    ModbusPoint,
    RegisterType,
    TcpLink,
    WordOrder,
)

__all__ = [
    "REGISTERS_OF",
    "Layout",
    "ProbeUsageError",
    "ReadRange",
    "parse_layout",
    "parse_read_range",
    "parse_tcp_target",
    "range_points",
]

_TABLE_NAMES: dict[str, RegisterType] = {
    "holding": RegisterType.HOLDING,
    "hr": RegisterType.HOLDING,
    "input": RegisterType.INPUT,
    "ir": RegisterType.INPUT,
    "coil": RegisterType.COIL,
    "co": RegisterType.COIL,
    "discrete_input": RegisterType.DISCRETE_INPUT,
    "di": RegisterType.DISCRETE_INPUT,
}
_AS_TYPES = tuple(t for t in DataType if t not in (DataType.BOOL, DataType.BIT))
#: Registers one value of each ``--as`` type takes.
REGISTERS_OF = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}


class ProbeUsageError(ValueError):
    """A malformed probe argument; the message says what was given and what is expected."""


@dataclass(frozen=True, slots=True)
class ReadRange:
    """Addresses ``first..last`` (inclusive, 0-based protocol addresses) of one table."""

    register_type: RegisterType
    first: int
    last: int

    @property
    def count(self) -> int:
        """Table entries in the range."""
        return self.last - self.first + 1

    def describe(self) -> str:
        """``holding 0..20`` for titles and messages."""
        return f"{self.register_type.value} {self.first}..{self.last}"


@dataclass(frozen=True, slots=True)
class Layout:
    """How registers are decoded: ``as_type`` None shows the overview columns."""

    as_type: DataType | None = None
    byte_order: ByteOrder = ByteOrder.BIG
    word_order: WordOrder = WordOrder.BIG


def parse_read_range(text: str) -> ReadRange:
    """``holding:0-20`` (or ``input:7``, ``coil:0-15``, ``discrete_input:0-7``) to a ReadRange.

    Raises ProbeUsageError for an unknown table, a malformed or reversed range, or addresses
    outside 0..65535.
    """
    table, colon, span = text.strip().partition(":")
    register_type = _TABLE_NAMES.get(table.lower())
    if not colon or register_type is None:
        raise ProbeUsageError(
            f"--read {text!r}: expected TABLE:FIRST-LAST with TABLE one of coil, discrete_input, "
            "holding, input (e.g. holding:0-20)"
        )
    first_text, dash, last_text = span.partition("-")
    try:
        first = int(first_text)
        last = int(last_text) if dash else first
    except ValueError:
        raise ProbeUsageError(
            f"--read {text!r}: expected addresses as FIRST-LAST or one ADDRESS, e.g. {table}:0-20"
        ) from None
    if not 0 <= first <= last <= 0xFFFF:
        raise ProbeUsageError(
            f"--read {text!r}: got {first}..{last}, expected 0 <= FIRST <= LAST <= 65535 "
            "(0-based protocol addresses)"
        )
    return ReadRange(register_type, first, last)


def parse_tcp_target(text: str) -> TcpLink:
    """``HOST``, ``HOST:PORT`` or ``[IPV6]:PORT`` to a TcpLink (port 502 by default).

    Raises ProbeUsageError for an empty host or a port outside 1..65535.
    """
    host, port_text = text.strip(), ""
    if host.startswith("["):
        inside, _, rest = host[1:].partition("]")
        host, port_text = inside, rest.removeprefix(":")
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
    try:
        port = int(port_text) if port_text else 502
    except ValueError:
        port = -1
    if not host or not 1 <= port <= 65535:
        raise ProbeUsageError(f"target {text!r}: expected HOST or HOST:PORT with PORT 1..65535")
    return TcpLink(host, port)


def parse_layout(as_type: str | None, byte_order: str, word_order: str) -> Layout:
    """The decoding layout from the ``--as``, ``--byte-order`` and ``--word-order`` texts.

    Raises ProbeUsageError naming the accepted values.
    """
    orders = [order.value for order in ByteOrder]
    if byte_order not in orders or word_order not in orders:
        raise ProbeUsageError(
            f"--byte-order {byte_order!r} / --word-order {word_order!r}: expected big or little"
        )
    data_type = None
    if as_type is not None:
        names = [t.value for t in _AS_TYPES]
        if as_type not in names:
            raise ProbeUsageError(f"--as {as_type!r}: expected one of {', '.join(names)}")
        data_type = DataType(as_type)
    return Layout(data_type, ByteOrder(byte_order), WordOrder(word_order))


def range_points(read_range: ReadRange, unit_id: int, layout: Layout) -> list[ModbusPoint]:
    """The points that read ``read_range``: one per bit or register, or one per ``--as`` value.

    Registers left over after the last whole value are read as uint16, so nothing asked for is
    silently skipped. Raises ProbeUsageError for a string longer than one read (125 registers).
    """
    table = read_range.register_type
    if table.is_bit_table:
        return [
            _point(table, address, unit_id, DataType.BOOL, layout)
            for address in range(read_range.first, read_range.last + 1)
        ]
    data_type = layout.as_type or DataType.UINT16
    if data_type is DataType.STRING:
        if read_range.count > 125:
            raise ProbeUsageError(
                f"--as string on {read_range.describe()}: got {read_range.count} registers, "
                "expected at most 125 (one read)"
            )
        return [_point(table, read_range.first, unit_id, data_type, layout, read_range.count)]
    width = REGISTERS_OF[data_type]
    points = []
    address = read_range.first
    while address <= read_range.last:
        fits = address + width - 1 <= read_range.last
        points.append(
            _point(table, address, unit_id, data_type if fits else DataType.UINT16, layout)
        )
        address += width if fits else 1
    return points


def _point(
    table: RegisterType,
    address: int,
    unit_id: int,
    data_type: DataType,
    layout: Layout,
    string_registers: int | None = None,
) -> ModbusPoint:
    width = string_registers or REGISTERS_OF.get(data_type, 1)
    return ModbusPoint(
        tag=f"{table.value}:{address}:{data_type.value}:{width}",
        register_type=table,
        address=address,
        data_type=data_type,
        unit_id=unit_id,
        string_registers=string_registers,
        byte_order=layout.byte_order,
        word_order=layout.word_order,
    )
