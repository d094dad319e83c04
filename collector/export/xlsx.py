"""Tables as an ``.xlsx`` workbook: numbers as numbers, with formats; text never a formula.

One sheet per table: a title, the ``about`` lines, then the header (Chinese label over the
JSON key) and the rows. Each value keeps the figure of its JSON: shares stay fractions shown
as percentages (``0.0%``), money stays exact (fen / 100, shown ``#,##0.00``), changes keep the
target's unit, shown with it (``5.20 pp``, ``-8.00%``: a literal sign, never a scaling), dates
are date cells. Text is neutralised (:func:`~collector.export.injection.neutralise`) and
written as a text cell.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from collector.export.injection import neutralise
from collector.export.table import Table, Value

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["NUMBER_FORMATS", "workbook_bytes"]

#: Number format per column kind (``change`` is chosen per row, by its unit).
NUMBER_FORMATS = {
    "int": "0",
    "number": "0.000",
    "share": "0.0%",
    "fen": "#,##0.00",
    "date": "yyyy-mm-dd",
}
_CHANGE_FORMATS = {"pp": '0.00" pp"', "%": '0.00"%"'}


def workbook_bytes(tables: Sequence[Table]) -> bytes:
    """The tables as an ``.xlsx`` workbook, one sheet each, in order."""
    from openpyxl import Workbook  # openpyxl loads only when a workbook is written

    workbook = Workbook()
    first = workbook.active
    if first is not None:
        workbook.remove(first)
    for table in tables:
        _sheet(workbook.create_sheet(table.name), table)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(worksheet: Worksheet, row: int, column: int) -> Cell:
    from openpyxl.cell.cell import Cell

    cell = worksheet.cell(row, column)
    if not isinstance(cell, Cell):  # only merged ranges hold others; these sheets have none
        raise TypeError(f"{worksheet.title} row {row} column {column} is merged")
    return cell


def _sheet(worksheet: Worksheet, table: Table) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    _text(_cell(worksheet, 1, 1), table.title).font = Font(bold=True, size=13)
    row = 2
    for label, value in table.about:
        _text(_cell(worksheet, row, 1), label)
        _put(_cell(worksheet, row, 2), "date" if isinstance(value, dt.date) else "text", value)
        row += 1
    header = row + 1
    for number, column in enumerate(table.columns, start=1):
        _text(_cell(worksheet, header, number), column.label_zh).font = Font(bold=True)
        _text(_cell(worksheet, header + 1, number), column.key).font = Font(italic=True)
        worksheet.column_dimensions[get_column_letter(number)].width = column.width
    unit_at = _unit_column(table)
    for offset, values in enumerate(table.rows, start=header + 2):
        unit = values[unit_at] if unit_at is not None else None
        for number, (column, value) in enumerate(zip(table.columns, values, strict=True), 1):
            cell = _cell(worksheet, offset, number)
            _put(cell, column.kind, value)
            if column.kind == "change" and isinstance(unit, str):
                cell.number_format = _CHANGE_FORMATS.get(unit, "0.00")
    worksheet.freeze_panes = f"A{header + 2}"


def _unit_column(table: Table) -> int | None:
    try:
        return table.index("unit")
    except KeyError:
        return None


def _text(cell: Cell, text: str) -> Cell:
    cell.value = neutralise(text)
    cell.data_type = "s"  # never a formula, whatever the text
    return cell


def _put(cell: Cell, kind: str, value: Value) -> None:
    if value is None:
        return
    if isinstance(value, str):
        _text(cell, value)
        return
    if kind == "fen" and isinstance(value, int) and not isinstance(value, bool):
        cell.value = value / 100  # exact to the fen: an amount below 1e13 yuan has 15 digits
    else:
        cell.value = value
    number_format = NUMBER_FORMATS.get(kind)
    if number_format is not None and not isinstance(value, bool):
        cell.number_format = number_format
