"""``retrofit-collector broker``: the MQTT broker's files the registry decides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli._common import (
    DEFAULT_CONFIG,
    EXIT_UNAVAILABLE,
    ConfigOption,
    err_console,
    error_exit,
    load_config,
    write_output,
)
from contract.terminal import say

__all__ = ["register"]

broker_app = typer.Typer(help="The MQTT broker's access list.", no_args_is_help=True)


@broker_app.command("acl")
def acl(
    config: ConfigOption = DEFAULT_CONFIG,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here (atomically); default stdout.")
    ] = None,
    collector_user: Annotated[
        str, typer.Option("--collector-user", help="The collector's MQTT user name.")
    ] = "collector",
) -> None:
    """Write mosquitto's ACL: each registered agent publishes only under its own topics.

    Exit codes: 0 written; 1/2 configuration errors; 3 ``--out`` cannot be written; 4 the
    registry cannot be read.
    """
    from collector.broker import acl_text
    from collector.errors import CollectorError
    from collector.registry import Registry

    settings = load_config(config)
    try:
        with Registry(settings.registry) as registry:
            text = acl_text(registry.agents(), collector_user=collector_user)
    except (CollectorError, ValueError) as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None
    if out is None:
        typer.echo(text, nl=False)
        return
    # Through a temporary file and a rename: mosquitto never reads a half-written file on SIGHUP.
    write_output(out, text.encode("utf-8"))
    say(err_console, f"wrote {out}; reload mosquitto (SIGHUP) to apply it")


def register(app: typer.Typer) -> None:
    """Add the ``broker`` group to the collector's command line."""
    app.add_typer(broker_app, name="broker")
