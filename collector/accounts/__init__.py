"""People's logins to the web app: passwords, their policy, slowing after failures, TOTP.

Pure: values in, values out, no database or web code (docs/web.md, "Accounts").

- :mod:`.policy`: what a new password must be (length, not a common password, not the name);
- :mod:`.passwords`: argon2id hashing and checking;
- :mod:`.delays`: the growing delay after failed logins, per key;
- :mod:`.totp`: time-based one-time passwords (RFC 6238) and their enrolment URI;
- :mod:`.sealing`: TOTP secrets sealed at rest (AES-256-GCM, a key file of mode 0600).

The registry stores what these compute (:mod:`collector.registry.accounts`); the web app and
the ``users`` command use both.
"""

from collector.accounts.delays import DelayRule, FailureCount, delay_s, next_failure
from collector.accounts.passwords import hash_password, needs_rehash, verify_password
from collector.accounts.policy import (
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    PolicyProblem,
    password_problems,
)
from collector.accounts.sealing import (
    SEALED_PREFIX,
    TotpKeyError,
    TotpSealer,
    load_totp_key,
    needs_reseal,
    write_totp_key,
)
from collector.accounts.totp import (
    TOTP_DIGITS,
    TOTP_STEP_S,
    matching_step,
    new_totp_secret,
    provisioning_uri,
    totp_at,
)

__all__ = [
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "SEALED_PREFIX",
    "TOTP_DIGITS",
    "TOTP_STEP_S",
    "DelayRule",
    "FailureCount",
    "PolicyProblem",
    "TotpKeyError",
    "TotpSealer",
    "delay_s",
    "hash_password",
    "load_totp_key",
    "matching_step",
    "needs_rehash",
    "needs_reseal",
    "new_totp_secret",
    "next_failure",
    "password_problems",
    "provisioning_uri",
    "totp_at",
    "verify_password",
    "write_totp_key",
]
