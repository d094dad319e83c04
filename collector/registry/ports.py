"""The registry's repositories as protocols: the seam where a storage backend plugs in.

:class:`~collector.registry.Registry` talks to its state only through these, one per concern;
:mod:`collector.registry.sql` implements them once, over a SQLite file
(:mod:`collector.registry.sqlite`) or a PostgreSQL connection pool
(:mod:`collector.registry.postgres`). Whatever the backend:

- each method is one transaction: a write happens whole or not at all, and a read sees one
  snapshot;
- the seq rules (:class:`SeqRepository.record`: new, duplicate, replay, gaps) are atomic per
  agent across every process and host that shares the registry;
- the audit log, plan versions and review decisions are append-only, enforced by the database
  itself, not only by the code;
- input is checked before a transaction opens (:mod:`collector.registry.core` and the record
  modules hold the checks, so both backends refuse the same things with the same messages).

A method raises RegistryUnavailable (``retryable`` if a later try can help) when the backend
cannot be used, and otherwise what its Registry counterpart documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO, TypeVar

from collector.accounts import DelayRule
from collector.attachments import Upload
from collector.errors import IdCollision
from collector.plan import LoadedPlan, Plan
from collector.registry.accounts import Account, ChallengeKind, LoginChallenge, PasswordChange
from collector.registry.attachments import Attachment, AttachResult
from collector.registry.day_seals import DayCheck, DaySealEntry, SealStored
from collector.registry.decisions import Decision
from collector.registry.enterprises import Listing
from collector.registry.records import (
    AgentEntry,
    AgentStatus,
    AuditEntry,
    PlanLoadResult,
    PlanVersion,
    PlanVersionInfo,
    QuarantineEntry,
    SeqGap,
    SeqOutcome,
    SeqSummary,
)
from collector.registry.runs import RunSlot, SlotClaim, SlotState
from collector.registry.throttle import FailureOutcome, ThrottleLimits
from collector.registry.users import IssuedToken, Session, TokenEntry, User
from contract import wire

__all__ = [
    "AccountRepository",
    "AgentRepository",
    "AttachmentRepository",
    "AuditLog",
    "DaySealRepository",
    "DecisionRepository",
    "DirtyDay",
    "LoginFailures",
    "PendingDay",
    "PlanRepository",
    "QuarantineRepository",
    "Repositories",
    "RollupQueue",
    "RunSlots",
    "SeqRepository",
    "SessionRepository",
    "StatusRepository",
    "UserRepository",
]

_T = TypeVar("_T")
#: A day whose rollup is owed: (enterprise, device, local day, IANA zone, the earliest window
#: end written to it, ms since the epoch; None: not known, the refresh recomputes the day whole).
DirtyDay = tuple[str, str, dt.date, str, int | None]
#: A day waiting in the queue: (enterprise, device, local day, IANA zone, generation, the
#: earliest window end marked since its last refresh or None: not known).
PendingDay = tuple[str, str, dt.date, str, int, int | None]


class PlanRepository(Protocol):
    """Plan versions (append-only), the ids each plan claims, which plan lists an enterprise."""

    def load(
        self, loaded: LoadedPlan, *, by: str, now: dt.datetime | None = None
    ) -> PlanLoadResult: ...
    def id_collisions_with(self, plan: Plan) -> tuple[IdCollision, ...]: ...
    def id_collisions(self) -> tuple[IdCollision, ...]: ...
    def keys(self) -> list[str]: ...
    def version(self, plan_key: str, version: int | None = None) -> PlanVersion: ...
    def history(self, plan_key: str) -> list[PlanVersionInfo]: ...
    def find_enterprise(self, platform_id: str | None, enterprise_id: str) -> Listing | None: ...
    def enterprise_zone(self, enterprise_id: str) -> str: ...


class AgentRepository(Protocol):
    """Agents: id, key, enterprise, devices; revoked, never deleted."""

    def add(
        self,
        agent_id: str,
        *,
        platform: str,
        enterprise: str,
        public_key: str,
        devices: Sequence[str],
        by: str,
        now: dt.datetime | None = None,
    ) -> AgentEntry: ...
    def revoke(
        self, agent_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> AgentEntry: ...
    def identity(self, agent_id: str) -> AgentEntry | None: ...
    def by_key(self, public_key: str) -> AgentEntry | None: ...
    def listing(self, *, platform: str | None = None) -> list[AgentEntry]: ...


class StatusRepository(Protocol):
    """What each agent last said about itself; never moved back in time."""

    def update(
        self,
        agent_id: str,
        *,
        last_seen: dt.datetime,
        version: str,
        config_digest: str,
        outbox_depth: int,
        state: str,
        now: dt.datetime | None = None,
    ) -> bool: ...
    def get(self, agent_id: str) -> AgentStatus | None: ...
    def every(self) -> dict[str, AgentStatus]: ...


class SeqRepository(Protocol):
    """Per-agent seq records: new, duplicate or replay, the highest, the gaps below it."""

    def record(
        self, items: Sequence[tuple[str, int, str]], *, received_at: dt.datetime | None = None
    ) -> list[SeqOutcome]: ...
    def summaries(self) -> dict[str, SeqSummary]: ...
    def gaps(self, agent_id: str, *, include_closed: bool = False) -> list[SeqGap]: ...
    def highest(self, agent_id: str) -> int | None: ...
    def open_gap_counts(self) -> dict[str, tuple[int, int]]: ...


class QuarantineRepository(Protocol):
    """Rejected messages, kept with their reason; pruned past the retention, their counts
    kept."""

    def add(
        self,
        raw: bytes,
        topic: str,
        received_at: dt.datetime,
        reason_code: str,
        detail: str,
        agent_id: str | None = None,
    ) -> int: ...
    def prune(
        self, before: dt.datetime, *, by: str, now: dt.datetime | None = None
    ) -> dict[str, int]: ...
    def counts_since(self, since: dt.datetime) -> dict[str, int]: ...
    def counts(self) -> dict[str, int]: ...
    def counts_for(
        self, platform: str, enterprise: str, agent_ids: Sequence[str] = ()
    ) -> dict[str, dict[str, int]]: ...
    def listing(
        self, *, reason: str | None = None, since: dt.datetime | None = None, limit: int = 100
    ) -> list[QuarantineEntry]: ...
    def get(self, entry_id: int) -> QuarantineEntry | None: ...
    def export(
        self, out: TextIO, *, reason: str | None = None, since: dt.datetime | None = None
    ) -> int: ...
    def page(
        self,
        *,
        scope: tuple[Sequence[str], Sequence[str]] | None,
        reason: str | None = None,
        since: str | None = None,
        entry_id: int | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[QuarantineEntry], int]: ...


class RollupQueue(Protocol):
    """The days whose daily rollup must be recomputed, each with a generation and the earliest
    window end marked since its last refresh."""

    def mark(self, days: Iterable[DirtyDay]) -> None: ...
    def pending(self, limit: int = 1000) -> list[PendingDay]: ...
    def clear(self, done: Iterable[tuple[str, str, dt.date, int]]) -> None: ...


class DaySealRepository(Protocol):
    """Day seals (append-only, by hash; one per (agent, device, chain index)) and the
    checks of daily rows against them (upserted)."""

    def add(self, seal: wire.DaySeal, raw: bytes, *, received_at: dt.datetime) -> SealStored: ...
    def get(self, seal_sha256: str) -> DaySealEntry | None: ...
    def of_days(self, days: Iterable[tuple[str, str, dt.date]]) -> list[DaySealEntry]: ...
    def latest(
        self, enterprise: str, start_day: dt.date, end_day: dt.date
    ) -> list[DaySealEntry]: ...
    def chain(
        self, agent_id: str, device: str, *, first_index: int = 1, last_index: int | None = None
    ) -> list[DaySealEntry]: ...
    def segment(self, agent_id: str, device: str, since_day: dt.date) -> list[DaySealEntry]: ...
    def put_checks(self, checks: Sequence[DayCheck]) -> None: ...
    def checks(
        self, enterprise: str, start_day: dt.date, end_day: dt.date, *, outcome: str | None = None
    ) -> list[DayCheck]: ...


class AuditLog(Protocol):
    """The audit log: append-only; the writes append their own rows in their transactions."""

    def append(
        self,
        *,
        by: str,
        action: str,
        subject: str,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> None: ...
    def latest(self, *, subject: str | None = None, limit: int = 1000) -> list[AuditEntry]: ...
    def page(
        self,
        *,
        subjects: Sequence[str] | None,
        action: str | None = None,
        subject: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[AuditEntry], int]: ...


class UserRepository(Protocol):
    """Users of the web app and their access tokens; disabled or revoked, never deleted."""

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
    ) -> User: ...
    def disable(
        self, user_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> User: ...
    def get(self, user_id: str) -> User | None: ...
    def listing(self) -> list[User]: ...
    def issue_token(
        self,
        user_id: str,
        *,
        label: str,
        by: str,
        valid_days: int | None = None,
        now: dt.datetime | None = None,
    ) -> IssuedToken: ...
    def revoke_token(
        self, token_id: str, *, by: str, now: dt.datetime | None = None
    ) -> TokenEntry: ...
    def tokens(self, user_id: str | None = None) -> list[TokenEntry]: ...
    def authenticate(
        self, token_text: str, *, now: dt.datetime | None = None
    ) -> tuple[User, TokenEntry] | None: ...


class SessionRepository(Protocol):
    """Page sessions, found by the hash of their cookie."""

    def open(
        self, token: TokenEntry, *, ttl_s: float, now: dt.datetime | None = None
    ) -> tuple[str, str]: ...
    def find(self, cookie: str, *, now: dt.datetime | None = None) -> Session | None: ...
    def close(self, cookie: str) -> None: ...


class DecisionRepository(Protocol):
    """Review decisions, append-only."""

    def record(
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
    ) -> Decision: ...
    def with_cited_bundles(self, enterprise: str, action: Callable[[frozenset[str]], _T]) -> _T: ...
    def history(self, platform: str, enterprise: str) -> list[Decision]: ...
    def latest(self) -> dict[tuple[str, str], Decision]: ...


class RunSlots(Protocol):
    """Evidence-run slots: leases shared by every web replica."""

    def claim(
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
    ) -> SlotClaim: ...
    def renew(
        self,
        slot_id: str,
        *,
        lease_s: float,
        state: SlotState | None = None,
        now: dt.datetime | None = None,
    ) -> bool: ...
    def release(self, slot_id: str) -> None: ...
    def live(self, *, now: dt.datetime | None = None) -> list[RunSlot]: ...


class LoginFailures(Protocol):
    """Failed-login counters and locks, shared by every web replica."""

    def locks(
        self, keys: Sequence[str], *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]: ...
    def record(
        self,
        keys: Sequence[str],
        *,
        limits: ThrottleLimits,
        subject: str,
        detail: dict[str, object],
        now: dt.datetime | None = None,
    ) -> FailureOutcome: ...
    def take_upload(
        self, limits: Mapping[str, ThrottleLimits], *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]: ...


class AccountRepository(Protocol):
    """People's logins: passwords, TOTP, delays after failures, challenges between steps."""

    def get(self, user_id: str) -> Account | None: ...
    def set_password(
        self,
        user_id: str,
        password_hash: str,
        *,
        must_change: bool,
        why: PasswordChange,
        by: str,
        now: dt.datetime | None = None,
    ) -> Account: ...
    def set_totp(
        self,
        user_id: str,
        secret: str | None,
        *,
        step: int = 0,
        by: str,
        reason: str = "",
        now: dt.datetime | None = None,
    ) -> None: ...
    def rehash(self, user_id: str, old_hash: str, new_hash: str) -> bool: ...
    def use_totp_step(self, user_id: str, step: int) -> bool: ...
    def reseal_totp(self, user_id: str, old: str, new: str) -> bool: ...
    def open_session(
        self,
        user_id: str,
        *,
        ttl_s: float,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> tuple[str, str]: ...
    def note(
        self,
        action: str,
        subject: str,
        detail: Mapping[str, object],
        *,
        by: str = "anonymous",
        now: dt.datetime | None = None,
    ) -> None: ...
    def waits(
        self, keys: Sequence[str], rule: DelayRule, *, now: dt.datetime | None = None
    ) -> dict[str, dt.datetime]: ...
    def failures(
        self, keys: Sequence[str], rule: DelayRule, *, now: dt.datetime | None = None
    ) -> dict[str, int]: ...
    def record_failure(
        self,
        keys: Sequence[str],
        rule: DelayRule,
        *,
        subject: str,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> dict[str, dt.datetime]: ...
    def clear_failures(self, keys: Sequence[str]) -> None: ...
    def open_challenge(
        self, user_id: str, kind: ChallengeKind, *, ttl_s: float, now: dt.datetime | None = None
    ) -> str: ...
    def challenge(
        self, ticket: str, *, now: dt.datetime | None = None
    ) -> LoginChallenge | None: ...
    def close_challenge(self, ticket: str) -> None: ...


class AttachmentRepository(Protocol):
    """Enterprise files: documents by SHA-256, listed per enterprise; append-only."""

    def attach(
        self,
        upload: Upload,
        *,
        platform: str,
        enterprise: str,
        by: str,
        now: dt.datetime | None = None,
    ) -> AttachResult: ...
    def withdraw(
        self,
        platform: str,
        enterprise: str,
        sha256: str,
        *,
        reason: str,
        by: str,
        now: dt.datetime | None = None,
    ) -> Attachment: ...
    def listing(self, platform: str, enterprise: str) -> list[Attachment]: ...
    def content(
        self, platform: str, enterprise: str, sha256: str
    ) -> tuple[Attachment, bytes] | None: ...
    def download(
        self,
        platform: str,
        enterprise: str,
        sha256: str,
        *,
        by: str,
        source: str,
        now: dt.datetime | None = None,
    ) -> tuple[Attachment, bytes] | None: ...


@dataclass(frozen=True, slots=True)
class Repositories:
    """One backend's repositories, sharing its connection (or pool) and its transactions."""

    plans: PlanRepository
    agents: AgentRepository
    status: StatusRepository
    seqs: SeqRepository
    quarantine: QuarantineRepository
    rollup_queue: RollupQueue
    audit: AuditLog
    users: UserRepository
    sessions: SessionRepository
    decisions: DecisionRepository
    run_slots: RunSlots
    login_failures: LoginFailures
    accounts: AccountRepository
    day_seals: DaySealRepository
    attachments: AttachmentRepository
