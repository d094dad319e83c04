"""Users and their access tokens: ``users`` and ``user_tokens``.

Rows are never deleted (triggers abort a DELETE): a user is disabled, a token revoked, each
with who and when, in the same transaction as its audit row. A token's secret is kept only as
its SHA-256 (:mod:`collector.registry.users` says why). Page sessions are
:mod:`collector.registry.sql.sessions`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TypeVar

from collector.errors import ConflictError, NotFoundError
from collector.registry.core import checked_actor, utc_now
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Connection, Database, audit
from collector.registry.users import (
    IssuedToken,
    TokenEntry,
    User,
    check_scope,
    checked_display_name,
    checked_label,
    matches_secret,
    new_token,
    secret_hash,
    split_token,
)

__all__ = ["SqlUserRepository", "token_row", "user_row"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_USER_COLUMNS = (
    "user_id, display_name, role, platform, province, created_at, created_by, disabled_at, "
    "disabled_by"
)
_TOKEN_COLUMNS = (
    "token_id, user_id, label, created_at, created_by, expires_at, revoked_at, revoked_by"  # noqa: S105 - column names
)


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


def user_row(conn: Connection, user_id: str) -> User | None:
    """The user with this id, read with the caller's connection, or None."""
    row = conn.execute(
        f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = ?",  # noqa: S608 - literal
        (user_id,),
    ).fetchone()
    return None if row is None else _user(row)


def token_row(conn: Connection, token_id: str) -> TokenEntry | None:
    """The token with this id (without its secret), read with the caller's connection."""
    row = conn.execute(
        f"SELECT {_TOKEN_COLUMNS} FROM user_tokens WHERE token_id = ?",  # noqa: S608 - literal
        (token_id,),
    ).fetchone()
    return None if row is None else _token(row)


def _found(entry: _T | None, what: str, path: object) -> _T:
    if entry is None:
        raise NotFoundError(f"no {what} in {path}")
    return entry


