"""Users of the web app, their access tokens and page sessions: roles, records and checks.

Roles (docs/web.md, "Roles and scopes"):

- ``admin``: the operator of the collector; sees everything, records no review decision.
- ``platform``: a service platform's engineer; sees only the platform named in ``platform``.
- ``reviewer``: MIIT/MoF or a provincial department (or an expert they appoint); sees the
  province in ``province`` or, without one, every province; records review decisions.
- ``observer``: read-only, for a province or nationally like a reviewer.

A token is ``rvt_<token id>_<secret>``: the id (public, 12 hex digits) finds the row, the secret
(32 random bytes, base64url) is kept only as its SHA-256. A slow password hash buys nothing for
a 256-bit random secret (nobody can guess it, fast hash or slow), so SHA-256 it is, compared in
constant time. A session cookie's value is likewise kept only as its SHA-256, so a copy of the
registry file opens no session.

Users and tokens are never deleted (triggers abort a DELETE): a user is disabled, a token
revoked, each with who and when, and every change lands in the audit log. This module holds
what every backend shares (records, checks, token text); the SQLite tables are
:mod:`collector.registry.sql.users` and :mod:`~collector.registry.sql.sessions`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

from contract.configfile.types import describe_value

__all__ = [
    "ROLES",
    "TOKEN_PATTERN",
    "USER_ID_PATTERN",
    "IssuedToken",
    "Role",
    "Session",
    "TokenEntry",
    "User",
    "check_scope",
    "checked_display_name",
    "checked_label",
    "matches_secret",
    "new_token",
    "secret_hash",
    "split_token",
]

Role = Literal["admin", "platform", "reviewer", "observer"]
ROLES: tuple[str, ...] = get_args(Role)

#: Login names: letters (any script, so 李审核 works), digits, ``. _ - @``; 1-64 characters.
USER_ID_PATTERN = r"^[\w][\w.@-]{0,63}$"
_USER_ID_RE = re.compile(USER_ID_PATTERN)
#: ``rvt_`` + 12 hex digits + ``_`` + 43 base64url characters (32 bytes).
TOKEN_PATTERN = r"^rvt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$"  # noqa: S105 - a pattern, not a secret
_TOKEN_RE = re.compile(TOKEN_PATTERN)
_PROVINCE_RE = re.compile(r"^[1-9][0-9]{5}$")
_PLATFORM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class User:
    """A user of the web app: role and scope (a platform id, or a province code, or neither)."""

    user_id: str
    display_name: str
    role: Role
    platform: str | None
    province: str | None
    created_at: dt.datetime
    created_by: str
    disabled_at: dt.datetime | None = None
    disabled_by: str | None = None

    @property
    def disabled(self) -> bool:
        """True once the user is disabled: none of their tokens or sessions is accepted."""
        return self.disabled_at is not None


@dataclass(frozen=True, slots=True)
class TokenEntry:
    """A token's row without its secret: whose, what for, since and until when."""

    token_id: str
    user_id: str
    label: str
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None

    def valid_at(self, moment: dt.datetime) -> bool:
        """True if neither revoked nor expired at ``moment``."""
        if self.revoked_at is not None and self.revoked_at <= moment:
            return False
        return self.expires_at is None or moment < self.expires_at


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``text`` is shown once and never stored."""

    entry: TokenEntry
    text: str


@dataclass(frozen=True, slots=True)
class Session:
    """A page session: the user and token behind it, its CSRF token and its expiry."""

    user: User
    token: TokenEntry
    csrf: str
    expires_at: dt.datetime


def secret_hash(text: str) -> str:
    """What is stored of a token secret or a session cookie: its SHA-256, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def matches_secret(stored_hash: str, secret: str) -> bool:
    """True if ``secret`` hashes to ``stored_hash`` (compared in constant time)."""
    return hmac.compare_digest(stored_hash, secret_hash(secret))


def new_token() -> tuple[str, str]:
    """A fresh (token id, secret): 12 hex digits and 32 random bytes in base64url."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
    return secrets.token_hex(6), secret


def split_token(token_text: str) -> tuple[str, str] | None:
    """(token id, secret) of ``rvt_<id>_<secret>``, or None for malformed text."""
    match = _TOKEN_RE.fullmatch(token_text.strip())
    return None if match is None else (match.group(1), match.group(2))


def checked_display_name(user_id: str, display_name: str) -> str:
    """The display name, stripped; ValueError for a malformed user id or an empty name."""
    if not _USER_ID_RE.fullmatch(user_id):
        raise ValueError(
            f"got user id {describe_value(user_id)}, expected 1-64 letters, digits, . _ - @"
        )
    name = display_name.strip()
    if not name or len(name) > 200:
        raise ValueError("expected a display name of 1-200 characters")
    return name


def checked_label(label: str, valid_days: int | None) -> str:
    """A token's label, stripped (``token`` if empty); ValueError for an overlong label or a
    validity outside 1..3660 days."""
    label = label.strip() or "token"
    if len(label) > 200:
        raise ValueError("expected a label of at most 200 characters")
    if valid_days is not None and not 1 <= valid_days <= 3660:
        raise ValueError(f"got {valid_days} days, expected 1..3660")
    return label


def check_scope(role: str, platform: str | None, province: str | None) -> None:
    """ValueError unless the scope fits the role (docs/web.md, "Roles and scopes")."""
    if role not in ROLES:
        raise ValueError(f"got role {describe_value(role)}, expected one of {', '.join(ROLES)}")
    if role == "platform":
        if platform is None or not _PLATFORM_RE.fullmatch(platform):
            raise ValueError("a platform engineer needs --platform with a platform id")
        if province is not None:
            raise ValueError("a platform engineer is scoped by --platform only, not --province")
        return
    if platform is not None:
        raise ValueError(f"--platform is only for the platform role, not {role}")
    if province is not None and role == "admin":
        raise ValueError("an admin is national: no --province")
    if province is not None and not _PROVINCE_RE.fullmatch(province):
        raise ValueError(f"got province {describe_value(province)}, expected a 6-digit code")
