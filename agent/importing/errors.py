"""What can go wrong in ``retrofit-agent import``, as data the command prints and exits on.

::

    ImportFailed                      (an AgentError)
    ├── ImportFileError               the CSV or mapping file cannot be read as a table: missing,
    │                                 too large, binary, not in the encoding, too many columns
    ├── MappingError                  the mapping does not fit the file or the device; ``issues``
    ├── BadRowsError                  rows that cannot be used; ``issues``, every one of them
    └── RefusedError                  the windows cannot go into the outbox: they overlap each
                                      other or stored windows, or the outbox has no room

Every message says where (file, row, column), what was given, and what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.errors import AgentError

__all__ = [
    "BadRowsError",
    "ImportFailed",
    "ImportFileError",
    "MappingError",
    "RefusedError",
    "RowIssue",
]


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One unusable value: its spreadsheet row (the header row is 1), its column, and why."""

    row: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = (
            f"row {self.row}" if self.column is None else f"row {self.row}, column {self.column}"
        )
        return f"{where}: {self.message}"


class ImportFailed(AgentError):
    """Base of every import error; ``str()`` is the complete message for the user."""


class ImportFileError(ImportFailed):
    """A file that cannot be read as a table (or a mapping): nothing was imported."""


class MappingError(ImportFailed):
    """The column mapping or an option does not fit the file or the device; ``issues`` lists all."""

    def __init__(self, issues: Sequence[str]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(self.issues))


class BadRowsError(ImportFailed):
    """Rows with values that cannot be used; the import is refused unless bad rows are skipped.

    ``issues`` holds every bad value found (not only the first), ``bad_rows`` how many distinct
    rows they are in, ``rows`` how many data rows the file has.
    """

    def __init__(self, issues: Sequence[RowIssue], *, rows: int) -> None:
        self.issues = tuple(issues)
        self.bad_rows = len({issue.row for issue in issues})
        self.rows = rows
        super().__init__(f"{self.bad_rows} of {rows} rows cannot be used")


class RefusedError(ImportFailed):
    """The windows were built but cannot be stored: overlaps, or no room in the outbox."""
