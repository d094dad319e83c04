"""Time-based one-time passwords, RFC 6238 (over HOTP, RFC 4226), for a second factor.

Written out here rather than taken from a library because the check must say *which* time
step matched: a code is accepted once (the account keeps the last step used, and a code of
that step or an earlier one is a replay). Authenticator apps use the defaults: HMAC-SHA1,
6 digits, 30 s steps, the secret as base32 in an ``otpauth://`` URI (Google Authenticator's
"Key Uri Format", which every common app reads). The test vectors are RFC 6238 Appendix B.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = [
    "TOTP_DIGITS",
    "TOTP_STEP_S",
    "hotp",
    "matching_step",
    "new_totp_secret",
    "provisioning_uri",
    "totp_at",
]

TOTP_DIGITS = 6
TOTP_STEP_S = 30
#: Steps accepted either side of now: a phone's clock a little off, a code typed slowly.
_DRIFT_STEPS = 1
_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def new_totp_secret() -> str:
    """A fresh secret: 20 random bytes (RFC 4226 §4 asks for 160 bits), base32 without '='."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret_b32: str) -> bytes:
    text = secret_b32.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def hotp(key: bytes, counter: int, *, digits: int = TOTP_DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: HMAC of the counter, dynamically truncated, ``digits`` decimal digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), _DIGESTS[digest]).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def totp_at(key: bytes, unix_s: float, *, digits: int = TOTP_DIGITS, digest: str = "sha1") -> str:
    """RFC 6238 §4.2: the code at ``unix_s`` (T0 = 0, X = 30 s)."""
    return hotp(key, int(unix_s // TOTP_STEP_S), digits=digits, digest=digest)


def matching_step(secret_b32: str, code: str, unix_s: float, *, after_step: int) -> int | None:
    """The time step whose code ``code`` is (within one step of now, later than
    ``after_step``), or None: a wrong code, or a replay of one already used."""
    cleaned = code.strip().replace(" ", "")
    if len(cleaned) != TOTP_DIGITS or not (cleaned.isascii() and cleaned.isdigit()):
        return None
    key = _key(secret_b32)
    now_step = int(unix_s // TOTP_STEP_S)
    found = None
    for step in range(now_step - _DRIFT_STEPS, now_step + _DRIFT_STEPS + 1):
        # Every candidate is compared (no early exit), each in constant time.
        if hmac.compare_digest(hotp(key, step), cleaned) and step > after_step:
            found = step
    return found


def provisioning_uri(secret_b32: str, account: str, issuer: str = "retrofit-verify") -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads from the QR code."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": secret_b32, "issuer": issuer, "digits": TOTP_DIGITS,
                       "period": TOTP_STEP_S, "algorithm": "SHA1"})  # fmt: skip
    return f"otpauth://totp/{label}?{query}"
