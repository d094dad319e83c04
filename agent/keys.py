"""The agent's Ed25519 identity: generating, storing and loading its key pair.

The private key is a PKCS#8 PEM file readable by its owner only (mode 0600); the public key
is also written beside it as ``<name>.pub`` in the registry's text form (``ed25519:<base64>``),
which is what an operator hands to ``retrofit-collector agents add``. The file handling is
:mod:`contract.keys` (the collector keeps its bundle key the same way); this module words it
for the agent.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from contract import keys
from contract.ed25519 import Signer

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from contract.errors import KeyFileError
from contract.keys import public_key_path

__all__ = ["KeyFileError", "generate_key_pair", "load_private_key", "load_signing_key",
           "public_key_path"]  # fmt: skip

_REFUSAL = (
    "refusing to overwrite an agent identity "
    "(pass --force to replace it, and re-register the new public key)"
)


def generate_key_pair(private_path: Path, *, force: bool = False) -> str:
    """Write a new key pair for the agent and return the public key text.

    Raises KeyFileError if either file exists and ``force`` is false, or if it cannot be written.
    """
    return keys.generate_key_pair(private_path, refusal=_REFUSAL, force=force)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load the agent's private key; raise KeyFileError saying what is wrong and how to fix it."""
    return keys.load_private_key(path, create_with="retrofit-agent keygen")


def load_signing_key(path: Path) -> Signer:
    """:func:`load_private_key` for the running agent, which only signs.

    Held by libcrypto, not ``cryptography``, when the file is keygen's plain PKCS#8
    (:func:`contract.keys.load_signing_key`: about 8.5 MB less resident memory); the same
    checks and messages. Raises KeyFileError.
    """
    return keys.load_signing_key(path, create_with="retrofit-agent keygen")
