"""Ed25519 key files: generating, storing and loading a key pair (an agent's, the collector's).

The private key is a PKCS#8 PEM file readable by its owner only (mode 0600); the public key
is also written beside it as ``<name>.pub`` in the registry's text form (``ed25519:<base64>``).
An agent's identity (:mod:`agent.keys`: the public key is what an operator hands to
``retrofit-collector agents add``) and the collector's bundle key
(``retrofit-collector bundle-key``) are both kept this way; each caller words its own hints.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from contract.ed25519 import Signer, openssl_key
from contract.errors import InputFileError, KeyFileError
from contract.files import read_bounded
from contract.wire import public_key_text

if TYPE_CHECKING:
    # Imported where used: an agent loading its key for signing never needs cryptography
    # (contract.ed25519 says why).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "KeyFileError",
    "generate_key_pair",
    "load_private_key",
    "load_signing_key",
    "public_key_path",
]


_MAX_KEY_FILE_BYTES = 16 * 1024


def public_key_path(private_path: Path) -> Path:
    """Where the public key of ``private_path`` is written: the same name plus ``.pub``."""
    return private_path.with_name(private_path.name + ".pub")


def generate_key_pair(private_path: Path, *, refusal: str, force: bool = False) -> str:
    """Write a new key pair and return the public key text.

    Raises KeyFileError if either file exists and ``force`` is false (``<path> already exists;
    <refusal>``), or if it cannot be written.
    """
    public_path = public_key_path(private_path)
    if not force:
        for path in (private_path, public_path):
            if path.exists():
                raise KeyFileError(f"{path} already exists; {refusal}")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_text = public_key_text(key.public_key())
    try:
        private_path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(private_path, pem)
        public_path.write_text(public_text + "\n", encoding="ascii")
    except OSError as exc:
        raise KeyFileError(f"cannot write key pair at {private_path}: {exc.strerror}") from exc
    return public_text


def _write_private(path: Path, pem: bytes) -> None:
    # Create with 0600 from the start (no window where the key is world-readable), replacing any
    # old file atomically so a crash never leaves half a key.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


def load_private_key(path: Path, *, create_with: str) -> Ed25519PrivateKey:
    """Load a private key; raise KeyFileError saying what is wrong and how to fix it.

    ``create_with`` is the command a missing file's message suggests.
    """
    return _parsed(path, _read_key_file(path, create_with))


def load_signing_key(path: Path, *, create_with: str) -> Signer:
    """:func:`load_private_key` for a key that only signs, without ``cryptography`` if it can.

    The plain PKCS#8 file ``keygen`` writes becomes a key held by the libcrypto ``ssl`` already
    loaded (:mod:`contract.ed25519`: same signatures, about 8.5 MB less resident memory); any
    other file goes through ``cryptography`` as :func:`load_private_key`, with its checks and
    messages. Raises KeyFileError.
    """
    data = _read_key_file(path, create_with)
    lean = openssl_key(data)
    return lean if lean is not None else _parsed(path, data)


def _read_key_file(path: Path, create_with: str) -> bytes:
    """The bytes of a private key file that exists, is regular, private to its owner and small."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise KeyFileError(f"{path} is not a regular file")
        if mode & 0o077:
            raise KeyFileError(
                f"{path} is readable by group or others (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}"
            )
        return read_bounded(path, _MAX_KEY_FILE_BYTES, expected="a PEM key file")
    except FileNotFoundError as exc:
        raise KeyFileError(f"{path} does not exist; create it with: {create_with}") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from exc
    except InputFileError as exc:
        if exc.reason == "missing":
            raise KeyFileError(f"{path} does not exist; create it with: {create_with}") from None
        if exc.reason == "too_large":
            raise KeyFileError(f"{exc}: too large to be a key file") from None
        raise KeyFileError(str(exc)) from None


def _parsed(path: Path, data: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key of a PEM file's bytes through ``cryptography``; raises KeyFileError."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__}, expected an Ed25519 key")
    return key
