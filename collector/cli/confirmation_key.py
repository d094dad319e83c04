"""``retrofit-collector confirmation-key generate|show``: the key that signs delivery
confirmations (#19, docs/wire-contract.md "Delivery confirmation").

Not the bundle key (:mod:`collector.cli.bundle_key`): every ingest replica holds this one and
signs with it all day; agents pin its public half (``delivery.collector_keys``). ``ingest``
checks it when it starts (:func:`check_confirmation_key`), so a missing or too open key stops
the replica before it connects (docs/operations.md, "The confirmation key").

Exit codes: 0 done; 1 refused: the key file (or its ``.pub``) already exists; 2 the key file is
missing, unreadable, readable by others, or not an Ed25519 key; 3 the files cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli._common import EXIT_ERRORS, EXIT_OUTPUT, EXIT_UNREADABLE, console, error_exit
from contract.terminal import say

if TYPE_CHECKING:
    from collector.config import CollectorConfig

__all__ = ["check_confirmation_key", "register"]

_REFUSAL = (
    "refusing to overwrite a confirmation key (agents pin its public key): generate the new key "
    "at another path, pin both public keys on the agents, then point "
    "ingest.confirmation_key_path at the new one"
)

confirmation_key_app = typer.Typer(
    help="The collector's Ed25519 key that signs delivery confirmations: generate, show.",
    no_args_is_help=True,
)


def _create_with(path: Path) -> str:
    return f"retrofit-collector confirmation-key generate {path}"


@confirmation_key_app.command("generate")
def generate(
    path: Annotated[Path, typer.Argument(help="The private key file to write (PKCS#8 PEM).")],
) -> None:
    """Create the confirmation key: PATH (mode 0600) and PATH.pub; print the public key to pin
    on every agent (``delivery.collector_keys``). Never overwrites."""
    from contract.errors import KeyFileError
    from contract.keys import generate_key_pair, public_key_path

    existed = path.exists() or public_key_path(path).exists()
    try:
        public_text = generate_key_pair(path, refusal=_REFUSAL)
    except KeyFileError as exc:
        raise error_exit(exc, EXIT_ERRORS if existed else EXIT_OUTPUT) from None
    say(console, f"confirmation key written to {path} (mode 600) and {public_key_path(path)}")
    say(console, f"pin on agents: delivery.collector_keys: [{public_text}]")


@confirmation_key_app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="The private key file (PKCS#8 PEM).")],
) -> None:
    """Print the public key of the confirmation key at PATH (checked as ``ingest`` does)."""
    from contract.errors import KeyFileError
    from contract.keys import load_private_key
    from contract.wire import public_key_text

    try:
        key = load_private_key(path, create_with=_create_with(path))
    except KeyFileError as exc:
        raise error_exit(exc, EXIT_UNREADABLE) from None
    say(console, f"pin on agents: delivery.collector_keys: [{public_key_text(key.public_key())}]")


def check_confirmation_key(settings: CollectorConfig, config: Path) -> None:
    """Exit 2, naming the config file, the key and the fix, if ``ingest.confirmation_key_path``
    names a key that cannot be used; nothing when none is configured."""
    from contract.errors import KeyFileError
    from contract.keys import load_private_key

    path = settings.ingest.confirmation_key_path
    if path is None:
        return
    try:
        load_private_key(path, create_with=_create_with(path))
    except KeyFileError as exc:
        message = f"{config} ingest.confirmation_key_path: {exc}"
        raise error_exit(message, EXIT_UNREADABLE) from None


def register(app: typer.Typer) -> None:
    """Add the ``confirmation-key`` group (``generate``, ``show``) to ``app``."""
    app.add_typer(confirmation_key_app, name="confirmation-key")
