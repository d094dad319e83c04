"""What the workbook reader found: values by key path, each with its cell, and problems.

Shared by the sheet reader (:mod:`.read`), the assembler of the plan's data (:mod:`.assemble`)
and the loader (:mod:`.load`), which turns a key path back into ``sheet, row, column``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector.plan.workbook.layout import Sheet
from contract.configfile.yamlload import KeyPath

__all__ = ["CellRef", "Row", "SheetData"]


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
class Row:
    """One data row: its sheet and number, the values read, each column's cell."""

    sheet: Sheet
    number: int
    values: dict[str, object]
    refs: dict[str, CellRef]
    #: Keys of the columns whose cell is blank in this row.
    blanks: frozenset[str]
