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

This module runs the probe; :mod:`.modbus_ranges` parses what to read and
:mod:`.modbus_tables` draws the tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from rich.console import Console
from rich.text import Text

from agent.sources.base import Quality, Reading
from agent.sources.modbus import (
    ModbusConnection,
    ModbusPoint,
    ModbusSource,
    RtuLink,
    TcpLink,
)

from .modbus_ranges import (
    Layout,
    ProbeUsageError,
    ReadRange,
    parse_layout,
    parse_read_range,
    parse_tcp_target,
    range_points,
)
from .modbus_tables import failure_reason, range_hint, range_table
from .options import DEFAULT_READ, EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE
from .quiet import quiet_logs

__all__ = ["MAX_PROBE_ADDRESSES", "probe_modbus"]

#: Table entries one probe may read in total: a typo such as ``holding:0-65535`` on a device
#: with holes would otherwise cost tens of thousands of single-address requests.
MAX_PROBE_ADDRESSES = 4000
_PARITY = {"none": "N", "even": "E", "odd": "O"}


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
        title, table = range_table(read_range, unit, layout, points, readings)
        console.print(Text(title, style="bold"))
        console.print(table)
        if hint := range_hint(read_range, points, readings):
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


def _link_failure(readings: Sequence[Reading]) -> str | None:
    """The one reason every read failed for, unless the device answered anything at all."""
    if any(reading.quality is not Quality.BAD for reading in readings):
        return None
    reasons = {failure_reason(reading) for reading in readings}
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
