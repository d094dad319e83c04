"""Password hashes: argon2id (RFC 9106) through argon2-cffi, checked in constant time.

The parameters are argon2-cffi's defaults, RFC 9106's second recommended option ("low
memory": t=3, 64 MiB, p=4): a check took 420-870 ms (median ~650 ms) on the shared 2-core
test machine under load (bench/login_hash.py), and a guess costs an attacker who copied the
registry as much. The web app runs at most two checks at once per process
(collector/web/login.py) so that a burst of logins cannot take 64 MiB per server thread.
The hash string carries its parameters, so raising them later re-hashes each password at its
owner's next login (:func:`needs_rehash`; collector/web/login.py does it, the only moment the
password is at hand).
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "needs_rehash", "verify_password"]


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory parameters


@cache
def _decoy() -> str:
    # Checked when the login name is unknown, so an unknown name costs the same time as a
    # wrong password and names cannot be discovered by timing.
    return _hasher().hash("not a password: the decoy for unknown login names")


def hash_password(password: str) -> str:
    """The argon2id hash string of ``password`` (PHC format, salt and parameters included)."""
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored_hash``; None (no such account) checks a decoy."""
    try:
        return _hasher().verify(stored_hash or _decoy(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True if the hash was made with other parameters than today's."""
    try:
        return _hasher().check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True
