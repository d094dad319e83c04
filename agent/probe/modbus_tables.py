"""The tables ``retrofit-agent probe modbus`` prints: one per read range, in the view it calls for.

Bit tables (coils, discrete inputs) in rows of 16; registers as an overview (hex, uint16, int16,
text, float32 in both word orders) or, with ``--as``, one row per decoded value. Consecutive
addresses failing for the same reason share one row. Rendering only: the readings come in.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

from agent.sources.base import Quality, Reading
from agent.sources.modbus import (
    ByteOrder,
    DataType,
    ModbusPoint,
    RegisterType,
    WordOrder,
    registers_to_bytes,
)

from .modbus_ranges import REGISTERS_OF, Layout, ReadRange

__all__ = ["failure_reason", "range_hint", "range_table"]

_BITS_PER_ROW = 16
#: Manuals often number holding registers from 40001 and input registers from 30001.
_MANUAL_NUMBERING = {RegisterType.HOLDING: 40001, RegisterType.INPUT: 30001}


def failure_reason(reading: Reading) -> str:
    """The reading's failure without the source's ``(skipped)`` mark for a silent unit."""
    return (reading.reason or "bad value").removesuffix(" (skipped)")


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
        reason = failure_reason(reading)
        previous = runs[-1] if runs else None
        if previous is not None and previous.reason == reason and reading.raw is None:
            runs[-1] = _Run((*previous.points, point), reason)
        else:
            runs.append(_Run((point,), reason))
    return runs


def range_table(
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
    if REGISTERS_OF.get(layout.as_type, 1) > 1:
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


def range_hint(
    read_range: ReadRange, points: Sequence[ModbusPoint], readings: dict[str, Reading]
) -> str | None:
    """Advice when a whole range failed in a way that usually means a numbering mistake."""
    inside = _range_points(read_range, points)
    reasons = {
        failure_reason(readings[p.tag]) for p in inside if readings[p.tag].quality is Quality.BAD
    }
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
