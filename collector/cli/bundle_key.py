"""``retrofit-collector bundle-key generate|show``: the collector's key that signs bundles.

:func:`register` adds the ``bundle-key`` group; :func:`load_signing_key` is how ``evidence``,
``rollup`` and ``serve`` load the key named by ``bundle.signing_key_path`` when they start, so
a missing or too open key stops them before any work (docs/operations.md, "The bundle key").

Exit codes: 0 done; 1 refused: the key file (or its ``.pub``) already exists; 2 the key file is
missing, unreadable, readable by others, or not an Ed25519 key; 3 the files cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli._common import (
    EXIT_ERRORS,
    EXIT_OUTPUT,
    EXIT_UNREADABLE,
    console,
    error_exit,
)
from contract.terminal import say

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from collector.config import CollectorConfig

__all__ = ["load_signing_key", "register"]

_REFUSAL = (
    "refusing to overwrite a bundle signing key (bundles signed with it name its fingerprint): "
    "generate the new key at another path and point bundle.signing_key_path at it"
)

KeyPathArgument = Annotated[Path, typer.Argument(help="The private key file (PKCS#8 PEM).")]

bundle_key_app = typer.Typer(
    help="The collector's Ed25519 key that signs evidence bundles: generate, show.",
    no_args_is_help=True,
)


def _create_with(path: Path) -> str:
    return f"retrofit-collector bundle-key generate {path}"


def _print_key(public: Ed25519PublicKey) -> None:
    from collector.proof import fingerprint
    from contract.wire import public_key_text

    say(console, f"public key  {public_key_text(public)}")
    say(console, f"fingerprint {fingerprint(public)}")


@bundle_key_app.command("generate")
def generate(path: KeyPathArgument) -> None:
    """Create the collector's bundle key: PATH (mode 0600) and PATH.pub; print its fingerprint.

    Never overwrites: a new key is a new file (rotation: generate, repoint
    bundle.signing_key_path, restart). Publish the printed fingerprint to the reviewers.
    """
    from contract.errors import KeyFileError
    from contract.keys import generate_key_pair, public_key_path
    from contract.wire import public_key_from_text

    existing = path.exists() or public_key_path(path).exists()
    try:
        public_text = generate_key_pair(path, refusal=_REFUSAL)
    except KeyFileError as exc:
        raise error_exit(exc, EXIT_ERRORS if existing else EXIT_OUTPUT) from None
    say(console, f"bundle key written to {path} (mode 600) and {public_key_path(path)}")
    _print_key(public_key_from_text(public_text))


@bundle_key_app.command("show")
def show(path: KeyPathArgument) -> None:
    """Print the public key and fingerprint of the bundle key at PATH (checked as on load)."""
    from contract.errors import KeyFileError
    from contract.keys import load_private_key

    try:
        key = load_private_key(path, create_with=_create_with(path))
    except KeyFileError as exc:
        raise error_exit(exc, EXIT_UNREADABLE) from None
    _print_key(key.public_key())


def load_signing_key(settings: CollectorConfig, config: Path) -> Ed25519PrivateKey | None:
    """The key of ``bundle.signing_key_path``, or None when none is configured.

    A key that cannot be used exits 2 with the config file, the key and the fix named.
    """
    from contract.errors import KeyFileError
    from contract.keys import load_private_key

    path = settings.bundle.signing_key_path
    if path is None:
        return None
    try:
        return load_private_key(path, create_with=_create_with(path))
    except KeyFileError as exc:
        raise error_exit(f"{config} bundle.signing_key_path: {exc}", EXIT_UNREADABLE) from None


def register(app: typer.Typer) -> None:
    """Add the ``bundle-key`` group (``generate``, ``show``) to ``app``."""
    app.add_typer(bundle_key_app, name="bundle-key")
