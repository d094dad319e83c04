"""Page sessions: ``web_sessions``, one row per logged-in browser.

A session cookie's value is kept only as its SHA-256, so a copy of the registry file opens no
session. A password login's session names no token (``password:<user>``,
:mod:`collector.registry.accounts`). A session ends at its time to live, when its token
expires, is revoked or its user disabled (:mod:`collector.registry.sql.users` deletes its
rows then), or at log-out.
"""

from __future__ import annotations

import datetime as dt
import secrets

from collector.registry.accounts import password_session_token
from collector.registry.core import utc_now
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Database
from collector.registry.sql.users import token_row, user_row
from collector.registry.users import Session, TokenEntry, secret_hash

__all__ = ["SqlSessionRepository"]


class SqlSessionRepository:
    """Page sessions: opened for an authenticated token, found by cookie, closed at log-out."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def open(
        self, token: TokenEntry, *, ttl_s: float, now: dt.datetime | None = None
    ) -> tuple[str, str]:
        """Open a session for an authenticated token; return (cookie value, CSRF token).

        The session ends at ``ttl_s`` or when the token expires, whichever is first. Expired
        sessions are swept here, so the table stays small without a cleaner process.
        """
        moment = now or utc_now()
        ends = moment + dt.timedelta(seconds=ttl_s)
        if token.expires_at is not None:
            ends = min(ends, token.expires_at)
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (format_time(moment),))
            conn.execute(
                "INSERT INTO web_sessions (session_sha256, token_id, csrf, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                (secret_hash(cookie), token.token_id, csrf, format_time(moment), format_time(ends)),
            )
        return cookie, csrf

    def find(self, cookie: str, *, now: dt.datetime | None = None) -> Session | None:
        """The live session behind a cookie value (user enabled, token valid), or None."""
        if not 20 <= len(cookie) <= 100:
            return None
        moment = now or utc_now()
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT token_id, csrf, expires_at FROM web_sessions WHERE session_sha256 = ?",
                (secret_hash(cookie),),
            ).fetchone()
            if row is None or parse_time(str(row[2])) <= moment:
                return None
            token = token_row(conn, str(row[0])) or password_session_token(str(row[0]))
            user = None if token is None else user_row(conn, token.user_id)
        if token is None or user is None or user.disabled or not token.valid_at(moment):
            return None
        return Session(user, token, str(row[1]), parse_time(str(row[2])))

    def close(self, cookie: str) -> None:
        """End the session behind a cookie value (log out); nothing if there is none."""
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM web_sessions WHERE session_sha256 = ?", (secret_hash(cookie),)
            )
