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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
from contract.configfile.yamlload import KeyPath

if TYPE_CHECKING:
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["CellRef", "SheetData", "read_sheets"]

#: Most data rows read per sheet: a batch has at most 5 x 3 platforms of a few dozen enterprises.
MAX_ROWS = 5000


@dataclass(frozen=True, slots=True)
class CellRef:
    """Where a value is: sheet title, 1-based row, column letter, and the column's key."""

    sheet: str
    row: int
    column: str
    key: str

    def __str__(self) -> str:
        return f"sheet {self.sheet!r} row {self.row} column {self.column}"


@dataclass
class SheetData:
    """Everything read from the workbook: the plan's data, cells by key path, problems."""

    data: dict[str, Any] = field(default_factory=dict)
    #: Cells in reading order; a key path maps to an index into it (MarkedData's "line").
    cells: list[CellRef] = field(default_factory=list)
    lines: dict[KeyPath, int] = field(default_factory=dict)
    #: (cell index, message) of what the reader found wrong.
    problems: list[tuple[int, str]] = field(default_factory=list)

    def cell(self, ref: CellRef, *paths: KeyPath) -> int:
        """Record a cell (1-based index, never 0) for the key paths whose value it holds."""
        self.cells.append(ref)
        index = len(self.cells)
        for path in paths:
            self.lines.setdefault(path, index)
        return index

    def problem(self, ref: CellRef, message: str) -> None:
        """Record a problem at a cell."""
        self.problems.append((self.cell(ref), message))


@dataclass(frozen=True, slots=True)
class _Row:
    sheet: Sheet
    number: int
    values: dict[str, object]
    refs: dict[str, CellRef]
    #: Keys of the columns whose cell is blank in this row.
    blanks: frozenset[str]


def read_sheets(workbook: Workbook) -> SheetData:
    """The plan's data from an opened workbook (openpyxl, formulas kept, not evaluated)."""
    found = SheetData()
    rows: dict[str, list[_Row]] = {sheet.name_en: [] for sheet in SHEETS}
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
    _Assembler(found, rows).assemble()
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


def _rows(worksheet: Worksheet, sheet: Sheet, found: SheetData) -> Iterator[_Row]:
    columns = _columns(worksheet, sheet, found)
    last = worksheet.max_row or 0
    if last - DATA_ROW + 1 > MAX_ROWS:
        found.problem(
            CellRef(sheet.title, DATA_ROW, "A", ""),
            f"{last - DATA_ROW + 1} rows, more than the limit of {MAX_ROWS} per sheet",
        )
        return
    for number in range(DATA_ROW, last + 1):
        row = _row(worksheet, sheet, number, columns, found)
        if row is not None:
            yield row


def _row(
    worksheet: Worksheet, sheet: Sheet, number: int, columns: dict[int, Column], found: SheetData
) -> _Row | None:
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
    return _Row(sheet, number, values, refs, frozenset(blanks))


def _formula(value: object) -> str:
    text = getattr(value, "text", value)  # an ArrayFormula keeps its text in .text
    return (
        f"a formula ({str(text)[:60]}): the plan holds values, not formulas; copy the cell "
        "and paste it as values"
    )


