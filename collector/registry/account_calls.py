"""The registry calls of people's logins: passwords, TOTP, delays after failures, challenges.

:class:`AccountCalls` is a base of :class:`~collector.registry.Registry`: one-line delegates to
its ``accounts`` repository (:mod:`collector.registry.sql.accounts`), apart from the web
app's other calls (:mod:`~collector.registry.web_calls`) so each file stays readable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from collector.accounts import DelayRule
from collector.registry.accounts import Account, ChallengeKind, LoginChallenge, PasswordChange
from collector.registry.ports import Repositories

__all__ = ["AccountCalls"]


class AccountCalls:
    """Passwords, TOTP, login delays and challenges, over ``repositories.accounts``."""

    repositories: Repositories

    def account(self, user_id: str) -> Account | None:
        """The user's password login, or None (a user with tokens only)."""
        return self.repositories.accounts.get(user_id)

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
        """Store a password hash (checked by the caller's policy) and end the user's password
        sessions; audited as ``account.password_<why>``.

        Raises NotFoundError for an unknown user, ConflictError for a disabled one.
        """
        return self.repositories.accounts.set_password(
            user_id, password_hash, must_change=must_change, why=why, by=by, now=now
        )

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
        """Enrol a TOTP secret (``step``: its first code's, used) or remove it (None).

        Raises NotFoundError if the user has no password login.
        """
        self.repositories.accounts.set_totp(
            user_id, secret, step=step, by=by, reason=reason, now=now
        )

    def rehash_password(self, user_id: str, old_hash: str, new_hash: str) -> bool:
        """Store a stronger hash of the same password (argon2 parameters raised); False if
        the password changed meanwhile."""
        return self.repositories.accounts.rehash(user_id, old_hash, new_hash)

    def reseal_totp(self, user_id: str, old: str, new: str) -> bool:
        """Replace the stored TOTP secret ``old`` by ``new``, the same secret sealed anew
        (collector/accounts/sealing.py); False if it changed meanwhile. Audited."""
        return self.repositories.accounts.reseal_totp(user_id, old, new)

    def use_totp_step(self, user_id: str, step: int) -> bool:
        """Mark a TOTP time step used; False if it was (a replayed code)."""
        return self.repositories.accounts.use_totp_step(user_id, step)

    def open_password_session(
        self,
        user_id: str,
        *,
        ttl_s: float,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> tuple[str, str]:
        """A page session for a password login: (cookie, CSRF token); audited ``auth.login``."""
        return self.repositories.accounts.open_session(user_id, ttl_s=ttl_s, detail=detail, now=now)

    def note_login(
        self, action: str, subject: str, detail: Mapping[str, object], *, by: str = "anonymous"
    ) -> None:
        """One audit row about a login step (a refusal, a half-done login)."""
        self.repositories.accounts.note(action, subject, detail, by=by)

    def login_waits(
        self, keys: Sequence[str], rule: DelayRule, *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]:
        """Keys that must wait after failed logins, and until when."""
        return self.repositories.accounts.waits(keys, rule, now=now)

    def login_failure_counts(
        self, keys: Sequence[str], rule: DelayRule, *, now: dt.datetime | None = None
    ) -> dict[str, int]:
        """The live failure counts of ``keys``."""
        return self.repositories.accounts.failures(keys, rule, now=now)

    def record_password_failure(
        self,
        keys: Sequence[str],
        rule: DelayRule,
        *,
        subject: str,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> dict[str, dt.datetime]:
        """Count a failed password or TOTP attempt under each key, audited; next allowed
        times."""
        return self.repositories.accounts.record_failure(
            keys, rule, subject=subject, detail=detail, now=now
        )

    def clear_login_failures(self, keys: Sequence[str]) -> None:
        """Forget the failures of ``keys`` (a login from them succeeded)."""
        self.repositories.accounts.clear_failures(keys)

    def open_login_challenge(
        self, user_id: str, kind: ChallengeKind, *, ttl_s: float, now: dt.datetime | None = None
    ) -> str:
        """A ticket for a login's next step (TOTP code or new password)."""
        return self.repositories.accounts.open_challenge(user_id, kind, ttl_s=ttl_s, now=now)

    def login_challenge(
        self, ticket: str, *, now: dt.datetime | None = None
    ) -> LoginChallenge | None:
        """The live challenge behind a ticket, or None."""
        return self.repositories.accounts.challenge(ticket, now=now)

    def close_login_challenge(self, ticket: str) -> None:
        """End a challenge."""
        self.repositories.accounts.close_challenge(ticket)
