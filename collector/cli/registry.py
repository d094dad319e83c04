"""``retrofit-collector registry``: the registry database itself (docs/operations.md).

- ``registry init [--grant ROLE]`` creates or upgrades the schema with the login that owns the
  tables, and gives the collectors' role row access only (PostgreSQL).
- ``registry migrate --to URL`` copies the SQLite registry the configuration names into an
  empty PostgreSQL registry and checks the copy, table by table
  (:mod:`collector.registry.transfer`).
- ``registry prune-quarantine`` deletes the quarantined messages older than the retention
  (``registry.quarantine_retention_days``), keeping their counts, audited.

Each command's docstring gives its exit codes (collector/cli/_common.py says what each means).
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
    open_registry,
)
from contract.terminal import say

if TYPE_CHECKING:
    from collector.registry import GroupCopy, TransferReport

__all__ = ["register"]

registry_app = typer.Typer(
    help="The registry database: its schema, a move to PostgreSQL, the quarantine's retention.",
    no_args_is_help=True,
)


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
        # Only its scheme is echoed: a URL may hold a password.
        given = f"a {to.split('://', 1)[0][:20]}:// URL" if "://" in to else "a path"
        raise error_exit(f"--to: got {given}, expected a postgresql:// URL", EXIT_UNREADABLE)
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


@registry_app.command("init")
def init(
    config: ConfigOption = DEFAULT_CONFIG,
    grant: Annotated[
        str | None,
        typer.Option(
            "--grant",
            help="PostgreSQL: the collectors' role, given SELECT, INSERT, UPDATE and DELETE on "
            "every registry table and nothing more.",
        ),
    ] = None,
) -> None:
    """Create or upgrade the registry's schema; with --grant, give the collectors' role row
    access. Run it with the login that owns the tables (PostgreSQL), before the collectors.

    Exit codes: 0 done; 1 --grant for a SQLite registry, or configuration errors; 2 the
    configuration cannot be read; 4 the registry cannot be used or the grant failed.
    """
    from collector.errors import RegistryUnavailable
    from collector.registry import DEFAULT_BUSY_TIMEOUT_S, Registry
    from collector.registry.postgres import PostgresDatabase
    from collector.registry.sql import SCHEMA_VERSION

    settings = load_config(config).registry
    if grant is not None and not settings.is_postgres:
        raise error_exit(f"--grant {grant}: only for a PostgreSQL registry", EXIT_ERRORS)
    try:
        if not settings.is_postgres:
            Registry(settings).close()
            say(console, f"registry {settings.url}: schema version {SCHEMA_VERSION}")
            return
        database = PostgresDatabase(
            settings.url, password=settings.secret(), lock_timeout_s=DEFAULT_BUSY_TIMEOUT_S,
            pool_size=1,
        )  # fmt: skip
        try:
            say(console, f"registry {database.location}: schema version {SCHEMA_VERSION}")
            if grant is not None:
                granted = database.grant_dml(grant)
                say(
                    console,
                    f"granted SELECT, INSERT, UPDATE, DELETE on {count(len(granted), 'table')} "
                    f"to {grant} (no TRUNCATE, no schema change)",
                )
        finally:
            database.close()
    except RegistryUnavailable as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None


@registry_app.command("prune-quarantine")
def prune_quarantine(
    by: ByOption,
    config: ConfigOption = DEFAULT_CONFIG,
    older_than_days: Annotated[
        int | None,
        typer.Option(
            "--older-than-days",
            min=1,
            help="Instead of registry.quarantine_retention_days from the configuration.",
        ),
    ] = None,
) -> None:
    """Delete the quarantined messages older than the retention; their counts per agent and
    reason stay (the evidence uses them), and the audit says who pruned what.

    Exit codes: 0 done (also when nothing was old enough); 1 no retention configured or given,
    or configuration errors; 2 the configuration cannot be read or the registry opened; 4 the
    registry cannot be used.
    """
    import datetime as dt

    from collector.errors import RegistryUnavailable
    from collector.registry.records import format_time

    settings = load_config(config).registry
    days = older_than_days or settings.quarantine_retention_days
    if days is None:
        raise error_exit(
            f"{config}: no quarantine retention: set registry.quarantine_retention_days or give "
            "--older-than-days",
            EXIT_ERRORS,
        )
    before = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    with open_registry(settings) as registry:
        try:
            pruned = registry.quarantine_prune(before, by=by)
        except RegistryUnavailable as exc:
            raise error_exit(exc, EXIT_UNAVAILABLE) from None
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(pruned.items())) or "none"
    total = count(sum(pruned.values()), "quarantined message")
    say(
        console,
        f"pruned {total} received before {format_time(before)} ({days} days): {reasons}; "
        "their counts stay in the registry",
    )


def register(app: typer.Typer) -> None:
    """Add the ``registry`` command group to ``app``."""
    app.add_typer(registry_app, name="registry")
