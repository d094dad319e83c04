"""``retrofit-agent import``: a historian or MES export into the agent's outbox.

:func:`import_csv` does the work and returns the exit code; :func:`register` adds the typer
command to the agent's CLI. Exit codes: 0 imported (or dry run done), 1 the configuration or
the mapping is invalid, 2 a file cannot be read, 3 bad rows (without ``--skip-bad``), 4 refused
(overlap with stored windows or between rows, no room in the outbox, outbox not writable).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.importing.errors import (
    BadRowsError,
    ImportFailed,
    ImportFileError,
    MappingError,
    RefusedError,
    RowIssue,
)

# The agent's CLI imports this module to register the command: what pulls in pydantic, the
# configuration and the outbox is imported when the command runs, not before.
if TYPE_CHECKING:
    from agent.config import LoadedConfig
    from agent.importing.mapping import ImportMapping
    from agent.importing.prepare import PreparedImport

__all__ = [
    "EXIT_BAD_ROWS",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_UNREADABLE",
    "import_csv",
    "register",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2
EXIT_BAD_ROWS = 3
EXIT_REFUSED = 4
#: Bad values printed one by one; the rest are counted per column.
SHOWN_ISSUES = 100


def import_csv(
    config_path: Path,
    csv_path: Path,
    device: str,
    mapping: ImportMapping,
    console: Console,
    skip_bad: bool,
    dry_run: bool,
) -> int:
    """Import ``csv_path`` for ``device`` into the outbox of the agent at ``config_path``.

    Prints what happened (a summary, or every problem found) and returns the exit code.
    Never raises for a user mistake or a bad file.
    """
    from agent.config import load_config
    from agent.outbox import OutboxError
    from contract.configfile.console import print_issues
    from contract.errors import ConfigFileError, ConfigInvalidError

    try:
        loaded = load_config(config_path)
    except (ConfigFileError, ConfigInvalidError) as exc:
        print_issues(console, exc.issues)
        return EXIT_UNREADABLE if isinstance(exc, ConfigFileError) else EXIT_INVALID
    try:
        return _import(loaded, csv_path, device, mapping, console, skip_bad, dry_run)
    except ImportFailed as exc:
        return _report_failure(console, exc)
    except OutboxError as exc:
        _error(console, f"nothing imported: {exc}")
        return EXIT_REFUSED


def _import(
    loaded: LoadedConfig,
    csv_path: Path,
    device: str,
    mapping: ImportMapping,
    console: Console,
    skip_bad: bool,
    dry_run: bool,
) -> int:
    from agent.importing.build import check_outbox
    from agent.importing.prepare import prepare_import
    from agent.outbox import Outbox

    now = loaded.config.make_clock().timestamp()
    prepared = prepare_import(loaded, device, csv_path, mapping, skip_bad=skip_bad, now=now)
    outbox_path = loaded.config.agent.outbox_path
    capacity = loaded.config.outbox_capacity()
    # A dry run must not create the outbox file; a missing one holds nothing.
    exists = outbox_path.exists()
    outbox = Outbox(outbox_path, capacity_windows=capacity) if exists or not dry_run else None
    try:
        covered = outbox.covered(device) if outbox else []
        pending = outbox.stats().pending_windows if outbox else 0
        check_outbox(prepared.windows, device, covered, capacity - pending, prepared.zone)
        if prepared.skipped:
            _print_row_issues(console, prepared.skipped, "skipped (--skip-bad)", "yellow")
        _print_summary(console, prepared)
        if dry_run:
            console.print(
                f"dry run: nothing written to {outbox_path}", highlight=False, soft_wrap=True
            )
            return EXIT_OK
        if outbox is None:  # opened above unless dry_run
            raise ImportFailed(f"internal: the outbox {outbox_path} was not opened")
        outbox.add_windows(prepared.windows, unless_retired=True)
    finally:
        if outbox is not None:
            outbox.close()
    log.info(
        "imported %d windows for device %s from %s (%d rows skipped)",
        len(prepared.windows),
        device,
        csv_path,
        prepared.skipped_rows,
    )
    console.print(
        f"added {len(prepared.windows):,} windows (provenance imported) to {outbox_path}: a "
        "running agent sends them within seconds, otherwise they go when it next starts",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK


# --- printing -----------------------------------------------------------------------------


def _error(console: Console, message: str) -> None:
    console.print(Text("error: ", style="red") + Text(message), soft_wrap=True)


def _report_failure(console: Console, exc: ImportFailed) -> int:
    if isinstance(exc, BadRowsError):
        _print_row_issues(console, exc.issues, "cannot be used", "red")
        _error(
            console,
            f"{exc.bad_rows:,} of {exc.rows:,} rows have values that cannot be used; nothing "
            "imported. Fix them, or give --skip-bad to import the other rows",
        )
        return EXIT_BAD_ROWS
    if isinstance(exc, MappingError):
        for issue in exc.issues:
            _error(console, issue)
        return EXIT_INVALID
    _error(console, str(exc))
    if isinstance(exc, RefusedError):
        console.print("nothing imported", highlight=False)
    return EXIT_UNREADABLE if isinstance(exc, ImportFileError) else EXIT_REFUSED


def _print_row_issues(console: Console, issues: Sequence[RowIssue], what: str, style: str) -> None:
    for issue in issues[:SHOWN_ISSUES]:
        console.print(Text(str(issue), style=style), soft_wrap=True)
    if len(issues) > SHOWN_ISSUES:
        per_column = Counter(issue.column or "(row)" for issue in issues)
        counted = ", ".join(f"column {name}: {count:,}" for name, count in per_column.most_common())
        console.print(
            Text(
                f"... {len(issues) - SHOWN_ISSUES:,} more; in all {len(issues):,} bad values "
                f"({counted})",
                style=style,
            ),
            soft_wrap=True,
        )
    rows = len({issue.row for issue in issues})
    console.print(Text(f"{rows:,} row{'' if rows == 1 else 's'} {what}", style=style))


def _hours(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 3600:,.2f} h"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _print_summary(console: Console, prepared: PreparedImport) -> None:
    from agent.importing.build import totals

    sums = totals(prepared.windows)
    table = Table(
        title=f"import of {prepared.source} for device {prepared.device}", show_header=False
    )
    table.add_column("what", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    delimiter = "tab" if prepared.delimiter == "\t" else repr(prepared.delimiter)
    table.add_row("file", f"{prepared.encoding}, delimiter {delimiter}, shape {prepared.shape}")
    table.add_row("data rows", f"{prepared.data_rows:,}")
    if prepared.filtered_out:
        table.add_row("left out by --where", f"{prepared.filtered_out:,}")
    table.add_row("rows used", f"{prepared.used_rows:,}")
    table.add_row("rows skipped (bad)", f"{prepared.skipped_rows:,}")
    if prepared.window_s is not None:
        table.add_row("window length", f"{prepared.window_s} s")
    if prepared.max_gap_s is not None:
        table.add_row("longest gap holding a state", f"{prepared.max_gap_s:g} s")
    table.add_row("windows (provenance imported)", f"{sums.windows:,}")
    if sums.start is not None and sums.end is not None:
        table.add_row("from", _local(sums.start, prepared))
        table.add_row("to", _local(sums.end, prepared))
    labels = {
        "scheduled_s": "scheduled",
        "planned_s": "planned",
        "run_s": "running",
        "idle_s": "idle",
        "down_s": "down",
        "off_s": "off",
        "planned_stop_s": "planned stop",
    }
    for name, label in labels.items():
        table.add_row(label, _hours(sums.seconds[name]))
    table.add_row("comm loss (no known state)", _hours(sums.comm_loss_s))
    for name, count in sums.counts.items():
        table.add_row(name.replace("_", " "), _count(count))
    energy = "-" if sums.energy_kwh is None else f"{sums.energy_kwh:,.3f} kWh"
    table.add_row("energy", energy)
    console.print(table)


def _local(moment: datetime, prepared: PreparedImport) -> str:
    return moment.astimezone(prepared.zone).strftime("%Y-%m-%d %H:%M:%S %z")


# --- the typer command --------------------------------------------------------------------


def register(app: typer.Typer) -> None:
    """Add ``import`` to the agent's command line."""
    app.command("import")(import_command)