class _Assembler:
    """Rows to the plan's nested data, each value's key path mapped to its cell."""

    def __init__(self, found: SheetData, rows: dict[str, list[_Row]]) -> None:
        self.found = found
        self.rows = rows
        self.data = found.data
        #: Enterprise id -> its key path and data, one per row holding that id.
        self.enterprises: dict[str, list[tuple[KeyPath, dict[str, Any], int]]] = {}
        #: Ids held by more than one row of their sheet.
        self.duplicated: set[str] = set()

    def put(self, row: _Row, target: dict[str, Any], base: KeyPath, keys: dict[str, str]) -> None:
        """Copy the row's ``column -> field`` values into ``target`` at ``base``."""
        for column_key, field_path in keys.items():
            path: KeyPath = (*base, *field_path.split("."))
            ref = row.refs.get(column_key, CellRef(row.sheet.title, row.number, "A", column_key))
            self.found.cell(ref, path, *([path[:-1]] if "." in field_path else []))
            if column_key in row.values:
                _set(target, field_path.split("."), row.values[column_key])

    def row_cell(self, row: _Row, *paths: KeyPath) -> None:
        """Record the row's first column for whole-row paths (an item, its lists)."""
        key = row.sheet.columns[0].key if row.sheet.parent is None else row.sheet.columns[1].key
        ref = row.refs.get(key, CellRef(row.sheet.title, row.number, "A", key))
        self.found.cell(ref, *paths)

    def assemble(self) -> None:
        self._plan()
        self._sub_industries()
        self._platforms()
        self._children("Targets", self._target)
        self._children("Rectifications", self._rectification)
        self._children("Agents", self._agent)

    def _plan(self) -> None:
        plan_rows = self.rows["Plan"]
        for extra in plan_rows[1:]:
            self.found.problem(
                CellRef(extra.sheet.title, extra.number, "A", ""),
                f"a second plan row: the plan sheet holds one row (row {DATA_ROW})",
            )
        if not plan_rows:
            self.found.cell(CellRef(SHEETS[0].title, DATA_ROW, "A", ""), ())
            return
        row = plan_rows[0]
        self.row_cell(row, ())
        keys = {"province_code": "province.code", "province_name": "province.name"}
        self.put(row, self.data, (), {**keys, "batch_year": "batch_year"})
        if "implementation_start" in row.values or "implementation_end" in row.values:
            period = {
                "implementation_start": "implementation_period.start",
                "implementation_end": "implementation_period.end",
            }
            self.put(row, self.data, (), period)

    def _list_anchor(self, name: str, key: str) -> None:
        sheet = next(s for s in SHEETS if s.name_en == name)
        self.found.cell(CellRef(sheet.title, DATA_ROW, "A", ""), (key,))

    def _sub_industries(self) -> None:
        self._list_anchor("SubIndustries", "sub_industries")
        items: list[Any] = []
        seen: dict[str, list[Any]] = {}
        for index, row in enumerate(self.rows["SubIndustries"]):
            self._first_holder(seen, row, (index, row.number))
            item: dict[str, Any] = {}
            self.row_cell(row, ("sub_industries", index))
            self.put(
                row, item, ("sub_industries", index), {k: k for k in ("id", "name", "category")}
            )
            items.append(item)
        self.data["sub_industries"] = items

    def _platforms(self) -> None:
        self._list_anchor("Platforms", "platforms")
        platforms: dict[str, list[tuple[int, dict[str, Any], int]]] = {}
        items: list[Any] = []
        for index, row in enumerate(self.rows["Platforms"]):
            base: KeyPath = ("platforms", index)
            item: dict[str, Any] = {"enterprises": []}
            self.row_cell(row, base, (*base, "enterprises"))
            self.put(row, item, base, {k: k for k in ("id", "name", "sub_industry")})
            self._first_holder(platforms, row, (index, item, row.number))
            items.append(item)
        self.data["platforms"] = items
        for row in self.rows["Enterprises"]:
            parent = self._parent(row, "platform", platforms)
            if parent is not None:
                self._enterprise(row, parent[0], parent[1])

    def _parent(self, row: _Row, key: str, known: dict[str, list[Any]]) -> Any:
        """The one parent row named by the row's ``key`` cell, or None (a problem recorded)."""
        value = row.values.get(key)
        if value is None:  # blank, or already a problem at its cell
            if key in row.blanks:
                self.found.problem(row.refs[key], f"missing: the id of the {key} of this row")
            return None
        if str(value) not in known:
            sheet = "平台 Platforms" if key == "platform" else "企业 Enterprises"
            self.found.problem(
                row.refs[key],
                f"got {str(value)!r}, expected the id of a {key} on sheet {sheet!r}",
            )
            return None
        # With one id on two rows the first holds the children: the second row's id cell
        # already says so (_first_holder).
        return known[str(value)][0]

    def _enterprise(self, row: _Row, platform_index: int, platform: dict[str, Any]) -> None:
        index = len(platform["enterprises"])
        base: KeyPath = ("platforms", platform_index, "enterprises", index)
        item: dict[str, Any] = {"targets": {}}
        self.row_cell(row, base, (*base, "targets"), (*base, "agents"), (*base, "rectifications"))
        fields = {k: k for k in ("id", "name", "industry", "retrofit_cost_cny", "solution")}
        fields |= {"timezone": "timezone", "go_live": "go_live"}
        fields |= {
            f"{p}_{e}": f"{p}.{e}" for p in ("baseline", "reporting") for e in ("start", "end")
        }
        self.put(row, item, base, fields)
        platform["enterprises"].append(item)
        self._first_holder(self.enterprises, row, (base, item, row.number))

    def _first_holder(
        self, known: dict[str, list[Any]], row: _Row, holder: tuple[Any, ...]
    ) -> None:
        """Record a parent row by id; a second row with the same id is a problem at its id."""
        if "id" not in row.values:
            return
        key = str(row.values["id"])
        holders = known.setdefault(key, [])
        if holders:
            kind = {"Platforms": "platform", "Enterprises": "enterprise"}.get(
                row.sheet.name_en, "sub-industry"
            )
            self.duplicated.add(key)
            self.found.problem(
                row.refs["id"],
                f"{kind} id {key!r} is also on row {holders[0][-1]} of this sheet: ids are "
                f"unique across the plan, and the rows of other sheets that name {key!r} are "
                f"read as row {holders[0][-1]}'s",
            )
        holders.append(holder)

    def _children(self, name: str, add: Any) -> None:
        for row in self.rows[name]:
            parent = self._parent(row, "enterprise", self.enterprises)
            if parent is not None:
                add(row, parent[0], parent[1])

    def _target(self, row: _Row, base: KeyPath, enterprise: dict[str, Any]) -> None:
        kpi = row.values.get("kpi")
        if kpi is None:
            if "kpi" in row.blanks:
                self.found.problem(row.refs["kpi"], "missing: the KPI this target is for")
            return
        targets: dict[str, Any] = enterprise["targets"]
        if str(kpi) in targets:
            if str(row.values.get("enterprise")) not in self.duplicated:  # said at its id
                self.found.problem(row.refs["kpi"], f"a second target for {kpi} of this enterprise")
            return
        path: KeyPath = (*base, "targets", str(kpi))
        self.found.cell(row.refs["kpi"], path)
        item: dict[str, Any] = {}
        columns = ("direction", "size", "unit", "required", "boundary", "meters", "drivers")
        self.put(row, item, path, {key: key for key in columns})
        targets[str(kpi)] = item

    def _rectification(self, row: _Row, base: KeyPath, enterprise: dict[str, Any]) -> None:
        items = enterprise.setdefault("rectifications", [])
        path: KeyPath = (*base, "rectifications", len(items))
        item: dict[str, Any] = {}
        self.row_cell(row, path)
        fields = {
            "date": "date",
            "reporting_start": "reporting.start",
            "reporting_end": "reporting.end",
        }
        self.put(row, item, path, fields)
        items.append(item)

    def _agent(self, row: _Row, base: KeyPath, enterprise: dict[str, Any]) -> None:
        items = enterprise.setdefault("agents", [])
        path: KeyPath = (*base, "agents", len(items))
        item: dict[str, Any] = {}
        self.row_cell(row, path)
        self.put(row, item, path, {k: k for k in ("id", "public_key", "devices")})
        items.append(item)


def _set(target: dict[str, Any], keys: list[str], value: object) -> None:
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = value
