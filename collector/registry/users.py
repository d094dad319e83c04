"""Users of the web app, their access tokens and page sessions (a :class:`Registry` mixin).

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
revoked, each with who and when, and every change lands in the audit log.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from collector.errors import ConflictError, NotFoundError
from collector.registry.core import RegistryCore, checked_actor, utc_now
from collector.registry.records import format_time, parse_time
from contract.configfile.types import describe_value

__all__ = [
    "ROLES",
    "TABLES",
    "TOKEN_PATTERN",
    "USER_ID_PATTERN",
    "IssuedToken",
    "Role",
    "Session",
    "TokenEntry",
    "User",
    "UsersMixin",
]

log = logging.getLogger(__name__)

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

TABLES = """
CREATE TABLE IF NOT EXISTS users (
    user_id       TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'platform', 'reviewer', 'observer')),
    platform      TEXT,
    province      TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    disabled_at   TEXT,
    disabled_by   TEXT
);
CREATE TABLE IF NOT EXISTS user_tokens (
    token_id       TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (user_id),
    secret_sha256  TEXT NOT NULL,
    label          TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    expires_at     TEXT,
    revoked_at     TEXT,
    revoked_by     TEXT
);
CREATE INDEX IF NOT EXISTS user_tokens_by_user ON user_tokens (user_id);
CREATE TABLE IF NOT EXISTS web_sessions (
    session_sha256  TEXT PRIMARY KEY,
    token_id        TEXT NOT NULL,
    csrf            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS users_no_delete BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'users are disabled, never deleted'); END;
