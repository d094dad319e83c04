"""``retrofit-collector export``: a bundle's evidence as a workbook or CSV a reviewer can file.

Reads one evidence document of a bundle (``evidence.json``: the enterprise's KPI table and its
digital-level section's four;
``platform.json``: the platform's enterprises; ``province.json``: the province's platforms),
or the bundle's folder, and writes its table as ``.xlsx`` (numbers with formats) or CSV
(docs/exports.md). Every figure is the document's own. Exit codes: 0 written; 1 not an
evidence document; 2 unreadable input or a bad option; 3 the output cannot be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli._common import EXIT_ERRORS, EXIT_UNREADABLE, console, error_exit, write_output
from contract.errors import InputFileError
from contract.files import read_bounded
from contract.terminal import say

if TYPE_CHECKING:
    from collector.export import Table

__all__ = ["MAX_DOCUMENT_BYTES", "register"]

#: Largest evidence document read, in bytes: an enterprise's evidence.json holds its daily
#: device rows for two periods, a few megabytes at most.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
_DOCUMENTS = ("evidence.json", "platform.json", "province.json")


def _document_path(source: Path) -> Path:
    if not source.is_dir():
        return source
    found = [source / name for name in _DOCUMENTS if (source / name).is_file()]
    if len(found) != 1:
        raise error_exit(
            f"{source}: expected a bundle folder holding one of {', '.join(_DOCUMENTS)}",
            EXIT_UNREADABLE,
        )
    return found[0]


def export(
    source: Annotated[
        Path,
        typer.Argument(help="A bundle folder, or its evidence.json/platform.json/province.json."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (replaced atomically).")],
    output_format: Annotated[
        str, typer.Option("--format", help="xlsx or csv (default: from the --out name).")
    ] = "",
    table_name: Annotated[
        str,
        typer.Option(
            "--table",
            help="CSV only: which table (KPIs, Networked, Devices, Scenarios, Quality; "
            "default the first).",
        ),
    ] = "",
) -> None:
    """Write a bundle's tables (KPIs and the digital level, enterprises or platforms) as a
    workbook (every table a sheet) or one of them as CSV."""
    from collector.export import DocumentRefused, csv_bytes, document_tables, workbook_bytes

    chosen = output_format or ("csv" if out.suffix.lower() == ".csv" else "xlsx")
    if chosen not in ("xlsx", "csv"):
        raise error_exit(f"--format {chosen}: expected xlsx or csv", EXIT_UNREADABLE)
    path = _document_path(source)
    try:
        content = read_bounded(path, MAX_DOCUMENT_BYTES, expected="an evidence document (JSON)")
        tables = document_tables(content, str(path))
    except InputFileError as exc:
        raise error_exit(exc, EXIT_UNREADABLE) from None
    except DocumentRefused as exc:
        raise error_exit(exc, EXIT_ERRORS) from None
    if chosen == "xlsx":
        write_output(out, workbook_bytes(tables))
        rows = sum(len(table.rows) for table in tables)
        say(console, f"wrote {tables[0].title}: {len(tables)} sheets, {rows} rows as xlsx to {out}")
        return
    table = _chosen_table(tables, table_name)
    write_output(out, csv_bytes(table))
    say(console, f"wrote {table.title}: {len(table.rows)} rows as csv to {out}")


def _chosen_table(tables: Sequence[Table], name: str) -> Table:
    if not name:
        return tables[0]
    for table in tables:
        if table.name.lower() == name.lower():
            return table
    names = ", ".join(table.name for table in tables)
    raise error_exit(f"--table {name}: this document has {names}", EXIT_UNREADABLE)


def register(app: typer.Typer) -> None:
    """Add the ``export`` command to ``app``."""
    app.command("export")(export)
