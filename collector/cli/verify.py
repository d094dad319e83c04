"""``retrofit-collector verify-message`` (one captured message against the wire contract) and
``verify-bundle``, the same command as ``retrofit-verify-bundle`` for whoever has the collector
installed (the reviewer's own install needs only the ``verify`` extra: docs/verify.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli._common import EXIT_ERRORS, EXIT_UNREADABLE, console, error_exit
from contract import wire
from contract.errors import InputFileError
from contract.files import read_bounded
from contract.terminal import say

__all__ = ["register"]


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

    Exit code 0 if it is valid and signed by that key, 1 if not (the reason is printed; a
    file larger than the wire's limit is rejected as too_large without being read), 2 if the
    key or the file cannot be read (missing, or not a regular file: a FIFO, a device).
    """
    try:
        key = wire.public_key_from_text(public_key)
        raw = read_bounded(message, wire.MAX_MESSAGE_BYTES, expected="a captured message")
    except InputFileError as exc:
        if exc.reason == "too_large":
            say(console, f"rejected ({wire.TooLarge.code}): {exc.detail}", "red")
            raise typer.Exit(EXIT_ERRORS) from None
        raise error_exit(exc, EXIT_UNREADABLE) from None
    except ValueError as exc:
        raise error_exit(exc, EXIT_UNREADABLE) from None
    try:
        decoded = wire.decode_status(raw) if kind == "status" else wire.decode_envelope(raw)
        wire.verify(decoded, key)
    except wire.WireError as exc:
        say(console, f"rejected ({exc.code}): {exc}", "red")
        raise typer.Exit(EXIT_ERRORS) from None
    if isinstance(decoded, wire.Envelope):
        say(
            console,
            f"valid: agent {decoded.agent} seq {decoded.seq}, "
            f"{len(decoded.records)} records, signed by the given key",
            "green",
        )
    else:
        say(console, f"valid: agent {decoded.agent} status {decoded.state}", "green")


def verify_bundle(ctx: typer.Context) -> None:
    """Verify an evidence bundle offline against your own plan: retrofit-verify-bundle's options.

    Every argument goes to ``retrofit-verify-bundle`` unchanged (``verify-bundle --help`` shows
    them); its exit code is this command's: 0 verified, 1 not verified, 2 unreadable, 3 not
    anchored.
    """
    from collector.verify.cli import main  # the evidence engine: loaded only when verifying

    raise typer.Exit(main(ctx.args))


def register(app: typer.Typer) -> None:
    """Add the ``verify-message`` and ``verify-bundle`` commands to ``app``."""
    app.command("verify-message")(verify_message)
    app.command(
        "verify-bundle",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(verify_bundle)
