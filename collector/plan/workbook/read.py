"""Reading the plan workbook: sheets to the plan's nested data, each value with its cell.

The reader builds the same data a YAML file gives (``{"province": {...}, "platforms": [...]}``)
and, for every key path, the cell it came from. The plan model and the programme's rules then
run exactly as for YAML (:mod:`collector.plan.file`), and each issue's key path is turned back
into ``sheet, row, column``. What only a spreadsheet can do wrong (merged cells, hidden sheets,
rows or columns, formulas, text where a date belongs, unknown sheets or columns) is found
here, each at its cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from collector.plan.workbook.assemble import assemble
from collector.plan.workbook.cells import CellProblem, cell_value, is_blank
from collector.plan.workbook.layout import (
    DATA_ROW,
    HEADER_KEY_ROW,
    INSTRUCTIONS,
    SHEETS,
    Column,
    Sheet,
    sheet_named,
)
from collector.plan.workbook.sheetdata import CellRef, Row, SheetData

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["MAX_COLUMNS", "MAX_ROWS", "read_sheets"]

#: Most data rows read per sheet: a batch has at most 5 x 3 platforms of a few dozen enterprises.
MAX_ROWS = 5000
#: Most columns read per sheet: the widest sheet has 12.
MAX_COLUMNS = 50


def read_sheets(workbook: Workbook) -> SheetData:
    """The plan's data from an opened workbook (openpyxl, formulas kept, not evaluated)."""
    found = SheetData()
    rows: dict[str, list[Row]] = {sheet.name_en: [] for sheet in SHEETS}
    for worksheet in workbook.worksheets:
        sheet = _known_sheet(worksheet, found)
        if sheet is not None:
            rows[sheet.name_en] = list(_rows(worksheet, sheet, found))
    for sheet in SHEETS:
        if sheet.title not in workbook.sheetnames:
            found.problem(
                CellRef(sheet.title, 1, "A", ""),
                f"sheet {sheet.title!r} is missing; start from `retrofit-collector plan template`",
            )
    assemble(found, rows)
    return found


def _known_sheet(worksheet: Worksheet, found: SheetData) -> Sheet | None:
    title = worksheet.title
    here = CellRef(title, 1, "A", "")
    if worksheet.sheet_state != "visible":
        found.problem(
            here,
            f"the sheet is {worksheet.sheet_state}: a plan has no hidden content; unhide the "
            "sheet and move what it holds into the plan's sheets, or delete it",
        )
        return None
    if title == INSTRUCTIONS:
        return None
    sheet = sheet_named(title)
    if sheet is None:
        known = ", ".join(repr(s.title) for s in SHEETS)
        found.problem(here, f"unknown sheet, expected only {INSTRUCTIONS!r} and {known}")
        return None
    for merged in worksheet.merged_cells.ranges:
        start = CellRef(title, merged.min_row, _letter(merged.min_col), "")
        found.problem(
            start,
            f"merged cells {merged.coord}: unmerge them and put the value in each cell",
        )
    return sheet


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter  # openpyxl loads on use

    return get_column_letter(column)


def _columns(worksheet: Worksheet, sheet: Sheet, found: SheetData) -> dict[int, Column]:
    """Column number -> column, from the key row; unknown and missing columns are problems."""
    by_number: dict[int, Column] = {}
    for number in range(1, (worksheet.max_column or 0) + 1):
        raw = worksheet.cell(HEADER_KEY_ROW, number).value
        if is_blank(raw):
            continue
        key = str(raw).strip()
        ref = CellRef(sheet.title, HEADER_KEY_ROW, _letter(number), key)
        try:
            column = sheet.column(key)
        except KeyError:
            known = ", ".join(c.key for c in sheet.columns)
            found.problem(ref, f"unknown column {key!r}, expected one of: {known}")
            continue
        if column in by_number.values():
            found.problem(ref, f"column {key!r} appears twice")
            continue
        if worksheet.column_dimensions[_letter(number)].hidden:
            found.problem(ref, "the column is hidden: unhide it (a plan has no hidden content)")
        by_number[number] = column
    for column in sheet.columns:
        if column not in by_number.values():
            found.problem(
                CellRef(sheet.title, HEADER_KEY_ROW, "A", column.key),
                f"column {column.key!r} is missing from row {HEADER_KEY_ROW} (the keys row)",
            )
    return by_number


def _rows(worksheet: Worksheet, sheet: Sheet, found: SheetData) -> Iterator[Row]:
    # The sheet's extent counts cells that hold only a format, so a column formatted to the
    # bottom of the sheet reaches row 1,048,576: refused here, before a cell is visited.
    last, width = worksheet.max_row or 0, worksheet.max_column or 0
    if last - DATA_ROW + 1 > MAX_ROWS or width > MAX_COLUMNS:
        found.problem(
            CellRef(sheet.title, DATA_ROW, "A", ""),
            f"the sheet reaches row {last} and column {_letter(width)} (cells there hold a "
            f"value or a format); at most {MAX_ROWS} data rows and {MAX_COLUMNS} columns are "
            "read: delete the rows and columns beyond the data",
        )
        return
    columns = _columns(worksheet, sheet, found)
    for number in range(DATA_ROW, last + 1):
        row = _row(worksheet, sheet, number, columns, found)
        if row is not None:
            yield row


def _row(
    worksheet: Worksheet, sheet: Sheet, number: int, columns: dict[int, Column], found: SheetData
) -> Row | None:
    values: dict[str, object] = {}
    refs: dict[str, CellRef] = {}
    blanks: set[str] = set()
    blank = True
    for column_number in range(1, (worksheet.max_column or 0) + 1):
        cell = worksheet.cell(number, column_number)
        column = columns.get(column_number)
        ref = CellRef(sheet.title, number, _letter(column_number), column.key if column else "")
        if is_blank(cell.value):
            if column is not None:
                refs[column.key] = ref
                blanks.add(column.key)
            continue
        blank = False
        if column is None:
            found.problem(
                ref, "a value in a column without a key in row 2: delete it or add the key"
            )
            continue
        refs[column.key] = ref
        if cell.data_type == "f":
            found.problem(ref, _formula(cell.value))
            continue
        if cell.data_type == "e":
            found.problem(ref, f"an error value ({cell.value}), expected a value")
            continue
        try:
            values[column.key] = cell_value(column.kind, cell.value)
        except CellProblem as exc:
            found.problem(ref, str(exc))
    if blank:
        return None
    if worksheet.row_dimensions[number].hidden:
        found.problem(
            CellRef(sheet.title, number, "A", ""),
            "the row is hidden: unhide it (a plan has no hidden content)",
        )
    return Row(sheet, number, values, refs, frozenset(blanks))


def _formula(value: object) -> str:
    text = getattr(value, "text", value)  # an ArrayFormula keeps its text in .text
    return (
        f"a formula ({str(text)[:60]}): the plan holds values, not formulas; copy the cell "
        "and paste it as values"
    )