CREATE TRIGGER IF NOT EXISTS user_tokens_no_delete BEFORE DELETE ON user_tokens
BEGIN SELECT RAISE(ABORT, 'tokens are revoked, never deleted'); END;
"""

_USER_COLUMNS = (
    "user_id, display_name, role, platform, province, created_at, created_by, disabled_at, "
    "disabled_by"
)
_TOKEN_COLUMNS = (
    "token_id, user_id, label, created_at, created_by, expires_at, revoked_at, revoked_by"  # noqa: S105 - column names
)


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


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _maybe_time(value: object) -> dt.datetime | None:
    return None if value is None else parse_time(str(value))


def _user(row: Sequence[object]) -> User:
    user_id, name, role, platform, province, created_at, created_by, disabled_at, by = row
    return User(
        user_id=str(user_id),
        display_name=str(name),
        role=role,  # type: ignore[arg-type]  # CHECK constraint keeps it one of ROLES
        platform=None if platform is None else str(platform),
        province=None if province is None else str(province),
        created_at=parse_time(str(created_at)),
        created_by=str(created_by),
        disabled_at=_maybe_time(disabled_at),
        disabled_by=None if by is None else str(by),
    )


def _token(row: Sequence[object]) -> TokenEntry:
    token_id, user_id, label, created_at, created_by, expires_at, revoked_at, revoked_by = row
    return TokenEntry(
        token_id=str(token_id),
        user_id=str(user_id),
        label=str(label),
        created_at=parse_time(str(created_at)),
        created_by=str(created_by),
        expires_at=_maybe_time(expires_at),
        revoked_at=_maybe_time(revoked_at),
        revoked_by=None if revoked_by is None else str(revoked_by),
    )


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


class UsersMixin:
    """Users, tokens and sessions; mixed into :class:`~collector.registry.store.Registry`."""

    def add_user(
        self: RegistryCore,
        user_id: str,
        *,
        display_name: str,
        role: str,
        platform: str | None = None,
        province: str | None = None,
        by: str,
        now: dt.datetime | None = None,
    ) -> User:
        """Create a user with a role and its scope.

        Raises ValueError for a malformed id, an empty name or a scope that does not fit the
        role; ConflictError if the id exists (ids are never reused, also once disabled).
        """
        actor, at = checked_actor(by), format_time(now or utc_now())
        if not _USER_ID_RE.fullmatch(user_id):
            raise ValueError(
                f"got user id {describe_value(user_id)}, expected 1-64 letters, digits, . _ - @"
            )
        name = display_name.strip()
        if not name or len(name) > 200:
            raise ValueError("expected a display name of 1-200 characters")
        check_scope(role, platform, province)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone():
                raise ConflictError(f"user {user_id} exists; user ids are never reused")
            conn.execute(
                f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",  # noqa: S608 - literal
                (user_id, name, role, platform, province, at, actor),
            )
            self._audit(
                conn, at, actor, "user.add", f"user:{user_id}",
                role=role, platform=platform, province=province, display_name=name,
            )  # fmt: skip
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?",  # noqa: S608 - literal
                (user_id,),
            ).fetchone()
        log.info("user %s (%s) added by %s", user_id, role, actor)
        return _user(row)

    def disable_user(
        self: RegistryCore, user_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> User:
        """Disable a user: their tokens and sessions stop working at once.

        Raises NotFoundError, ConflictError if already disabled, ValueError without a reason.
        """
        actor, at = checked_actor(by), format_time(now or utc_now())
        if not reason.strip():
            raise ValueError("expected a reason (--reason)")
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?",  # noqa: S608 - literal
                (user_id,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no user {user_id} in {self.path}")
            if row[7] is not None:
                raise ConflictError(f"user {user_id} is already disabled since {row[7]}")
            conn.execute(
                "UPDATE users SET disabled_at = ?, disabled_by = ? WHERE user_id = ?",
                (at, actor, user_id),
            )
            conn.execute(
                "DELETE FROM web_sessions WHERE token_id IN "
                "(SELECT token_id FROM user_tokens WHERE user_id = ?)",
                (user_id,),
            )
            self._audit(conn, at, actor, "user.disable", f"user:{user_id}", reason=reason[:1000])
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?",  # noqa: S608 - literal
                (user_id,),
            ).fetchone()
        log.warning("user %s disabled by %s", user_id, actor)
        return _user(row)

    def user(self: RegistryCore, user_id: str) -> User | None:
        """The user with this id, or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?",  # noqa: S608 - literal
                (user_id,),
            ).fetchone()
        return None if row is None else _user(row)

    def users(self: RegistryCore) -> list[User]:
        """Every user, by id."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users ORDER BY user_id"  # noqa: S608 - literal
            ).fetchall()
        return [_user(row) for row in rows]

    def issue_token(
        self: RegistryCore,
        user_id: str,
        *,
        label: str,
        by: str,
        valid_days: int | None = None,
        now: dt.datetime | None = None,
    ) -> IssuedToken:
        """Make a new token for an enabled user; its text is returned once, only its hash kept.

        Raises NotFoundError, ConflictError for a disabled user, ValueError for a bad label or
        validity.
        """
        moment = now or utc_now()
        actor, at = checked_actor(by), format_time(moment)
        label = label.strip() or "token"
        if len(label) > 200:
            raise ValueError("expected a label of at most 200 characters")
        if valid_days is not None and not 1 <= valid_days <= 3660:
            raise ValueError(f"got {valid_days} days, expected 1..3660")
        expires = None if valid_days is None else moment + dt.timedelta(days=valid_days)
        token_id = secrets.token_hex(6)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        with self._write() as conn:
            row = conn.execute(
                "SELECT disabled_at FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no user {user_id} in {self.path}")
            if row[0] is not None:
                raise ConflictError(f"user {user_id} is disabled: no new token")
            conn.execute(
                "INSERT INTO user_tokens (token_id, user_id, secret_sha256, label, created_at, "
                "created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token_id,
                    user_id,
                    _sha256(secret),
                    label,
                    at,
                    actor,
                    None if expires is None else format_time(expires),
                ),
            )
            self._audit(
                conn, at, actor, "token.issue", f"user:{user_id}",
                token_id=token_id, label=label,
                expires_at=None if expires is None else format_time(expires),
            )  # fmt: skip
            entry = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM user_tokens WHERE token_id = ?",  # noqa: S608 - literal
                (token_id,),
            ).fetchone()
        log.info("token %s issued to %s by %s", token_id, user_id, actor)
        return IssuedToken(_token(entry), f"rvt_{token_id}_{secret}")

    def revoke_token(
        self: RegistryCore, token_id: str, *, by: str, now: dt.datetime | None = None
    ) -> TokenEntry:
        """Revoke a token and end its sessions. Raises NotFoundError, ConflictError."""
        actor, at = checked_actor(by), format_time(now or utc_now())
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM user_tokens WHERE token_id = ?",  # noqa: S608 - literal
                (token_id,),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no token {token_id} in {self.path}")
            if row[6] is not None:
                raise ConflictError(f"token {token_id} is already revoked since {row[6]}")
            conn.execute(
                "UPDATE user_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                (at, actor, token_id),
            )
            conn.execute("DELETE FROM web_sessions WHERE token_id = ?", (token_id,))
            self._audit(conn, at, actor, "token.revoke", f"user:{row[1]}", token_id=token_id)
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM user_tokens WHERE token_id = ?",  # noqa: S608 - literal
                (token_id,),
            ).fetchone()
        log.warning("token %s revoked by %s", token_id, actor)
        return _token(row)

    def tokens(self: RegistryCore, user_id: str | None = None) -> list[TokenEntry]:
        """Tokens (of one user if given), without secrets, oldest first."""
        where, params = ("", ()) if user_id is None else (" WHERE user_id = ?", (user_id,))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM user_tokens{where} ORDER BY created_at, token_id",  # noqa: S608 - literal
                params,
            ).fetchall()
        return [_token(row) for row in rows]

    def authenticate(
        self: RegistryCore, token_text: str, *, now: dt.datetime | None = None
    ) -> tuple[User, TokenEntry] | None:
        """The enabled user and valid token this token text proves, or None.

        The secret's hash is compared in constant time; malformed text is None, not an error.
        """
        match = _TOKEN_RE.fullmatch(token_text.strip())
        if match is None:
            return None
        token_id, secret = match.groups()
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS}, secret_sha256 FROM user_tokens WHERE token_id = ?",  # noqa: S608 - literal
                (token_id,),
            ).fetchone()
            if row is None:
                return None
            user_row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?",  # noqa: S608 - literal
                (row[1],),
            ).fetchone()
        if not hmac.compare_digest(str(row[8]), _sha256(secret)):
            return None
        token, user = _token(row[:8]), _user(user_row)
        if user.disabled or not token.valid_at(now or utc_now()):
            return None
        return user, token

    # --- page sessions ---------------------------------------------------------------------

    def open_session(
        self: RegistryCore, token: TokenEntry, *, ttl_s: float, now: dt.datetime | None = None
    ) -> tuple[str, str]:
        """Open a page session for an authenticated token; return (cookie value, CSRF token).

        The session ends at ``ttl_s`` or when the token expires, whichever is first. Expired
        sessions are swept here, so the table stays small without a cleaner process.
        """
        moment = now or utc_now()
        ends = moment + dt.timedelta(seconds=ttl_s)
        if token.expires_at is not None:
            ends = min(ends, token.expires_at)
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (format_time(moment),))
            conn.execute(
                "INSERT INTO web_sessions (session_sha256, token_id, csrf, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                (_sha256(cookie), token.token_id, csrf, format_time(moment), format_time(ends)),
            )
        return cookie, csrf

    def session(
        self: RegistryCore, cookie: str, *, now: dt.datetime | None = None
    ) -> Session | None:
        """The live session behind a cookie value (user enabled, token valid), or None."""
        if not 20 <= len(cookie) <= 100:
            return None
        moment = now or utc_now()
        with self._read() as conn:
            row = conn.execute(
                "SELECT token_id, csrf, expires_at FROM web_sessions WHERE session_sha256 = ?",
                (_sha256(cookie),),
            ).fetchone()
            if row is None or parse_time(str(row[2])) <= moment:
                return None
            token_row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM user_tokens WHERE token_id = ?",  # noqa: S608 - literal
                (row[0],),
            ).fetchone()
            user_row = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?",  # noqa: S608 - literal
                (token_row[1],),
            ).fetchone()
        token, user = _token(token_row), _user(user_row)
        if user.disabled or not token.valid_at(moment):
            return None
        return Session(user, token, str(row[1]), parse_time(str(row[2])))

    def close_session(self: RegistryCore, cookie: str) -> None:
        """End the session behind a cookie value (log out); nothing if there is none."""
        with self._write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE session_sha256 = ?", (_sha256(cookie),))
