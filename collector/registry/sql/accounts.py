"""People's logins: ``user_passwords`` (hash, must change, TOTP), ``login_delays`` (failures
per key, shared by every web replica) and ``login_challenges`` (a login between its steps).

What a delay is and when it applies is :mod:`collector.accounts.delays` and the web app's
(collector/web/login.py); here each change is one transaction with its audit row.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence

from collector.accounts import DelayRule, FailureCount, delay_s, next_failure
from collector.errors import ConflictError, NotFoundError
from collector.registry.accounts import (
    Account,
    ChallengeKind,
    LoginChallenge,
    PasswordChange,
    password_session_id,
)
from collector.registry.core import checked_actor, utc_now
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Connection, Database, audit
from collector.registry.sql.users import user_row
from collector.registry.users import secret_hash

__all__ = ["SqlAccounts"]

#: What every write of ``login_delays`` holds, not a lock per key: a failure's sweep deletes
#: other keys' stale rows, so per-key locks let two failed logins each hold a row the other
#: needed next, and PostgreSQL aborted one (as for login_failures' TABLE_LOCK, and the test
#: tests/collector/test_registry_login_sweep.py). Failed password logins are few.
_DELAYS_LOCK = "login_delays"

_COLUMNS = (
    "user_id, password_hash, must_change, set_at, set_by, totp_secret, totp_since, totp_last_step"
)


def _account(row: Sequence[object]) -> Account:
    user_id, password_hash, must_change, set_at, set_by, secret, since, step = row
    return Account(
        user_id=str(user_id),
        password_hash=str(password_hash),
        must_change=bool(must_change),
        set_at=parse_time(str(set_at)),
        set_by=str(set_by),
        totp_secret=None if secret is None else str(secret),
        totp_since=None if since is None else parse_time(str(since)),
        totp_last_step=int(str(step)),
    )


def _account_row(conn: Connection, user_id: str) -> Account | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM user_passwords WHERE user_id = ?",  # noqa: S608 - literal
        (user_id,),
    ).fetchone()
    return None if row is None else _account(row)


def _enabled_user(conn: Connection, user_id: str) -> None:
    user = user_row(conn, user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id}: add it first (retrofit-collector users add)")
    if user.disabled:
        raise ConflictError(f"user {user_id} is disabled: a disabled user has no login")


class SqlAccounts:
    """Passwords, TOTP, login delays and challenges."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # --- passwords and TOTP ----------------------------------------------------------------

    def get(self, user_id: str) -> Account | None:
        """The user's password login, or None if they have none (tokens only)."""
        with self._db.read() as conn:
            return _account_row(conn, user_id)

    def set_password(
        self,
        user_id: str,
        password_hash: str,
        *,
        must_change: bool,
        why: PasswordChange,
        by: str,
        now: dt.datetime | None = None,
    ) -> Account:
        """Store a new password hash; end the user's password sessions; audit it.

        Raises NotFoundError for an unknown user, ConflictError for a disabled one.
        """
        actor, at = checked_actor(by), format_time(now or utc_now())
        with self._db.write(f"account:{user_id}") as conn:
            _enabled_user(conn, user_id)
            conn.execute(
                "INSERT INTO user_passwords (user_id, password_hash, must_change, set_at, set_by) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
                "password_hash = excluded.password_hash, must_change = excluded.must_change, "
                "set_at = excluded.set_at, set_by = excluded.set_by",
                (user_id, password_hash, int(must_change), at, actor),
            )
            ended = conn.execute(
                "DELETE FROM web_sessions WHERE token_id = ?", (password_session_id(user_id),)
            ).rowcount
            audit(
                conn, at, actor, f"account.password_{why}", f"user:{user_id}",
                must_change=must_change, sessions_ended=max(ended, 0),
            )  # fmt: skip
            found = _account_row(conn, user_id)
        if found is None:  # pragma: no cover - written in this transaction
            raise NotFoundError(f"no password for {user_id}")
        return found

    def rehash(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """Replace a hash made with older parameters by one of the same password; False if the
        password changed meanwhile (nothing written). Not audited: the password is the same."""
        with self._db.write(f"account:{user_id}") as conn:
            changed = conn.execute(
                "UPDATE user_passwords SET password_hash = ? "
                "WHERE user_id = ? AND password_hash = ?",
                (new_hash, user_id, old_hash),
            ).rowcount
        return changed == 1

    def set_totp(
        self,
        user_id: str,
        secret: str | None,
        *,
        step: int = 0,
        by: str,
        reason: str = "",
        now: dt.datetime | None = None,
    ) -> None:
        """Enrol a TOTP secret (its first code's ``step`` used) or, with None, remove it.

        Raises NotFoundError if the user has no password login.
        """
        actor, at = checked_actor(by), format_time(now or utc_now())
        with self._db.write(f"account:{user_id}") as conn:
            _enabled_user(conn, user_id)
            changed = conn.execute(
                "UPDATE user_passwords SET totp_secret = ?, totp_since = ?, totp_last_step = ? "
                "WHERE user_id = ?",
                (secret, None if secret is None else at, step, user_id),
            ).rowcount
            if changed != 1:
                raise NotFoundError(f"user {user_id} has no password login, so no second factor")
            action = "account.totp_enrol" if secret is not None else "account.totp_remove"
            audit(conn, at, actor, action, f"user:{user_id}", reason=reason[:1000])

    def reseal_totp(self, user_id: str, old: str, new: str) -> bool:
        """Store the same TOTP secret sealed anew (``old`` → ``new``: a plain secret sealed, or
        sealed with a newer key); False if the stored value is no longer ``old``. Audited as
        ``account.totp_reseal``; the enrolment's time and last step stay."""
        at = format_time(utc_now())
        with self._db.write(f"account:{user_id}") as conn:
            changed = conn.execute(
                "UPDATE user_passwords SET totp_secret = ? WHERE user_id = ? AND totp_secret = ?",
                (new, user_id, old),
            ).rowcount
            if changed == 1:
                audit(conn, at, "collector", "account.totp_reseal", f"user:{user_id}")
        return changed == 1

    def use_totp_step(self, user_id: str, step: int) -> bool:
        """Record ``step`` as used; False if it (or a later one) was used already: a replay."""
        with self._db.write(f"account:{user_id}") as conn:
            used = conn.execute(
                "UPDATE user_passwords SET totp_last_step = ? "
                "WHERE user_id = ? AND totp_last_step < ?",
                (step, user_id, step),
            ).rowcount
        return used == 1

    # --- sessions and the audit of a login ----------------------------------------------------

    def open_session(
        self,
        user_id: str,
        *,
        ttl_s: float,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> tuple[str, str]:
        """A page session for a password login: (cookie value, CSRF token); audited."""
        moment = now or utc_now()
        at = format_time(moment)
        ends = format_time(moment + dt.timedelta(seconds=ttl_s))
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._db.write() as conn:
            conn.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (at,))
            conn.execute(
                "INSERT INTO web_sessions (session_sha256, token_id, csrf, created_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)",
                (secret_hash(cookie), password_session_id(user_id), csrf, at, ends),
            )
            audit(conn, at, user_id, "auth.login", f"user:{user_id}", **detail)
        return cookie, csrf

    def note(
        self,
        action: str,
        subject: str,
        detail: Mapping[str, object],
        *,
        by: str = "anonymous",
        now: dt.datetime | None = None,
    ) -> None:
        """One audit row about a login (a refusal, a half-done step)."""
        with self._db.write() as conn:
            audit(conn, format_time(now or utc_now()), by, action, subject, **detail)

    # --- delays ----------------------------------------------------------------------------

    def waits(
        self, keys: Sequence[str], rule: DelayRule, *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]:
        """Which of ``keys`` must wait, and until when (keys without a wait are left out)."""
        moment = now or utc_now()
        found: dict[str, dt.datetime] = {}
        with self._db.read() as conn:
            for key in keys:
                count = _count(conn, key)
                if count is not None and count.live(moment, rule):
                    until = count.not_before(rule)
                    if until > moment:
                        found[key] = until
        return found

    def failures(
        self, keys: Sequence[str], rule: DelayRule, *, now: dt.datetime | None = None
    ) -> dict[str, int]:
        """Live failure counts of ``keys`` (keys without failures are left out)."""
        moment = now or utc_now()
        with self._db.read() as conn:
            counts = {key: _count(conn, key) for key in keys}
        return {
            key: count.failures
            for key, count in counts.items()
            if count is not None and count.live(moment, rule)
        }

    def record_failure(
        self,
        keys: Sequence[str],
        rule: DelayRule,
        *,
        subject: str,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> dict[str, dt.datetime]:
        """Count a failed login under each key and audit it: ``auth.failure``, or
        ``auth.lockout`` when it starts a key's delay. Returns each key's next allowed time."""
        moment = now or utc_now()
        at = format_time(moment)
        after: dict[str, dt.datetime] = {}
        failures: dict[str, int] = {}
        with self._db.write(_DELAYS_LOCK) as conn:
            stale = format_time(moment - dt.timedelta(seconds=rule.forget_s))
            conn.execute("DELETE FROM login_delays WHERE last_at <= ?", (stale,))
            for key in keys:
                count = next_failure(_count(conn, key), moment, rule)
                conn.execute(
                    "INSERT INTO login_delays (key, failures, last_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, "
                    "last_at = excluded.last_at",
                    (key, count.failures, at),
                )
                failures[key] = count.failures
                after[key] = count.not_before(rule)
            starts = [key for key, n in failures.items() if n == rule.free + 1]
            audit(
                conn, at, "anonymous", "auth.lockout" if starts else "auth.failure", subject,
                **detail, failures=failures,
                delays_s={key: delay_s(n, rule) for key, n in failures.items()},
            )  # fmt: skip
        return after

    def clear_failures(self, keys: Sequence[str]) -> None:
        """Forget the failures of ``keys`` (a login from them succeeded)."""
        with self._db.write(_DELAYS_LOCK) as conn:
            for key in keys:
                conn.execute("DELETE FROM login_delays WHERE key = ?", (key,))

    # --- challenges --------------------------------------------------------------------------

    def open_challenge(
        self,
        user_id: str,
        kind: ChallengeKind,
        *,
        ttl_s: float,
        now: dt.datetime | None = None,
    ) -> str:
        """A ticket for the login's next step (a hidden form field), valid ``ttl_s``."""
        moment = now or utc_now()
        ticket = secrets.token_urlsafe(32)
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM login_challenges WHERE expires_at <= ?", (format_time(moment),)
            )
            conn.execute(
                "INSERT INTO login_challenges (challenge_sha256, user_id, kind, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    secret_hash(ticket),
                    user_id,
                    kind,
                    format_time(moment + dt.timedelta(seconds=ttl_s)),
                ),
            )
        return ticket

    def challenge(self, ticket: str, *, now: dt.datetime | None = None) -> LoginChallenge | None:
        """The live challenge behind a ticket, or None."""
        if not 20 <= len(ticket) <= 100:
            return None
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT user_id, kind, expires_at FROM login_challenges WHERE challenge_sha256 = ?",
                (secret_hash(ticket),),
            ).fetchone()
        if row is None or parse_time(str(row[2])) <= (now or utc_now()):
            return None
        kind: ChallengeKind = "totp" if row[1] == "totp" else "change"
        return LoginChallenge(str(row[0]), kind, parse_time(str(row[2])))

    def close_challenge(self, ticket: str) -> None:
        """End a challenge (its step is done, or given up)."""
        with self._db.write() as conn:
            conn.execute(
                "DELETE FROM login_challenges WHERE challenge_sha256 = ?", (secret_hash(ticket),)
            )


def _count(conn: Connection, key: str) -> FailureCount | None:
    row = conn.execute(
        "SELECT failures, last_at FROM login_delays WHERE key = ?", (key,)
    ).fetchone()
    return None if row is None else FailureCount(int(row[0]), parse_time(str(row[1])))
