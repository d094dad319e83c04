"""``retrofit-collector registry``: the registry database itself (docs/operations.md).

``registry migrate --to URL`` copies the SQLite registry the configuration names into an empty
PostgreSQL registry and checks the copy, table by table (:mod:`collector.registry.transfer`).
Exit codes: 0 done; 1 refused (the target is not empty or was migrated already, the copy
differs from the source, the configuration names no SQLite file); 2 the configuration or the
source file cannot be read; 4 the target cannot be used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli._common import (
    DEFAULT_CONFIG,
    EXIT_ERRORS,
    EXIT_UNAVAILABLE,
    EXIT_UNREADABLE,
    ByOption,
    ConfigOption,
    console,
    count,
    error_exit,
    load_config,
)
from contract.terminal import say

if TYPE_CHECKING:
    from collector.registry import GroupCopy, TransferReport

__all__ = ["register"]

registry_app = typer.Typer(help="The registry database: migrate it to PostgreSQL.")


def _say_group(done: GroupCopy) -> None:
    tables = ", ".join(f"{table} {rows}" for table, rows in done.rows.items())
    if done.action == "copied":
        say(console, f"copied   {done.group}: {tables}")
    else:
        say(console, f"skipped  {done.group}: already in the target ({tables})")


def _say_checks(report: TransferReport) -> None:
    say(console, f"{'table':<18} {'source':>9} {'target':>9}  sha256 (first 16)   check")
    for check in report.checks:
        digest = check.target_sha256[:16]
        if check.source_sha256 != check.target_sha256:
            digest = f"{check.source_sha256[:16]} != {check.target_sha256[:16]}"
        verdict = "equal" if check.equal else "DIFFERS"
        say(
            console,
            f"{check.table:<18} {check.source_rows:>9} {check.target_rows:>9}  {digest}  {verdict}",
        )


@registry_app.command("migrate")
def migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The empty PostgreSQL registry, postgresql://user@host:port/db "
            "(password: PGPASSWORD or ~/.pgpass, never on the command line).",
        ),
    ],
    by: ByOption,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Copy the configuration's SQLite registry into an empty PostgreSQL registry and check it.

    Stop every collector process on the file first. A run that was killed is resumed by
    running it again; a finished one is refused. Exit codes: 0 copied and equal; 1 refused or
    the copy differs; 2 the configuration or file cannot be read; 4 the target cannot be used.
    """
    from collector.errors import ConflictError, RegistryUnavailable
    from collector.registry import is_postgres_url, transfer_registry
    from collector.registry.postgres import display_url

    settings = load_config(config).registry
    if settings.is_postgres:
        raise error_exit(
            f"{config}: registry is {display_url(settings.url)}, already PostgreSQL; "
            "migrate copies a SQLite registry file",
            EXIT_ERRORS,
        )
    if not is_postgres_url(to):
        raise error_exit(f"--to {to[:80]!r}: expected a postgresql:// URL", EXIT_UNREADABLE)
    try:
        report = transfer_registry(
            Path(settings.url), to, password=None, by=by, on_group=_say_group
        )
    except ConflictError as exc:
        raise error_exit(exc, EXIT_ERRORS) from None
    except RegistryUnavailable as exc:
        # The target's messages name its URL; the source's name the file.
        target = str(exc).startswith("registry postgresql://")
        raise error_exit(exc, EXIT_UNAVAILABLE if target else EXIT_UNREADABLE) from None
    _say_checks(report)
    rows = sum(check.target_rows for check in report.checks)
    tables = count(len(report.checks), "table")
    if not report.ok:
        raise error_exit(
            f"the copy in {report.target} differs from {report.source} (see DIFFERS above): "
            "was a collector still writing to the file? Stop it, then start again with an "
            "empty database",
            EXIT_ERRORS,
        )
    say(
        console,
        f"migrated {report.source} to {report.target}: {tables}, {count(rows, 'row')}, every "
        "count and digest equal; audit registry.migrate written. Now point registry.url at it.",
    )


def register(app: typer.Typer) -> None:
    """Add the ``registry`` command group to ``app``."""
    app.add_typer(registry_app, name="registry")