class SqlUserRepository:
    """Users of the web app and their access tokens."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(
        self,
        user_id: str,
        *,
        display_name: str,
        role: str,
        platform: str | None = None,
        province: str | None = None,
        by: str,
        now: dt.datetime | None = None,
    ) -> User:
        """Create a user with a role and its scope (see Registry.add_user)."""
        actor, at = checked_actor(by), format_time(now or utc_now())
        name = checked_display_name(user_id, display_name)
        check_scope(role, platform, province)
        with self._db.write("users") as conn:
            if conn.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone():
                raise ConflictError(f"user {user_id} exists; user ids are never reused")
            conn.execute(
                f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",  # noqa: S608 - literal
                (user_id, name, role, platform, province, at, actor),
            )
            audit(
                conn, at, actor, "user.add", f"user:{user_id}",
                role=role, platform=platform, province=province, display_name=name,
            )  # fmt: skip
            user = _found(user_row(conn, user_id), f"user {user_id}", self._db.location)
        log.info("user %s (%s) added by %s", user_id, role, actor)
        return user

    def disable(
        self, user_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> User:
        """Disable a user and end their sessions (see Registry.disable_user)."""
        actor, at = checked_actor(by), format_time(now or utc_now())
        if not reason.strip():
            raise ValueError("expected a reason (--reason)")
        with self._db.write("users") as conn:
            user = _found(user_row(conn, user_id), f"user {user_id}", self._db.location)
            if user.disabled_at is not None:
                raise ConflictError(
                    f"user {user_id} is already disabled since {format_time(user.disabled_at)}"
                )
            conn.execute(
                "UPDATE users SET disabled_at = ?, disabled_by = ? WHERE user_id = ?",
                (at, actor, user_id),
            )
            conn.execute(
                "DELETE FROM web_sessions WHERE token_id IN "
                "(SELECT token_id FROM user_tokens WHERE user_id = ?)",
                (user_id,),
            )
            audit(conn, at, actor, "user.disable", f"user:{user_id}", reason=reason[:1000])
            user = _found(user_row(conn, user_id), f"user {user_id}", self._db.location)
        log.warning("user %s disabled by %s", user_id, actor)
        return user

    def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        with self._db.read() as conn:
            return user_row(conn, user_id)

    def listing(self) -> list[User]:
        """Every user, by id."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users ORDER BY user_id"  # noqa: S608 - literal
            ).fetchall()
        return [_user(row) for row in rows]

    def issue_token(
        self,
        user_id: str,
        *,
        label: str,
        by: str,
        valid_days: int | None = None,
        now: dt.datetime | None = None,
    ) -> IssuedToken:
        """Make a new token for an enabled user (see Registry.issue_token)."""
        moment = now or utc_now()
        actor, at = checked_actor(by), format_time(moment)
        label = checked_label(label, valid_days)
        expires = None if valid_days is None else moment + dt.timedelta(days=valid_days)
        until = None if expires is None else format_time(expires)
        token_id, secret = new_token()
        with self._db.write("users") as conn:
            user = _found(user_row(conn, user_id), f"user {user_id}", self._db.location)
            if user.disabled:
                raise ConflictError(f"user {user_id} is disabled: no new token")
            conn.execute(
                "INSERT INTO user_tokens (token_id, user_id, secret_sha256, label, created_at, "
                "created_by, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_id, user_id, secret_hash(secret), label, at, actor, until),
            )
            audit(
                conn, at, actor, "token.issue", f"user:{user_id}",
                token_id=token_id, label=label, expires_at=until,
            )  # fmt: skip
            entry = _found(token_row(conn, token_id), f"token {token_id}", self._db.location)
        log.info("token %s issued to %s by %s", token_id, user_id, actor)
        return IssuedToken(entry, f"rvt_{token_id}_{secret}")

    def revoke_token(self, token_id: str, *, by: str, now: dt.datetime | None = None) -> TokenEntry:
        """Revoke a token and end its sessions. Raises NotFoundError, ConflictError."""
        actor, at = checked_actor(by), format_time(now or utc_now())
        with self._db.write("users") as conn:
            token = _found(token_row(conn, token_id), f"token {token_id}", self._db.location)
            if token.revoked_at is not None:
                raise ConflictError(
                    f"token {token_id} is already revoked since {format_time(token.revoked_at)}"
                )
            conn.execute(
                "UPDATE user_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                (at, actor, token_id),
            )
            conn.execute("DELETE FROM web_sessions WHERE token_id = ?", (token_id,))
            audit(conn, at, actor, "token.revoke", f"user:{token.user_id}", token_id=token_id)
            token = _found(token_row(conn, token_id), f"token {token_id}", self._db.location)
        log.warning("token %s revoked by %s", token_id, actor)
        return token

    def tokens(self, user_id: str | None = None) -> list[TokenEntry]:
        """Tokens (of one user if given), without secrets, oldest first."""
        where, params = ("", ()) if user_id is None else (" WHERE user_id = ?", (user_id,))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM user_tokens{where} ORDER BY created_at, token_id",  # noqa: S608 - literal
                params,
            ).fetchall()
        return [_token(row) for row in rows]

    def authenticate(
        self, token_text: str, *, now: dt.datetime | None = None
    ) -> tuple[User, TokenEntry] | None:
        """The enabled user and valid token this token text proves, or None."""
        parts = split_token(token_text)
        if parts is None:
            return None
        token_id, secret = parts
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_TOKEN_COLUMNS}, secret_sha256 FROM user_tokens WHERE token_id = ?",  # noqa: S608 - literal
                (token_id,),
            ).fetchone()
            if row is None:
                return None
            user = _found(user_row(conn, str(row[1])), f"user {row[1]}", self._db.location)
        if not matches_secret(str(row[8]), secret):
            return None
        token = _token(row[:8])
        if user.disabled or not token.valid_at(now or utc_now()):
            return None
        return user, token
