"""The registry: plans, agents, seqs, status, quarantine, users, decisions and the web app's
limits, behind one object.

:class:`Registry` is the one way registry state is read and written. Each method is one call
to one repository (:attr:`Registry.repositories`, typed by :mod:`collector.registry.ports`),
so each is one transaction: a write happens whole or not at all. The repositories
(:mod:`collector.registry.sql`) run on a SQLite file (:mod:`collector.registry.sqlite`, the
default) or a PostgreSQL database (:mod:`collector.registry.postgres`, a ``postgresql://``
URL: several hosts); times passed in must be aware datetimes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TextIO

from collector.errors import IdCollision
from collector.plan import LoadedPlan, Plan
from collector.registry.account_calls import AccountCalls
from collector.registry.attachment_calls import AttachmentCalls
from collector.registry.day_seal_calls import DaySealCalls
from collector.registry.enterprises import Listing
from collector.registry.ownership import registry_refusal
from collector.registry.ports import DirtyDay, PendingDay, Repositories
from collector.registry.postgres import PostgresDatabase
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
from collector.registry.settings import RegistryLocation, RegistrySettings, is_postgres_url
from collector.registry.sql import Database, repositories
from collector.registry.sqlite import SqliteDatabase
from collector.registry.web_calls import WebAppCalls
from contract import wire

__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "Registry"]

#: How long a writer waits for another process's write lock before giving up, in seconds.
DEFAULT_BUSY_TIMEOUT_S = 30.0


def _open(location: RegistryLocation, password: str | None, busy_timeout_s: float) -> Database:
    if isinstance(location, RegistrySettings):
        if not location.is_postgres:
            return SqliteDatabase(Path(location.url), busy_timeout_s=busy_timeout_s)
        return PostgresDatabase(
            location.url,
            password=password if password is not None else location.secret(),
            lock_timeout_s=busy_timeout_s,
            pool_size=location.pool_size,
        )
    if is_postgres_url(location):
        return PostgresDatabase(str(location), password=password, lock_timeout_s=busy_timeout_s)
    return SqliteDatabase(Path(location), busy_timeout_s=busy_timeout_s)


class Registry(WebAppCalls, AccountCalls, DaySealCalls, AttachmentCalls):
    """The registry at ``location``: a SQLite file (created if missing), a ``postgresql://``
    URL (its schema created if missing; ``password`` if the URL has none), or the
    configuration's :class:`~collector.registry.settings.RegistrySettings` naming either.

    One per process; safe to share between threads, and between processes (on one machine for
    a SQLite file; on any number of hosts for PostgreSQL).
    The web app's calls (users, sessions, decisions, its limits) come from
    :class:`~collector.registry.web_calls.WebAppCalls`; people's logins (passwords, TOTP,
    delays) from :class:`~collector.registry.account_calls.AccountCalls`; day seals and their
    checks from :class:`~collector.registry.day_seal_calls.DaySealCalls`; enterprise files
    from :class:`~collector.registry.attachment_calls.AttachmentCalls`.
    Raises RegistryUnavailable (``retryable`` when the cause is a lock held past the busy
    timeout, or a database server that could not be reached) if it cannot be opened or used.
    """

    def __init__(
        self,
        location: RegistryLocation,
        *,
        password: str | None = None,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> None:
        self._database = _open(location, password, busy_timeout_s)
        #: Where the registry is, for messages: the file, or the URL without its password.
        self.path: Path | str = (
            Path(self._database.location)
            if isinstance(self._database, SqliteDatabase)
            else self._database.location
        )
        #: The repositories behind the methods, one per concern.
        self.repositories: Repositories = repositories(self._database)

    def close(self) -> None:
        """Close its connections; the registry cannot be used afterwards."""
        self._database.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- plans ------------------------------------------------------------------------------

    def load_plan(
        self, loaded: LoadedPlan, *, by: str, now: dt.datetime | None = None
    ) -> PlanLoadResult:
        """Store a validated plan as a new version if its content differs from the current one.

        Loading the same content again changes nothing (``created`` is False). The plan's agents
        are registered (new ids) or their device lists updated. Raises, writing nothing,
        IdCollisionError if another plan key holds one of the plan's platform, enterprise or
        agent ids (checked in the write transaction, so two loads cannot both pass), and
        ConflictError if an agent id or key in the plan is registered differently.
        """
        return self.repositories.plans.load(loaded, by=by, now=now)

    def plan_id_collisions(self, plan: Plan) -> tuple[IdCollision, ...]:
        """The plan's platform, enterprise and agent ids that another plan key holds and this
        plan never did (a read: :meth:`load_plan` checks again in its write transaction)."""
        return self.repositories.plans.id_collisions_with(plan)

    def id_collisions(self) -> tuple[IdCollision, ...]:
        """Ids more than one plan key claims now (latest versions, agents not revoked): what a
        registry loaded before ids were checked across plans may hold."""
        return self.repositories.plans.id_collisions()

    def require_unique_ids(self) -> None:
        """Raise IdCollisionError naming every id more than one plan claims; else nothing.

        ``serve`` and ``ingest`` call it before they start.
        """
        collisions = self.id_collisions()
        if collisions:
            raise registry_refusal(self.path, collisions)

    def plan_keys(self) -> list[str]:
        """Keys (``<province code>-<batch year>``) of every plan loaded, sorted."""
        return self.repositories.plans.keys()

    def plan_version(self, plan_key: str, version: int | None = None) -> PlanVersion:
        """A plan's given version, or its latest. Raises NotFoundError."""
        return self.repositories.plans.version(plan_key, version)

    def plan_history(self, plan_key: str) -> list[PlanVersionInfo]:
        """Every version of a plan, oldest first (empty if the plan was never loaded)."""
        return self.repositories.plans.history(plan_key)

    def find_enterprise(self, platform_id: str | None, enterprise_id: str) -> Listing | None:
        """The enterprise in the latest version of the plan that lists it, or None.

        ``platform_id`` None matches any platform. Ids are unique across plans
        (:meth:`load_plan` refuses a plan that reuses another's), so at most one plan lists
        it; a registry written before that check, where two plans do, raises IdCollisionError
        rather than choosing one.
        """
        return self.repositories.plans.find_enterprise(platform_id, enterprise_id)

    def enterprise_zone(self, enterprise_id: str) -> str:
        """The enterprise's IANA time zone from the latest plan listing it; raise NotFoundError."""
        return self.repositories.plans.enterprise_zone(enterprise_id)

    # --- agents -----------------------------------------------------------------------------

    def add_agent(
        self,
        agent_id: str,
        *,
        platform: str,
        enterprise: str,
        public_key: str,
        devices: Sequence[str],
        by: str,
        now: dt.datetime | None = None,
    ) -> AgentEntry:
        """Register an agent of an enterprise listed in a loaded plan.

        Raises ValueError for a malformed id, key or device, NotFoundError if no loaded plan
        lists the enterprise, ConflictError if the id or the key is already registered
        (revoked ids are never reused).
        """
        return self.repositories.agents.add(
            agent_id, platform=platform, enterprise=enterprise, public_key=public_key,
            devices=devices, by=by, now=now,
        )  # fmt: skip

    def revoke_agent(
        self, agent_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> AgentEntry:
        """Revoke an agent: from ``now`` on its messages are quarantined as ``revoked_key``.

        The row stays, so the registry can still say "revoked since T". Raises NotFoundError
        for an unknown agent, ConflictError if it is already revoked, ValueError for an empty
        reason.
        """
        return self.repositories.agents.revoke(agent_id, by=by, reason=reason, now=now)

    def agent_identity(self, agent_id: str) -> AgentEntry | None:
        """The registered agent with this id (revoked or not), or None: one indexed read."""
        return self.repositories.agents.identity(agent_id)

    def agent_by_key(self, public_key: str) -> AgentEntry | None:
        """The agent registered with this public key (``ed25519:...``), or None."""
        return self.repositories.agents.by_key(public_key)

    def agents(self, *, platform: str | None = None) -> list[AgentEntry]:
        """Every registered agent (of one platform if given), by platform, enterprise, id."""
        return self.repositories.agents.listing(platform=platform)

    # --- audit ------------------------------------------------------------------------------

    def audit(self, *, subject: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The latest audit entries (about one subject if given), oldest first."""
        return self.repositories.audit.latest(subject=subject, limit=limit)

    def audit_page(
        self,
        *,
        subjects: Sequence[str] | None,
        action: str | None = None,
        subject: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[AuditEntry], int]:
        """Audit entries newest first, within ``subjects`` (None: all); and how many match."""
        return self.repositories.audit.page(
            subjects=subjects, action=action, subject=subject, limit=limit, offset=offset
        )

    # --- daily rollups still to refresh ------------------------------------------------------

    def mark_days_dirty(self, days: Iterable[DirtyDay]) -> None:
        """Record (enterprise, device, local day, tz, earliest window end ms or None) whose
        rollup must be refreshed.

        Durable, so a refresh owed when a collector stops is done by the next one. Marking a
        day again bumps its generation, so a refresh that read it before does not clear it,
        and keeps the earliest end marked (None, not known, stays None until the refresh).
        """
        self.repositories.rollup_queue.mark(days)

    def dirty_days(self, limit: int = 1000) -> list[PendingDay]:
        """Days waiting for a rollup refresh: (enterprise, device, day, tz, generation,
        earliest window end ms marked since the last refresh, or None: not known)."""
        return self.repositories.rollup_queue.pending(limit)

    def clear_dirty_days(self, done: Iterable[tuple[str, str, dt.date, int]]) -> None:
        """Forget refreshed days, unless marked again since (their generation moved on)."""
        self.repositories.rollup_queue.clear(done)

    # --- agent status -----------------------------------------------------------------------

    def update_status(
        self,
        agent_id: str,
        *,
        last_seen: dt.datetime,
        version: str,
        config_digest: str,
        outbox_depth: int,
        state: str,
        now: dt.datetime | None = None,
    ) -> bool:
        """Record an agent's status message; return False if an equally new one is stored.

        A retained status re-delivered after a newer one must not move the agent back in time,
        so an update whose ``last_seen`` is not after the stored one is ignored.
        """
        return self.repositories.status.update(
            agent_id, last_seen=last_seen, version=version, config_digest=config_digest,
            outbox_depth=outbox_depth, state=state, now=now,
        )  # fmt: skip

    def record_status(self, status: wire.StatusMessage, received_at: dt.datetime) -> bool:
        """:meth:`update_status` from a verified status message; ``last_seen`` is when the
        collector received it (the agent's own ``sent`` clock is not trusted for this)."""
        return self.update_status(
            status.agent,
            last_seen=received_at,
            version=status.agent_version,
            config_digest=status.config_digest,
            outbox_depth=status.outbox_depth,
            state=status.state,
        )

    def agent_status(self, agent_id: str) -> AgentStatus | None:
        """What the agent last said about itself, or None if it never did."""
        return self.repositories.status.get(agent_id)

    def agent_statuses(self) -> dict[str, AgentStatus]:
        """What every agent last said about itself, by agent id."""
        return self.repositories.status.every()

    # --- sequence numbers -------------------------------------------------------------------

    def seq_summaries(self) -> dict[str, SeqSummary]:
        """Per agent that sent windows: highest seq, when it came, open gaps (one read)."""
        return self.repositories.seqs.summaries()

    def record_seq(
        self, agent_id: str, seq: int, sha256: str, *, received_at: dt.datetime | None = None
    ) -> SeqOutcome:
        """Record an agent's seq and the SHA-256 (hex) of its content, atomically.

        Returns ``"new"``, ``"duplicate"`` (same seq, same sha256) or ``"replay"`` (same seq,
        different sha256: the first content is kept). A new seq above the highest seen opens a
        gap for the seqs skipped; a new seq below it closes (part of) a gap.
        Raises ValueError for a seq below 1 or a sha256 that is not 64 hex digits.
        """
        return self.record_seqs([(agent_id, seq, sha256)], received_at=received_at)[0]

    def record_seqs(
        self,
        items: Sequence[tuple[str, int, str]],
        *,
        received_at: dt.datetime | None = None,
    ) -> list[SeqOutcome]:
        """:meth:`record_seq` for many ``(agent_id, seq, sha256)`` in one transaction, in order."""
        return self.repositories.seqs.record(items, received_at=received_at)

    def seq_gaps(self, agent_id: str, *, include_closed: bool = False) -> list[SeqGap]:
        """The agent's open seq gaps (and closed ones if asked), in seq order."""
        return self.repositories.seqs.gaps(agent_id, include_closed=include_closed)

    def highest_seq(self, agent_id: str) -> int | None:
        """Highest seq recorded for the agent, or None."""
        return self.repositories.seqs.highest(agent_id)

    def open_gap_counts(self) -> dict[str, tuple[int, int]]:
        """Per agent with open seq gaps: (number of gaps, seqs missing)."""
        return self.repositories.seqs.open_gap_counts()

    # --- quarantine -------------------------------------------------------------------------

    def quarantine_add(
        self,
        raw: bytes,
        topic: str,
        received_at: dt.datetime,
        reason_code: str,
        detail: str,
        agent_id: str | None = None,
    ) -> int:
        """Keep a rejected message (its first QUARANTINE_RAW_LIMIT bytes, full length and
        SHA-256); return its id. Raises ValueError for a reason code outside REASON_PATTERN."""
        return self.repositories.quarantine.add(
            raw, topic, received_at, reason_code, detail, agent_id
        )

    def quarantine_prune(
        self, before: dt.datetime, *, by: str, now: dt.datetime | None = None
    ) -> dict[str, int]:
        """Delete the quarantined messages received before ``before``; their counts per
        topic, agent and reason stay (``quarantine_pruned``), so the evidence's counts do not
        change; one audit row ``quarantine.prune`` if any went. Returns the deleted per
        reason code."""
        return self.repositories.quarantine.prune(before, by=by, now=now)

    def quarantine_counts_since(self, since: dt.datetime) -> dict[str, int]:
        """Quarantined messages per reason code, received at or after ``since``."""
        return self.repositories.quarantine.counts_since(since)

    def quarantine_list(
        self, *, reason: str | None = None, since: dt.datetime | None = None, limit: int = 100
    ) -> list[QuarantineEntry]:
        """Quarantined messages, newest first, without their bytes."""
        return self.repositories.quarantine.listing(reason=reason, since=since, limit=limit)

    def quarantine_get(self, entry_id: int) -> QuarantineEntry | None:
        """One quarantined message with its stored bytes, or None."""
        return self.repositories.quarantine.get(entry_id)

    def quarantine_export(
        self, out: TextIO, *, reason: str | None = None, since: dt.datetime | None = None
    ) -> int:
        """Write quarantined messages to ``out`` as JSON lines, oldest first; return the count."""
        return self.repositories.quarantine.export(out, reason=reason, since=since)

    def quarantine_counts(self) -> dict[str, int]:
        """Quarantined messages per reason code, ever (the pruned ones counted too)."""
        return self.repositories.quarantine.counts()

    def quarantine_counts_for(
        self, platform: str, enterprise: str, agent_ids: Sequence[str] = ()
    ) -> dict[str, dict[str, int]]:
        """Quarantined messages of one enterprise: agent id → reason code → count.

        Counts messages on the enterprise's topics (``rv/v1/{platform}/{enterprise}/...``,
        under the agent id each topic claims) and messages recorded with one of ``agent_ids``,
        ever: the pruned ones are counted too (the evidence's counts survive the retention).
        """
        return self.repositories.quarantine.counts_for(platform, enterprise, agent_ids)

    def quarantine_page(
        self,
        *,
        scope: tuple[Sequence[str], Sequence[str]] | None,
        reason: str | None = None,
        since: str | None = None,
        entry_id: int | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[QuarantineEntry], int]:
        """Quarantined messages newest first, without their bytes; and how many match.

        ``scope`` is (topic prefixes, agent ids): an entry is in scope when its topic starts
        with one of the prefixes (``rv/v1/{platform}/``: the ingest does not always know the
        agent) or it was recorded with one of the agent ids. None: every entry, also those on
        no platform's topic. ``since`` is a stored time text; ``entry_id`` picks one entry.
        """
        return self.repositories.quarantine.page(
            scope=scope, reason=reason, since=since, entry_id=entry_id, limit=limit,
            offset=offset,
        )  # fmt: skip