def import_command(
    csv_file: Annotated[Path, typer.Argument(help="The CSV export to import.")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The agent's YAML configuration file.")
    ],
    device: Annotated[
        str, typer.Option("--device", "-d", help="The configured device the rows belong to.")
    ],
    column_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            help="TARGET=COLUMN, e.g. --map time=采集时间 --map total_count=产量 (repeat).",
        ),
    ] = None,
    mapping_file: Annotated[
        Path | None, typer.Option("--mapping", help="A mapping YAML file (docs/import.md).")
    ] = None,
    shape: Annotated[
        str | None,
        typer.Option("--shape", help="samples (one row per time) or intervals (one per shift)."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Time zone of the export's times, e.g. Asia/Shanghai."),
    ] = None,
    time_format: Annotated[
        str | None,
        typer.Option(
            "--time-format", help='strptime format, e.g. "%Y-%m-%d %H:%M:%S", or epoch_s.'
        ),
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="auto (default), utf-8, gb18030, utf-16 ...")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Column separator; sniffed if not given.")
    ] = None,
    header_row: Annotated[
        int | None, typer.Option("--header-row", help="Row of the column names (default 1).")
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option("--where", help="COLUMN=VALUE: only rows with this value (repeat)."),
    ] = None,
    max_gap_s: Annotated[
        float | None,
        typer.Option("--max-gap-s", help="Samples: longest gap that still holds a state."),
    ] = None,
    window_s: Annotated[
        int | None, typer.Option("--window-s", help="Samples: window length (default: agent's).")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip rows with bad values (counted) and go on.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be imported; write nothing.")
    ] = False,
) -> None:
    """Import a historian or MES CSV export as KPI windows flagged provenance=imported.

    The windows go into the agent's outbox and are signed and sent like measured ones. Exit
    codes: 0 imported, 1 invalid configuration or mapping, 2 a file cannot be read, 3 bad rows
    (without --skip-bad), 4 refused (overlap, outbox full or not writable).
    """
    from agent.importing.mapping import build_mapping

    console = Console()
    try:
        mapping = build_mapping(
            mapping_file,
            column_map or (),
            where or (),
            shape=shape,
            timezone=tz,
            time_format=time_format,
            encoding=encoding,
            delimiter=delimiter,
            header_row=header_row,
            max_gap_s=max_gap_s,
            window_s=window_s,
        )
    except ImportFailed as exc:
        raise typer.Exit(_report_failure(console, exc)) from None
    started = time.monotonic()
    code = import_csv(config, csv_file, device, mapping, console, skip_bad, dry_run)
    log.debug("import took %.1f s", time.monotonic() - started)
    raise typer.Exit(code)
