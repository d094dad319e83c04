"""The registry calls the web app makes: users, tokens, page sessions, review decisions,
evidence-run slots and failed logins.

:class:`WebAppCalls` is the base of :class:`~collector.registry.Registry`: one-line delegates
to its repositories, kept apart from the collector's own calls so each file stays readable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from collector.registry.decisions import Decision
from collector.registry.ports import Repositories
from collector.registry.runs import RunSlot, SlotClaim, SlotState
from collector.registry.throttle import FailureOutcome, ThrottleLimits
from collector.registry.users import IssuedToken, Session, TokenEntry, User

__all__ = ["WebAppCalls"]

_T = TypeVar("_T")


class WebAppCalls:
    """Users, tokens, sessions, decisions and the web app's limits, over ``repositories``."""

    repositories: Repositories

    # --- users and tokens -------------------------------------------------------------------

    def add_user(
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
        """Create a user with a role and its scope.

        Raises ValueError for a malformed id, an empty name or a scope that does not fit the
        role; ConflictError if the id exists (ids are never reused, also once disabled).
        """
        return self.repositories.users.add(
            user_id, display_name=display_name, role=role, platform=platform,
            province=province, by=by, now=now,
        )  # fmt: skip

    def disable_user(
        self, user_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> User:
        """Disable a user: their tokens and sessions stop working at once.

        Raises NotFoundError, ConflictError if already disabled, ValueError without a reason.
        """
        return self.repositories.users.disable(user_id, by=by, reason=reason, now=now)

    def user(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        return self.repositories.users.get(user_id)

    def users(self) -> list[User]:
        """Every user, by id."""
        return self.repositories.users.listing()

    def issue_token(
        self,
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
        return self.repositories.users.issue_token(
            user_id, label=label, by=by, valid_days=valid_days, now=now
        )

    def revoke_token(self, token_id: str, *, by: str, now: dt.datetime | None = None) -> TokenEntry:
        """Revoke a token and end its sessions. Raises NotFoundError, ConflictError."""
        return self.repositories.users.revoke_token(token_id, by=by, now=now)

    def tokens(self, user_id: str | None = None) -> list[TokenEntry]:
        """Tokens (of one user if given), without secrets, oldest first."""
        return self.repositories.users.tokens(user_id)

    def authenticate(
        self, token_text: str, *, now: dt.datetime | None = None
    ) -> tuple[User, TokenEntry] | None:
        """The enabled user and valid token this token text proves, or None.

        The secret's hash is compared in constant time; malformed text is None, not an error.
        """
        return self.repositories.users.authenticate(token_text, now=now)

    # --- page sessions ----------------------------------------------------------------------

    def open_session(
        self, token: TokenEntry, *, ttl_s: float, now: dt.datetime | None = None
    ) -> tuple[str, str]:
        """Open a page session for an authenticated token; return (cookie value, CSRF token).

        The session ends at ``ttl_s`` or when the token expires, whichever is first.
        """
        return self.repositories.sessions.open(token, ttl_s=ttl_s, now=now)

    def session(self, cookie: str, *, now: dt.datetime | None = None) -> Session | None:
        """The live session behind a cookie value (user enabled, token valid), or None."""
        return self.repositories.sessions.find(cookie, now=now)

    def close_session(self, cookie: str) -> None:
        """End the session behind a cookie value (log out); nothing if there is none."""
        self.repositories.sessions.close(cookie)

    # --- review decisions -------------------------------------------------------------------

    def record_decision(
        self,
        *,
        platform: str,
        enterprise: str,
        bundle_sha256: str,
        evidence_status: str,
        outcome: str,
        comment: str,
        by: str,
        now: dt.datetime | None = None,
        check_bundle: Callable[[], None] | None = None,
        documents: Sequence[str] = (),
    ) -> Decision:
        """Append a decision on the bundle ``bundle_sha256`` (its manifest's SHA-256).

        The caller has checked that the bundle exists and is the enterprise's; ``check_bundle``,
        if given, checks again inside the write transaction (raising to write nothing), so a
        bundle pruned meanwhile (:meth:`with_cited_bundles`) is never cited. ``documents``: the
        SHA-256s of the enterprise's documents (一企一档) the reviewer saw, each one that its
        file lists (checked in the transaction). Raises ValueError for an unknown outcome, a
        malformed hash, an empty or overlong comment, or a document not in the file.
        """
        return self.repositories.decisions.record(
            platform=platform, enterprise=enterprise, bundle_sha256=bundle_sha256,
            evidence_status=evidence_status, outcome=outcome, comment=comment, by=by, now=now,
            check_bundle=check_bundle, documents=documents,
        )  # fmt: skip

    def record_evidence_run(
        self,
        *,
        platform: str,
        enterprise: str,
        bundle_sha256: str,
        status: str,
        seed: int,
        by: str,
        now: dt.datetime | None = None,
    ) -> None:
        """Write to the audit log that ``by`` ran the evidence engine and which bundle came."""
        self.repositories.audit.append(
            by=by.strip() or "?",
            action="evidence.run",
            subject=f"{platform}/{enterprise}",
            detail={"bundle": bundle_sha256, "status": status, "seed": seed},
            now=now,
        )

    def with_cited_bundles(self, enterprise: str, action: Callable[[frozenset[str]], _T]) -> _T:
        """Call ``action`` with the bundle ids any decision on the enterprise id cites (on any
        platform: bundles are filed by enterprise id), holding the registry's write lock, so no
        decision can cite a bundle while ``action`` runs (pruning)."""
        return self.repositories.decisions.with_cited_bundles(enterprise, action)

    def decisions(self, platform: str, enterprise: str) -> list[Decision]:
        """Every decision on an enterprise, oldest first (the last one is in force)."""
        return self.repositories.decisions.history(platform, enterprise)

    def latest_decisions(self) -> dict[tuple[str, str], Decision]:
        """The decision in force per (platform, enterprise)."""
        return self.repositories.decisions.latest()

    # --- evidence-run slots -----------------------------------------------------------------

    def claim_run_slot(
        self,
        *,
        user: str,
        platform: str,
        enterprise: str,
        holder: str,
        per_user: int,
        per_enterprise: int,
        queue: int,
        lease_s: float,
        now: dt.datetime | None = None,
    ) -> SlotClaim:
        """Take a waiting slot for a run if the limits leave room; else say which limit is full.

        Expired leases (crashed replicas) are swept first, in the same transaction, so their
        slots count no more. Raises ValueError for a limit below 1 or a lease not above 0.
        """
        return self.repositories.run_slots.claim(
            user=user, platform=platform, enterprise=enterprise, holder=holder,
            per_user=per_user, per_enterprise=per_enterprise, queue=queue, lease_s=lease_s,
            now=now,
        )  # fmt: skip

    def renew_run_slot(
        self,
        slot_id: str,
        *,
        lease_s: float,
        state: SlotState | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Extend a slot's lease (and set its state); False if the slot is gone (it expired)."""
        return self.repositories.run_slots.renew(slot_id, lease_s=lease_s, state=state, now=now)

    def release_run_slot(self, slot_id: str) -> None:
        """Give the slot back (its worker has finished); nothing if it is already gone."""
        self.repositories.run_slots.release(slot_id)

    def run_slots(self, *, now: dt.datetime | None = None) -> list[RunSlot]:
        """Slots whose lease has not expired, oldest claim first."""
        return self.repositories.run_slots.live(now=now)

    # --- failed logins ----------------------------------------------------------------------

    def login_locks(
        self, keys: Sequence[str], *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]:
        """Which of ``keys`` are locked now, and until when."""
        return self.repositories.login_failures.locks(keys, now=now)

    def record_login_failure(
        self,
        keys: Sequence[str],
        *,
        limits: ThrottleLimits,
        subject: str,
        detail: dict[str, object],
        now: dt.datetime | None = None,
    ) -> FailureOutcome:
        """Count a failed login under each key (none already locked) and audit it, bounded.

        The audit row is ``auth.failure`` while every key is under its limit, ``auth.lock``
        (once) for the failure that locks a key, and none for failures on a key already
        locked. Old rows are swept here, so the table holds only recent keys.
        """
        return self.repositories.login_failures.record(
            keys, limits=limits, subject=subject, detail=detail, now=now
        )

    def take_upload(
        self, limits: Mapping[str, ThrottleLimits], *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]:
        """Count one document upload under each key of ``limits`` (``upload:user:<id>``,
        ``upload:addr:<address>``, each with its limit) unless one is held back past its
        limit; the keys held back and until when (empty: go on, counted). Shared by every
        replica, as the login throttle is. ValueError for a key without ``upload:``."""
        return self.repositories.login_failures.take_upload(limits, now=now)
