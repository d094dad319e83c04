"""People's logins as the registry keeps them: a password hash, whether it must be changed,
the TOTP secret and the last time step used, and the challenges between a login's steps.

The computing (policy, argon2id, delays, TOTP) is :mod:`collector.accounts`; this module holds
the records every backend shares. The tables are :mod:`collector.registry.sql.accounts`.

A page session opened by a password login is a ``web_sessions`` row whose ``token_id`` is
``password:<user id>`` (:func:`password_session_id`): it is no token, so it can never be used
as a bearer token, and a password change or reset ends every such session of its user.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from collector.registry.users import TokenEntry

__all__ = [
    "PASSWORD_SESSION_PREFIX",
    "Account",
    "ChallengeKind",
    "LoginChallenge",
    "PasswordChange",
    "password_session_id",
    "password_session_token",
]

#: The ``token_id`` of a page session opened by a password (not a token) login.
PASSWORD_SESSION_PREFIX = "password:"  # noqa: S105 - a name, not a secret

#: What a login still needs after its password: a TOTP code, or a new password.
ChallengeKind = Literal["totp", "change"]
#: Why a password was set: by an administrator for a new account, by its owner, or a reset.
PasswordChange = Literal["set", "change", "reset"]


def password_session_id(user_id: str) -> str:
    """The ``token_id`` a password login's sessions carry."""
    return f"{PASSWORD_SESSION_PREFIX}{user_id}"


def password_session_token(token_id: str) -> TokenEntry | None:
    """What a password login's session stands on, in a token's shape: the user, no expiry
    (the session's own time to live ends it); None if ``token_id`` is not one."""
    if not token_id.startswith(PASSWORD_SESSION_PREFIX):
        return None
    user_id = token_id.removeprefix(PASSWORD_SESSION_PREFIX)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return TokenEntry(token_id, user_id, "password login", epoch, user_id, None)


@dataclass(frozen=True, slots=True)
class Account:
    """A user's password login: hash, must change, TOTP (secret, since, last step used)."""

    user_id: str
    password_hash: str
    must_change: bool
    set_at: dt.datetime
    set_by: str
    totp_secret: str | None = None
    totp_since: dt.datetime | None = None
    totp_last_step: int = 0

    @property
    def has_totp(self) -> bool:
        """True once a second factor is enrolled."""
        return self.totp_secret is not None


@dataclass(frozen=True, slots=True)
class LoginChallenge:
    """A login half done: whose, and what it still needs."""

    user_id: str
    kind: ChallengeKind
    expires_at: dt.datetime
