"""A table to export: named columns of one kind each, rows of plain values.

What a reviewer files is a table (a province's platforms, a platform's enterprises, an
enterprise's KPIs). The builders (:mod:`.documents`, the web app's services) fill a
:class:`Table` from the evidence documents or the web's views; the writers (:mod:`.xlsx`,
:mod:`.delimited`) decide how each kind looks in a workbook or a CSV file. A value stays the
figure of the JSON it came from: money in fen (shown as yuan), shares as fractions (shown as
percentages), changes in the target's unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CellKind", "Column", "Table", "Value"]

#: How a column's values are shown: ``text``; ``int``; ``number`` (a decimal figure);
#: ``share`` (a fraction 0..1, shown as a percentage); ``fen`` (an integer amount in fen,
#: shown as yuan with two decimals); ``date``; ``bool``; ``change`` (a number in the unit the
#: row's ``unit`` column names: ``pp`` percentage points or ``%`` percent of the baseline).
CellKind = Literal["text", "int", "number", "share", "fen", "date", "bool", "change"]

#: What a row may hold in a cell.
Value = str | int | float | bool | dt.date | None


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key (as in the JSON), its Chinese label and its kind."""

    key: str
    label_zh: str
    kind: CellKind = "text"
    width: int = 14


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table: columns, rows (one value per column), and lines about it.

    ``name`` names the sheet (at most 31 characters) and the download; ``about`` holds
    ``(label, value)`` lines shown above the table in a workbook (plan, digest, as of ...).
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: Sequence[tuple[Value, ...]]
    about: tuple[tuple[str, Value], ...] = field(default=())

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.name} row {number}: {len(row)} values, expected "
                    f"{len(self.columns)} (one per column)"
                )
        if len(self.name) > 31:
            raise ValueError(f"table name {self.name!r}: at most 31 characters (a sheet name)")

    def index(self, key: str) -> int:
        """The position of the column with this key; raises KeyError if there is none."""
        for position, column in enumerate(self.columns):
            if column.key == key:
                return position
        raise KeyError(key)
