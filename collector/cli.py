"""``retrofit-collector``: the central side's command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent import wire
from agent.logs import configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="retrofit-collector",
    help=(
        "Central collector for retrofit-verify: registry of the implementation plan, MQTT "
        "ingest into InfluxDB, quarantine, and the evidence reviewers use."
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
    configure_logging(verbose)


@app.command("verify-message")
def verify_message(
    message: Annotated[Path, typer.Argument(help="A captured windows or status message (bytes).")],
    public_key: Annotated[
        str, typer.Option("--public-key", help="The agent's registered key, ed25519:<base64>.")
    ],
    kind: Annotated[
        str, typer.Option("--kind", help="Message kind: windows or status.")
    ] = "windows",
) -> None:
    """Check one captured message against the wire contract and an agent's public key.

    Exit code 0 if it is valid and signed by that key, 1 if not (the reason is printed),
    2 if the file or key cannot be read.
    """
    try:
        key = wire.public_key_from_text(public_key)
        raw = message.read_bytes()[: wire.MAX_MESSAGE_BYTES + 1]
    except (ValueError, OSError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        decoded = wire.decode_status(raw) if kind == "status" else wire.decode_envelope(raw)
        wire.verify(decoded, key)
    except wire.WireError as exc:
        console.print(f"[red]rejected[/red] ({exc.code}): {exc}")
        raise typer.Exit(1) from None
    if isinstance(decoded, wire.Envelope):
        console.print(
            f"[green]valid[/green]: agent {decoded.agent} seq {decoded.seq}, "
            f"{len(decoded.records)} records, signed by the given key"
        )
    else:
        console.print(f"[green]valid[/green]: agent {decoded.agent} status {decoded.state}")


def main() -> None:
    """Console-script entry point."""
    app()
