"""``retrofit-agent probe s7``: read a byte range of an S7 data block (or M, I, Q) and show
each offset under every S7 type, so the installer can tell where a REAL or a DINT sits.

An installer usually has the PLC programmer's word ("the counter is in DB10 somewhere at the
start") rather than a table of offsets. The probe reads the range once through the agent's own
:class:`~agent.sources.s7.S7Source` (the same connection settings, PDU-sized reads and failure
wording as ``check-config`` and the running agent) and prints one row per byte: hex, the bits,
BYTE, and at each even offset WORD, INT, DWORD, DINT, REAL and LREAL where they fit, plus a
STRING where the two header bytes and the characters look like one. A range the CPU refuses
is re-read byte by byte (the source does that for a refused range), so the table shows which
bytes exist; a CPU that refuses every read gets the usual causes named: PUT/GET access not
enabled, or an optimized block without absolute addresses.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.sources.base import Quality, Reading
from agent.sources.s7 import (
    S7Connection,
    S7ConnectionType,
    S7DataType,
    S7MemoryArea,
    S7Point,
    S7Source,
)

from .modbus_ranges import ProbeUsageError
from .options import EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE
from .quiet import quiet_logs

__all__ = ["MAX_PROBE_BYTES", "parse_s7_range", "probe_s7"]

#: Bytes one probe may read: a typo such as ``db1:0-65535`` would read a whole PLC.
MAX_PROBE_BYTES = 4096
_RANGE_RE = re.compile(
    r"^(?:db(?P<db>\d{1,5})|(?P<area>[miq]|merker|input|output)):(?P<first>\d{1,5})-(?P<last>\d{1,5})$"
)
_AREAS = {"m": "merker", "i": "input", "q": "output"}
_TYPES = {"pg": S7ConnectionType.PG, "op": S7ConnectionType.OP, "basic": S7ConnectionType.BASIC}
_WIDE: tuple[tuple[str, str, int], ...] = (
    ("WORD", ">H", 2),
    ("INT", ">h", 2),
    ("DWORD", ">I", 4),
    ("DINT", ">i", 4),
    ("REAL", ">f", 4),
    ("LREAL", ">d", 8),
)


def parse_s7_range(text: str) -> tuple[S7MemoryArea, int, int, int]:
    """``db10:0-31``, ``m:0-15``, ``i:0-3``, ``q:0-3`` to (area, db, first, last).

    Raises ProbeUsageError for anything else, a reversed range or one past the probe's limit.
    """
    match = _RANGE_RE.fullmatch(text.strip().lower())
    if match is None:
        raise ProbeUsageError(
            f"--read {text!r}: expected DB<n>:FIRST-LAST, M:FIRST-LAST, I:FIRST-LAST or "
            "Q:FIRST-LAST in bytes, e.g. db10:0-31"
        )
    first, last = int(match["first"]), int(match["last"])
    db = int(match["db"]) if match["db"] else 0
    if last < first or last > 65535 or (match["db"] and not 1 <= db <= 65535):
        raise ProbeUsageError(f"--read {text!r}: expected FIRST <= LAST <= 65535 and DB 1..65535")
    if last - first + 1 > MAX_PROBE_BYTES:
        raise ProbeUsageError(
            f"--read {text!r}: got {last - first + 1} bytes, expected at most {MAX_PROBE_BYTES} "
            "per probe; read the block in parts"
        )
    area = (
        S7MemoryArea.DB if match["db"] else S7MemoryArea(_AREAS.get(match["area"], match["area"]))
    )
    return area, db, first, last


def probe_s7(
    target: str,
    read: str,
    console: Console,
    *,
    rack: int = 0,
    slot: int = 1,
    connection_type: str = "op",
    timeout_s: float = 2.0,
) -> int:
    """Read the ``read`` range of the PLC at ``target`` (``HOST[:PORT]``) and print the table.

    Returns the exit code: 0 the PLC answered, 2 a usage error, 3 unreachable or every read
    refused. Never raises for a user mistake or a PLC fault.
    """
    try:
        connection = _connection(target, rack, slot, connection_type, timeout_s)
        area, db, first, last = parse_s7_range(read)
    except ProbeUsageError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False)
        return EXIT_USAGE
    points = [
        S7Point(f"b{offset}", area, db, offset, S7DataType.BYTE)
        for offset in range(first, last + 1)
    ]
    with quiet_logs("agent.sources.s7", "snap7"):
        readings = asyncio.run(_read(connection, points))
    where = f"{connection.describe()} {area.describe(db)}"
    good = [r for r in readings if r.quality is Quality.GOOD]
    if not good:
        reason = readings[0].reason or "no answer"
        console.print(f"[red]error:[/red] {where}: {reason}", highlight=False)
        return EXIT_DEVICE_FAILED
    console.print(Text(f"{where} bytes {first}..{last}", style="bold"))
    console.print(_table(first, readings))
    if len(good) < len(readings):
        bad = next(r for r in readings if r.quality is Quality.BAD)
        console.print(
            f"{len(readings) - len(good)} bytes unreadable: {bad.reason}",
            style="yellow",
            highlight=False,
        )
    return EXIT_OK


def _connection(target: str, rack: int, slot: int, kind: str, timeout_s: float) -> S7Connection:
    host, _, port_text = target.strip().partition(":")
    try:
        port = int(port_text) if port_text else 102
    except ValueError:
        port = -1
    if not host or not 1 <= port <= 65535:
        raise ProbeUsageError(f"target {target!r}: expected HOST or HOST:PORT with PORT 1..65535")
    if kind not in _TYPES:
        raise ProbeUsageError(f"--type {kind!r}: expected pg, op or basic")
    if not 0 < timeout_s <= 60:
        raise ProbeUsageError(f"--timeout {timeout_s:g}: expected more than 0 and at most 60 s")
    try:
        return S7Connection(host, port, rack, slot, _TYPES[kind], max_gap=0, timeout_s=timeout_s)
    except ValueError as exc:
        raise ProbeUsageError(f"--rack/--slot: {exc}") from None


async def _read(connection: S7Connection, points: Sequence[S7Point]) -> list[Reading]:
    source = S7Source("probe", connection, points)
    try:
        return list(await source.read())
    finally:
        await source.close()


def _table(first: int, readings: Sequence[Reading]) -> Table:
    data = [
        r.raw if isinstance(r.raw, bytes) and r.quality is Quality.GOOD else None for r in readings
    ]
    table = Table(show_edge=False, pad_edge=False)
    for column in ("byte", "hex", "bits 7..0", "BYTE", *(name for name, _, _ in _WIDE), "STRING"):
        table.add_column(column, justify="right" if column != "STRING" else "left")
    for index, raw in enumerate(data):
        offset = first + index
        if raw is None:
            table.add_row(str(offset), "--", "", "", *([""] * len(_WIDE)), "")
            continue
        wide = [_wide(data, index, fmt, size) if offset % 2 == 0 else "" for _, fmt, size in _WIDE]
        table.add_row(
            str(offset), raw.hex(), f"{raw[0]:08b}", str(raw[0]), *wide, _string(data, index)
        )
    return table


def _span(data: Sequence[bytes | None], index: int, size: int) -> bytes | None:
    part = data[index : index + size]
    if len(part) < size or any(b is None for b in part):
        return None
    return b"".join(b for b in part if b is not None)


def _wide(data: Sequence[bytes | None], index: int, fmt: str, size: int) -> str:
    raw = _span(data, index, size)
    if raw is None:
        return ""
    (value,) = struct.unpack(fmt, raw)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _string(data: Sequence[bytes | None], index: int) -> str:
    """``STRING[n] 'text'`` where the header and characters look like an S7 STRING."""
    header = _span(data, index, 2)
    if header is None or not 0 < header[1] <= header[0]:
        return ""
    text = _span(data, index + 2, header[1])
    if text is None or not text.isascii() or not text.decode("ascii").isprintable():
        return ""
    return f"STRING[{header[0]}] {text.decode('ascii')!r}"
