"""``retrofit-agent import``: historian and MES exports as KPI windows flagged ``imported``.

``docs/import.md`` is the user's guide. The modules, in the order data flows through them:
``table`` (file to text cells), ``mapping`` (which column is what), ``values`` (one cell),
``rows`` (typed rows, bad values collected), ``build`` (windows and checks), ``plan`` (all of
it, writing nothing) and ``command`` (the CLI, which stores into the outbox). This package
re-exports only what is light to import: the CLI registers the command on every start.
"""

from agent.importing.command import import_csv, register
from agent.importing.errors import (
    BadRowsError,
    ImportFailed,
    ImportFileError,
    MappingError,
    RefusedError,
    RowIssue,
)

# The face names errors.py's exports again, as a face does: the house's (and httpx's) habit.
# pylint: disable=duplicate-code
__all__ = [
    "BadRowsError",
    "ImportFailed",
    "ImportFileError",
    "MappingError",
    "RefusedError",
    "RowIssue",
    "import_csv",
    "register",
]
