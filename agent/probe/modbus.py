"""``retrofit-agent probe modbus``: read address ranges of a device and show them every useful way.

An installer at a meter or PLC often has a register map of doubtful accuracy: is the power at
holding 20 or input 20, is that float's low word first, are addresses 0- or 1-based? The probe
reads what it is asked (coils, discrete inputs, holding or input registers, any ranges) and prints
one table per range: each register in hex, as uint16, int16 and text, and each register pair of
the range as float32 in both word orders, so the sane-looking column names the layout. With
``--as T`` it decodes consecutive values of type T in the given byte and word order instead,
exactly as the agent would for a tag with those settings.

Reads go through the agent's own :class:`~agent.sources.modbus.ModbusSource`: the same
requests (at most 125 registers or 2000 bits each), the same decoding and the same failure
wording as ``check-config`` and the running agent. A range touching an undefined address is
re-read address by address (the source does that for coalesced reads the device refuses), so
the table shows exactly which addresses exist; runs of addresses failing alike share one row,
``modbus exception 2 (illegal data address)``.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.sources.base import Quality, Reading
from agent.sources.modbus import (
    ByteOrder,
    DataType,
    ModbusConnection,
    ModbusPoint,
    ModbusSource,
    RegisterType,
    RtuLink,
    TcpLink,
    WordOrder,
    registers_to_bytes,
)

from .options import DEFAULT_READ, EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE
from .quiet import quiet_logs

__all__ = [
    "MAX_PROBE_ADDRESSES",
    "Layout",
    "ProbeUsageError",
    "ReadRange",
    "parse_layout",
    "parse_read_range",
    "parse_tcp_target",
    "probe_modbus",
    "range_points",
]

#: Table entries one probe may read in total: a typo such as ``holding:0-65535`` on a device
#: with holes would otherwise cost tens of thousands of single-address requests.
MAX_PROBE_ADDRESSES = 4000

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
_REGISTERS_OF = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}
_PARITY = {"none": "N", "even": "E", "odd": "O"}
_BITS_PER_ROW = 16
#: Manuals often number holding registers from 40001 and input registers from 30001.
_MANUAL_NUMBERING = {RegisterType.HOLDING: 40001, RegisterType.INPUT: 30001}


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
    width = _REGISTERS_OF[data_type]
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
    width = string_registers or _REGISTERS_OF.get(data_type, 1)
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


def probe_modbus(
    target: str | None,
    unit: int,
    reads: Sequence[str],
    as_type: str | None,
    byte_order: str,
    word_order: str,
    timeout_s: float,
    console: Console,
    *,
    rtu: str | None = None,
    baudrate: int = 19200,
    parity: str = "even",
    stop_bits: int = 1,
) -> int:
    """Read the ``reads`` ranges from unit ``unit`` and print a table per range.

    ``target`` is ``HOST[:PORT]`` for Modbus TCP; for RTU give ``rtu`` (the serial device) and
    the line settings instead (defaults 19200 baud, even parity, 1 stop bit, as the spec and the
    agent's configuration). ``timeout_s`` bounds the connect and each request (no retries).
    Returns the exit code: 0 the device answered, 2 a usage error, 3 the device is unreachable
    or every read failed. Never raises for a user mistake or a device fault.
    """
    try:
        connection = _connection(target, timeout_s, rtu, baudrate, parity, stop_bits)
        if not 0 <= unit <= 255:
            raise ProbeUsageError(f"--unit {unit}: expected 0..255")
        layout = parse_layout(as_type, byte_order, word_order)
        ranges = [parse_read_range(text) for text in (reads or [DEFAULT_READ])]
        points = _all_points(ranges, unit, layout)
    except ProbeUsageError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_USAGE
    with quiet_logs("agent.sources.modbus", "pymodbus"):
        readings = asyncio.run(_read_points(connection, points))
    where = f"{connection.link.describe()} unit {unit}"
    failure = _link_failure(list(readings.values()))
    if failure is not None:
        console.print(f"[red]error:[/red] {where}: {failure}", highlight=False)
        console.print(_unreachable_hint(connection.link, failure), highlight=False)
        return EXIT_DEVICE_FAILED
    for read_range in ranges:
        title, table = _range_table(read_range, unit, layout, points, readings)
        console.print(Text(title, style="bold"))
        console.print(table)
        if hint := _range_hint(read_range, points, readings):
            console.print(hint, style="yellow", highlight=False)
    if all(reading.quality is Quality.BAD for reading in readings.values()):
        console.print(f"[red]error:[/red] {where}: every read failed", highlight=False)
        return EXIT_DEVICE_FAILED
    return EXIT_OK


def _connection(
    target: str | None,
    timeout_s: float,
    rtu: str | None,
    baudrate: int,
    parity: str,
    stop_bits: int,
) -> ModbusConnection:
    """The connection settings from the arguments; raises ProbeUsageError."""
    if (target is None) == (rtu is None):
        raise ProbeUsageError(
            "expected either HOST[:PORT] (Modbus TCP) or --rtu SERIAL_PORT (Modbus RTU), "
            f"got {'both' if target else 'neither'}"
        )
    if not 0 < timeout_s <= 60:
        raise ProbeUsageError(f"--timeout {timeout_s:g}: expected more than 0 and at most 60 s")
    link: TcpLink | RtuLink
    if target is not None:
        link = parse_tcp_target(target)
    elif rtu is None:  # unreachable: exactly one of the two, checked above
        raise ProbeUsageError("expected --rtu SERIAL_PORT")
    else:
        if parity not in _PARITY or stop_bits not in (1, 2) or baudrate <= 0:
            raise ProbeUsageError(
                f"--baud {baudrate} --parity {parity} --stop-bits {stop_bits}: expected a "
                "positive baud rate, parity none, even or odd, and 1 or 2 stop bits"
            )
        link = RtuLink(rtu, baudrate, _rtu_parity(parity), 2 if stop_bits == 2 else 1)
    # No retries: the probe shows what the device does on the first ask; max_gap 0 reads only
    # the addresses asked for.
    return ModbusConnection(link, timeout_s=timeout_s, retries=0, max_gap=0)


def _rtu_parity(parity: str) -> Literal["N", "E", "O"]:
    return "E" if parity == "even" else "O" if parity == "odd" else "N"


def _all_points(ranges: Sequence[ReadRange], unit: int, layout: Layout) -> list[ModbusPoint]:
    """The distinct points of every range; raises ProbeUsageError past the probe's size limit."""
    total = sum(read_range.count for read_range in ranges)
    if total > MAX_PROBE_ADDRESSES:
        raise ProbeUsageError(
            f"--read: got {total} addresses in all, expected at most {MAX_PROBE_ADDRESSES} "
            "per probe; read the map in parts"
        )
    unique: dict[str, ModbusPoint] = {}
    for read_range in ranges:
        for point in range_points(read_range, unit, layout):
            unique.setdefault(point.tag, point)
    return list(unique.values())


async def _read_points(
    connection: ModbusConnection, points: Sequence[ModbusPoint]
) -> dict[str, Reading]:
    """One reading per point, by tag; the source's read never raises."""
    source = ModbusSource("probe", connection, points)
    try:
        readings = await source.read()
    finally:
        await source.close()
    return {reading.tag: reading for reading in readings}


def _reason(reading: Reading) -> str:
    """The reading's failure without the source's ``(skipped)`` mark for a silent unit."""
    return (reading.reason or "bad value").removesuffix(" (skipped)")


def _link_failure(readings: Sequence[Reading]) -> str | None:
    """The one reason every read failed for, unless the device answered anything at all."""
    if any(reading.quality is not Quality.BAD for reading in readings):
        return None
    reasons = {_reason(reading) for reading in readings}
    if len(reasons) != 1:
        return None
    reason = reasons.pop()
    # An exception response or a decode error proves the device answered: show the tables.
    if reason.startswith(("modbus exception", "decode error", "invalid response")):
        return None
    return reason


def _unreachable_hint(link: TcpLink | RtuLink, failure: str) -> str:
    if failure.startswith("timeout") and isinstance(link, RtuLink):
        return (
            "no answer: check the unit id (--unit), baud rate, parity and stop bits, and the "
            "A/B wiring of the RS-485 pair"
        )
    if failure.startswith("timeout"):
        return "no answer: check the unit id (--unit); a gateway drops requests for unknown units"
    if isinstance(link, TcpLink):
        return "check the host and port (Modbus TCP listens on 502 unless configured otherwise)"
    return "check the serial port path and that no other program holds the port"


def _range_points(read_range: ReadRange, points: Sequence[ModbusPoint]) -> list[ModbusPoint]:
    """The points (sorted by address) that lie inside ``read_range``."""
    return sorted(
        (
            point
            for point in points
            if point.register_type is read_range.register_type
            and read_range.first <= point.address
            and point.end - 1 <= read_range.last
        ),
        key=lambda point: point.address,
    )


@dataclass(frozen=True, slots=True)
class _Run:
    """Points read alike: one good point, or consecutive points failing for the same reason."""

    points: tuple[ModbusPoint, ...]
    reason: str | None

    @property
    def label(self) -> str:
        first, last = self.points[0].address, self.points[-1].end - 1
        return str(first) if first == last else f"{first}..{last}"


def _runs(points: Sequence[ModbusPoint], readings: dict[str, Reading]) -> list[_Run]:
    """Good points one by one; consecutive bad points with the same reason as one run."""
    runs: list[_Run] = []
    for point in points:
        reading = readings[point.tag]
        if reading.quality is not Quality.BAD:
            runs.append(_Run((point,), None))
            continue
        reason = _reason(reading)
        previous = runs[-1] if runs else None
        if previous is not None and previous.reason == reason and reading.raw is None:
            runs[-1] = _Run((*previous.points, point), reason)
        else:
            runs.append(_Run((point,), reason))
    return runs


def _range_table(
    read_range: ReadRange,
    unit: int,
    layout: Layout,
    points: Sequence[ModbusPoint],
    readings: dict[str, Reading],
) -> tuple[str, Table]:
    """The title and table of one range in the view its table type and ``layout`` call for."""
    inside = _range_points(read_range, points)
    runs = _runs(inside, readings)
    title = f"unit {unit} {read_range.describe()}"
    if read_range.register_type.is_bit_table:
        return title, _bit_table(runs, readings)
    if layout.as_type is None:
        title += f" (byte order {layout.byte_order.value})"
        return title, _overview_table(read_range, layout, runs, readings)
    title += f" as {layout.as_type.value} (byte order {layout.byte_order.value}"
    if _REGISTERS_OF.get(layout.as_type, 1) > 1:
        title += f", word order {layout.word_order.value}"
    return title + ")", _typed_table(layout, runs, readings)


def _bad_cell(reason: str) -> Text:
    return Text(reason, style="red")


def _bit_table(runs: Sequence[_Run], readings: dict[str, Reading]) -> Table:
    """Bits in rows of 16, first address leftmost, grouped by four."""
    table = Table()
    table.add_column("address", justify="right")
    table.add_column("bits (first address leftmost)")
    row: list[ModbusPoint] = []

    def flush() -> None:
        if row:
            bits = "".join("1" if readings[p.tag].value else "0" for p in row)
            grouped = " ".join(bits[i : i + 4] for i in range(0, len(bits), 4))
            table.add_row(_Run(tuple(row), None).label, grouped)
            row.clear()

    for run in runs:
        if run.reason is not None:
            flush()
            table.add_row(run.label, _bad_cell(run.reason))
            continue
        row.append(run.points[0])
        if len(row) == _BITS_PER_ROW:
            flush()
    flush()
    return table


def _order_name(byte_order: ByteOrder, word_order: WordOrder) -> str:
    """``ABCD``/``CDAB``/``BADC``/``DCBA``: the usual names of a 32-bit layout (A = MSB)."""
    names = {
        (ByteOrder.BIG, WordOrder.BIG): "ABCD",
        (ByteOrder.BIG, WordOrder.LITTLE): "CDAB",
        (ByteOrder.LITTLE, WordOrder.BIG): "BADC",
        (ByteOrder.LITTLE, WordOrder.LITTLE): "DCBA",
    }
    return names[(byte_order, word_order)]


def _overview_table(
    read_range: ReadRange,
    layout: Layout,
    runs: Sequence[_Run],
    readings: dict[str, Reading],
) -> Table:
    """Each register as hex, uint16, int16 and text; each pair as float32 in both word orders.

    Pairs start at the range's first address; start the range one later to see the others.
    """
    word_orders = (WordOrder.BIG, WordOrder.LITTLE)
    table = Table()
    for name in ("address", "hex", "uint16", "int16", "text"):
        table.add_column(name, justify="left" if name in ("hex", "text") else "right")
    for word_order in word_orders:
        table.add_column(f"float32 {_order_name(layout.byte_order, word_order)}", justify="right")
    words = {
        point.address: int(readings[point.tag].raw[0])  # type: ignore[index]  # uint16 raw
        for run in runs
        if run.reason is None
        for point in run.points
    }
    for run in runs:
        if run.reason is not None:
            table.add_row(run.label, _bad_cell(run.reason))
            continue
        address = run.points[0].address
        word = words[address]
        signed = word - 0x10000 if word & 0x8000 else word
        pair = (words.get(address), words.get(address + 1))
        starts_pair = (address - read_range.first) % 2 == 0 and None not in pair
        floats = [
            _float32_text([w for w in pair if w is not None], layout.byte_order, order)
            if starts_pair
            else ""
            for order in word_orders
        ]
        table.add_row(
            str(address),
            f"{word:04X}",
            str(word),
            str(signed),
            _ascii(word, layout.byte_order),
            *floats,
        )
    return table


def _float32_text(pair: Sequence[int], byte_order: ByteOrder, word_order: WordOrder) -> str:
    raw_bytes = registers_to_bytes(pair, byte_order, word_order)
    number: float = struct.unpack(">f", raw_bytes)[0]
    return _number_text(number, DataType.FLOAT32)


def _ascii(word: int, byte_order: ByteOrder) -> str:
    """The register's two bytes as text, ``.`` for what is not printable ASCII."""
    pair = word.to_bytes(2, byte_order.value)
    return "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in pair)


def _number_text(value: object, data_type: DataType) -> str:
    """Floats with the digits their type carries (7 for float32, 15 for float64)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        digits = 7 if data_type is DataType.FLOAT32 else 15
        return f"{value:.{digits}g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _typed_table(layout: Layout, runs: Sequence[_Run], readings: dict[str, Reading]) -> Table:
    """One row per ``--as`` value: its registers in hex and the decoded value."""
    table = Table()
    table.add_column("address", justify="right")
    table.add_column("hex")
    table.add_column("value", justify="right")
    for run in runs:
        point = run.points[0]
        reading = readings[point.tag]
        raw = reading.raw if isinstance(reading.raw, tuple) else ()
        hex_words = " ".join(f"{int(word):04X}" for word in raw)
        if run.reason is not None and not raw:
            table.add_row(run.label, _bad_cell(run.reason))
        elif run.reason is not None:
            table.add_row(run.label, hex_words, _bad_cell(run.reason))
        else:
            shown = _number_text(reading.value, point.data_type)
            if point.data_type is not layout.as_type:
                shown += f" ({point.data_type.value}, left over)"
            table.add_row(run.label, hex_words, shown)
    return table


def _range_hint(
    read_range: ReadRange, points: Sequence[ModbusPoint], readings: dict[str, Reading]
) -> str | None:
    """Advice when a whole range failed in a way that usually means a numbering mistake."""
    inside = _range_points(read_range, points)
    reasons = {_reason(readings[p.tag]) for p in inside if readings[p.tag].quality is Quality.BAD}
    all_bad = all(readings[p.tag].quality is Quality.BAD for p in inside)
    if not all_bad or len(reasons) != 1:
        return None
    reason = reasons.pop()
    manual_first = _MANUAL_NUMBERING.get(read_range.register_type)
    numbered_as_manual = manual_first is not None and read_range.first >= manual_first - 1
    if reason.startswith("modbus exception 2") and manual_first and numbered_as_manual:
        return (
            f"hint: addresses here are 0-based protocol addresses; a manual's {manual_first} is "
            f"{read_range.register_type.value} 0 (try {read_range.register_type.value}:"
            f"{max(read_range.first - manual_first, 0)}-{max(read_range.last - manual_first, 0)})"
        )
    if reason.startswith("modbus exception 2"):
        return "hint: the device defines none of these addresses; check the register map"
    if reason.startswith("modbus exception 1"):
        return (
            f"hint: the device does not serve {read_range.register_type.value} reads "
            "(illegal function); try the other register table"
        )
    return None
