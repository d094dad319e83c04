"""``retrofit-agent``: the edge agent's command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent import __version__
from agent.keys import KeyFileError, generate_key_pair, public_key_path

__all__ = ["app", "main"]

app = typer.Typer(
    name="retrofit-agent",
    help=(
        "Edge agent for retrofit-verify: reads equipment over Modbus and OPC UA, turns it into "
        "signed KPI windows and sends them to the collector over MQTT."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


@app.command()
def version() -> None:
    """Print the agent's version."""
    console.print(f"retrofit-agent {__version__}")


@app.command()
def keygen(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Private key file to write; the public key goes to OUT.pub."
        ),
    ] = Path("agent.key"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing key pair (a new identity).")
    ] = False,
) -> None:
    """Create the agent's Ed25519 key pair and print the public key for the registry.

    The private key file is created with mode 0600. Exit code 1 if a key already exists
    and --force is not given, or the files cannot be written.
    """
    try:
        public_text = generate_key_pair(out, force=force)
    except KeyFileError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"private key: {out} (mode 600)")
    console.print(f"public key:  {public_key_path(out)}")
    console.print("Register this public key with the collector:")
    # Printed plainly on its own line so scripts can take it with `tail -n 1`.
    print(public_text)


@app.command("check-config")
def check_config_command(
    config: Annotated[Path, typer.Argument(help="The agent's YAML configuration file.")],
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Only validate the file; do not connect to devices."),
    ] = False,
) -> None:
    """Validate a configuration; without --offline also read every tag of every device once.

    Exit codes: 0 valid (and every device answered with good values), 1 configuration
    errors (all printed with file, line and key path), 2 the file cannot be read,
    3 a device is unreachable or returned bad values.
    """
    from agent.checkconfig import check_config

    raise typer.Exit(check_config(config, offline, console))


def main() -> None:
    """Console-script entry point."""
    app()
