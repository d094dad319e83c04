"""TOTP secrets sealed at rest: AES-256-GCM under a key file only the collector can read.

A TOTP secret is what a second factor rests on: whoever reads it from the registry (a backup,
a database dump, a replica's disk) can make every future code. It is therefore stored sealed
(docs/web.md, "TOTP secrets at rest"):

- ``totp1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``: AES-256-GCM (NIST SP 800-38D) with
  a fresh 96-bit random nonce per seal, and the user id as associated data, so a sealed
  secret copied onto another account's row does not open there;
- the key id is the first 8 hex digits of the key's SHA-256: it names which key sealed it, so
  keys can be rotated (:class:`TotpSealer` opens with every key it holds, seals with the first);
- the key file holds 32 random bytes as base64, mode 0600 (refused otherwise, as the bundle
  key is: :func:`load_totp_key`), written by :func:`write_totp_key`.

A stored value without the ``totp1:`` prefix is a secret from before sealing (plain base32):
it still opens, and :func:`needs_reseal` says so, so the login seals it with the current key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from collector.errors import CollectorError

__all__ = [
    "SEALED_PREFIX",
    "TOTP_KEY_BYTES",
    "TotpKeyError",
    "TotpSealer",
    "load_totp_key",
    "needs_reseal",
    "write_totp_key",
]

#: What a sealed secret starts with (base32, a plain secret's alphabet, has no colon).
SEALED_PREFIX: Final = "totp1:"
#: AES-256: the key's length in bytes.
TOTP_KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_MAX_KEY_FILE_BYTES: Final = 1024


class TotpKeyError(CollectorError):
    """A TOTP key file that cannot be used, or a sealed secret that does not open."""


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def write_totp_key(path: Path) -> str:
    """Write a new key (32 random bytes, base64) to ``path`` with mode 0600 from the start;
    its key id. TotpKeyError if the file exists (a key in use is never overwritten)."""
    key = secrets.token_bytes(TOTP_KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise TotpKeyError(f"{path} exists; a TOTP key in use is never overwritten") from None
    except OSError as exc:
        raise TotpKeyError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return _key_id(key)


def load_totp_key(path: Path) -> bytes:
    """The key in ``path``; TotpKeyError naming the file and the fix when it is missing, not a
    regular file, readable by group or others, or not 32 bytes of base64."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise TotpKeyError(f"{path} is not a regular file")
        if mode & 0o077:
            raise TotpKeyError(
                f"{path} is readable by group or others (mode {stat.S_IMODE(mode):o}); "
                f"run: chmod 600 {path}"
            )
        with path.open("rb") as handle:
            text = handle.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise TotpKeyError(
            f"{path} does not exist; create it with: retrofit-collector users totp-key {path}"
        ) from None
    except OSError as exc:
        raise TotpKeyError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(text) > _MAX_KEY_FILE_BYTES or len(key) != TOTP_KEY_BYTES:
        raise TotpKeyError(f"{path}: expected {TOTP_KEY_BYTES} bytes as base64 (a TOTP key)")
    return key


def needs_reseal(stored: str, sealer: TotpSealer) -> bool:
    """True if ``stored`` is a plain secret or was sealed with a key other than the first."""
    return not stored.startswith(f"{SEALED_PREFIX}{sealer.key_id}:")


class TotpSealer:
    """Seals with the first key, opens with any of them (the rest: keys being rotated out)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("a TotpSealer needs at least one key")
        self._keys = {_key_id(key): AESGCM(key) for key in keys}
        #: The id of the key new secrets are sealed with.
        self.key_id = _key_id(keys[0])

    @classmethod
    def from_files(cls, current: Path, previous: Sequence[Path] = ()) -> TotpSealer:
        """The keys of ``current`` (seals) and ``previous`` (open only); TotpKeyError."""
        return cls([load_totp_key(path) for path in (current, *previous)])

    def seal(self, secret: str, user_id: str) -> str:
        """``secret`` sealed for ``user_id`` with the current key."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._keys[self.key_id].encrypt(nonce, secret.encode("ascii"), _aad(user_id))
        body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
        return f"{SEALED_PREFIX}{self.key_id}:{body}"

    def open(self, stored: str, user_id: str) -> str:
        """The secret in ``stored`` (a plain one as it is); TotpKeyError if it was sealed with
        a key not held, for another user, or was changed."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        key_id, _, body = stored[len(SEALED_PREFIX) :].partition(":")
        aead = self._keys.get(key_id)
        if aead is None:
            raise TotpKeyError(
                f"the TOTP secret of {user_id} was sealed with key {key_id}, which is not in "
                "web.totp_key_path or web.totp_previous_key_paths"
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            plain = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _aad(user_id))
        except (InvalidTag, ValueError, binascii.Error):
            raise TotpKeyError(f"the sealed TOTP secret of {user_id} does not open") from None
        return plain.decode("ascii")


def _aad(user_id: str) -> bytes:
    return f"retrofit-verify totp {user_id}".encode()
