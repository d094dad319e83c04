"""``retrofit-collector store``: the InfluxDB database and its retention policies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli._common import (
    EXIT_UNREADABLE,
    ConfigOption,
    console,
    error_exit,
    load_config,
    run_or_exit,
)
from contract.terminal import say

__all__ = ["register"]

store_app = typer.Typer(
    help="The InfluxDB database and its retention policies.", no_args_is_help=True
)


@store_app.command("init")
def store_init(
    username: Annotated[
        str | None, typer.Option("--username", help="A 1.x admin user (default: the config's).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", envvar="RV_INFLUX_ADMIN_PASSWORD", help="Its password."),
    ] = None,
    config: ConfigOption = Path("collector.yaml"),
) -> None:
    """Create the database and the raw, rollup and fleet retention policies (InfluxDB 1.x).

    For a collector whose own InfluxDB user may only read and write (``influx.manage_schema:
    false``): an administrator runs this once, with an admin user. Idempotent; an existing
    policy that differs is reported and left as it is. Exit codes: 0 done; 2 bad arguments
    or configuration; 4 InfluxDB refused or cannot be reached.
    """
    from pydantic import SecretStr

    from collector.dashboards.feed import ensure_fleet_retention

    settings = load_config(config)
    if (username is None) != (password is None):
        raise error_exit(ValueError("give --username and --password together"), EXIT_UNREADABLE)
    influx = settings.influx.model_copy(update={"manage_schema": True})
    if username is not None and password is not None:
        influx = influx.model_copy(
            update={"username": username, "password": SecretStr(password), "token": None}
        )
    admin = settings.model_copy(update={"influx": influx})

    async def init() -> list[str]:
        async with admin.store() as store:
            await store.ensure_database()
            problems = await store.ensure_retention()
            await ensure_fleet_retention(store)
            return problems

    problems = run_or_exit(init())
    for problem in problems:
        say(console, f"left as it is: {problem}", "yellow")
    say(console, f"database {influx.database} and its retention policies are in place")


def register(app: typer.Typer) -> None:
    """Add the ``store`` group to ``app``."""
    app.add_typer(store_app, name="store")
