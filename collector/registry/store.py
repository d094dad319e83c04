"""The registry: the one place SQLite registry state is read and written.

One :class:`Registry` per process; it is safe to share between threads (a lock serialises its
one connection) and between processes on one machine (WAL and a busy timeout, see
:mod:`collector.registry.schema`). Every write is one ``BEGIN IMMEDIATE`` transaction: it
happens whole or not at all. Times passed in must be aware datetimes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TextIO

from collector.errors import ConflictError, IdCollision, NotFoundError, RegistryUnavailable
from collector.plan import Enterprise, LoadedPlan, Plan, Platform, plan_changes, plan_content
from collector.registry import ownership, quarantine, sequence
from collector.registry.core import checked_actor, utc_now
from collector.registry.decisions import DecisionsMixin
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
    format_time,
    parse_time,
)
from collector.registry.runs import RunSlotsMixin
from collector.registry.schema import connect
from collector.registry.throttle import LoginThrottleMixin
from collector.registry.users import UsersMixin
from collector.registry.views import ViewsMixin
from contract import wire

__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "Registry"]

log = logging.getLogger(__name__)

#: How long a writer waits for another process's write lock before giving up, in seconds.
DEFAULT_BUSY_TIMEOUT_S = 30.0
_SHA256_LEN = 64
_AGENT_COLUMNS = (
    "agent_id, plan_key, platform, enterprise, public_key, devices, added_at, added_by, "
    "revoked_at, revoked_by, revoke_reason"
)
_VERSION_COLUMNS = "plan_key, version, digest, source_name, loaded_at, loaded_by, changes"
#: Enterprise id → where the latest plan versions list it (one place, unless two plans do).
_EnterpriseIndex = dict[str, list[tuple[PlanVersionInfo, Platform, Enterprise]]]


def _agent(row: Sequence[object]) -> AgentEntry:
    (agent_id, plan_key, platform, enterprise, key, devices, added_at, added_by) = row[:8]
    revoked_at, revoked_by, reason = row[8:]
    return AgentEntry(
        agent_id=str(agent_id),
        plan_key=str(plan_key),
        platform=str(platform),
        enterprise=str(enterprise),
        public_key=str(key),
        devices=tuple(json.loads(str(devices))),
        added_at=parse_time(str(added_at)),
        added_by=str(added_by),
        revoked_at=None if revoked_at is None else parse_time(str(revoked_at)),
        revoked_by=None if revoked_by is None else str(revoked_by),
        revoke_reason=None if reason is None else str(reason),
    )


def _version_info(row: Sequence[object]) -> PlanVersionInfo:
    plan_key, version, digest, source_name, loaded_at, loaded_by, changes = row
    return PlanVersionInfo(
        plan_key=str(plan_key),
        version=int(str(version)),
        digest=str(digest),
        source_name=str(source_name),
        loaded_at=parse_time(str(loaded_at)),
        loaded_by=str(loaded_by),
        changes=tuple(json.loads(str(changes))),
    )


class Registry(UsersMixin, DecisionsMixin, ViewsMixin, RunSlotsMixin, LoginThrottleMixin):
    """The registry database: plans, agents, audit, quarantine, seqs and agent status.

    Users, tokens and sessions, review decisions, the web app's paged reads and its limits
    come from the mixins in :mod:`collector.registry.users`, :mod:`~collector.registry.decisions`,
    :mod:`~collector.registry.views`, :mod:`~collector.registry.runs` and
    :mod:`~collector.registry.throttle`.

    Raises RegistryUnavailable (``retryable`` when the cause is a lock held past the busy
    timeout) if the file cannot be opened or used.
    """

    def __init__(self, path: Path, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.path = path
        try:
            self._conn = connect(path, busy_timeout_s=busy_timeout_s)
        except sqlite3.Error as exc:
            raise _unavailable(path, exc) from exc
        self._lock = threading.RLock()
        self._plans: dict[tuple[str, int], PlanVersion] = {}
        self._index: tuple[list[tuple[str, int]], _EnterpriseIndex] | None = None

    def close(self) -> None:
        """Close the connection; the registry cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _unavailable(self.path, exc) from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise _unavailable(self.path, exc) from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        # One deferred transaction: the reads in it see one snapshot of the file.
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                try:
                    yield self._conn
                finally:
                    self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise _unavailable(self.path, exc) from exc

    def _audit(
        self,
        conn: sqlite3.Connection,
        at: str,
        by: str,
        action: str,
        subject: str,
        **detail: object,
    ) -> None:
        conn.execute(
            "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (at, by, action, subject, json.dumps(detail, ensure_ascii=False, sort_keys=True)),
        )

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
        actor, at = checked_actor(by), format_time(now or utc_now())
        plan, key = loaded.plan, loaded.plan.key
        content = plan_content(plan)
        with self._write() as conn:
            collisions = ownership.collisions_with(conn, plan)
            if collisions:
                raise ownership.load_refusal(key, loaded.source, collisions)
            current = conn.execute(
                "SELECT version, digest, content FROM plan_versions WHERE plan_key = ? "
                "ORDER BY version DESC LIMIT 1",
                (key,),
            ).fetchone()
            added, updated, notes = self._sync_agents(conn, plan, actor, at)
            if current is not None and current[1] == loaded.digest:
                return PlanLoadResult(key, int(current[0]), False, (), added, updated, notes)
            version = 1 if current is None else int(current[0]) + 1
            changes = plan_changes(None if current is None else str(current[2]), content)
            conn.execute(
                f"INSERT INTO plan_versions ({_VERSION_COLUMNS}, content, source_text) "  # noqa: S608 - literal
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    version,
                    loaded.digest,
                    loaded.source,
                    at,
                    actor,
                    json.dumps(changes, ensure_ascii=False),
                    content,
                    loaded.text,
                ),
            )
            self._audit(
                conn, at, actor, "plan.load", key,
                version=version, digest=loaded.digest, source=loaded.source, changes=changes,
            )  # fmt: skip
        log.info("plan %s version %d loaded by %s (%d changes)", key, version, actor, len(changes))
        return PlanLoadResult(key, version, True, changes, added, updated, notes)

    def _sync_agents(
        self, conn: sqlite3.Connection, plan: Plan, actor: str, at: str
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        added: list[str] = []
        updated: list[str] = []
        notes: list[str] = []
        for platform in plan.platforms:
            for enterprise in platform.enterprises:
                for agent in enterprise.agents:
                    devices = tuple(agent.devices)
                    existing = self._agent_row(conn, agent.id)
                    if existing is None:
                        self._insert_agent(
                            conn, agent.id, plan.key, platform.id, enterprise.id,
                            agent.public_key, devices, actor, at, via="plan load",
                        )  # fmt: skip
                        added.append(agent.id)
                        continue
                    _same_identity(existing, platform.id, enterprise.id, agent.public_key)
                    if existing.revoked:
                        notes.append(
                            f"agent {agent.id} is listed in the plan but revoked since "
                            f"{format_time(existing.revoked_at or dt.datetime.min)}; it stays "
                            "revoked (register a new agent id with a new key)"
                        )
                    elif existing.devices != devices:
                        conn.execute(
                            "UPDATE agents SET devices = ? WHERE agent_id = ?",
                            (json.dumps(devices), agent.id),
                        )
                        self._audit(
                            conn, at, actor, "agent.devices", agent.id,
                            before=list(existing.devices), after=list(devices), via="plan load",
                        )  # fmt: skip
                        updated.append(agent.id)
        return tuple(added), tuple(updated), tuple(notes)

    def plan_id_collisions(self, plan: Plan) -> tuple[IdCollision, ...]:
        """The plan's platform, enterprise and agent ids that another plan key holds and this
        plan never did (a read: :meth:`load_plan` checks again in its write transaction)."""
        with self._read() as conn:
            return ownership.collisions_with(conn, plan)

    def id_collisions(self) -> tuple[IdCollision, ...]:
        """Ids more than one plan key claims now (latest versions, agents not revoked): what a
        registry loaded before ids were checked across plans may hold."""
        with self._read() as conn:
            return ownership.registry_collisions(conn)

    def require_unique_ids(self) -> None:
        """Raise IdCollisionError naming every id more than one plan claims; else nothing.

        ``serve`` and ``ingest`` call it before they start.
        """
        collisions = self.id_collisions()
        if collisions:
            raise ownership.registry_refusal(self.path, collisions)

    def plan_keys(self) -> list[str]:
        """Keys (``<province code>-<batch year>``) of every plan loaded, sorted."""
        with self._read() as conn:
            rows = conn.execute("SELECT DISTINCT plan_key FROM plan_versions ORDER BY 1").fetchall()
        return [str(row[0]) for row in rows]

    def plan_version(self, plan_key: str, version: int | None = None) -> PlanVersion:
        """A plan's given version, or its latest. Raises NotFoundError."""
        query = (
            f"SELECT {_VERSION_COLUMNS}, content, source_text FROM plan_versions "  # noqa: S608 - literal
            "WHERE plan_key = ?"
        )
        params: tuple[object, ...] = (plan_key,)
        if version is None:
            query += " ORDER BY version DESC LIMIT 1"
        else:
            query += " AND version = ?"
            params = (plan_key, version)
        with self._read() as conn:
            row = conn.execute(query, params).fetchone()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFoundError(f"plan {plan_key!r} has no {which} in {self.path}")
        plan = Plan.model_validate(json.loads(row[7]))
        return PlanVersion(_version_info(row[:7]), plan, str(row[8]))

    def plan_history(self, plan_key: str) -> list[PlanVersionInfo]:
        """Every version of a plan, oldest first (empty if the plan was never loaded)."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_VERSION_COLUMNS} FROM plan_versions WHERE plan_key = ? "  # noqa: S608 - literal
                "ORDER BY version",
                (plan_key,),
            ).fetchall()
        return [_version_info(row) for row in rows]

    def find_enterprise(
        self, platform_id: str | None, enterprise_id: str
    ) -> tuple[PlanVersionInfo, Platform, Enterprise] | None:
        """The enterprise in the latest version of the plan that lists it, or None.

        ``platform_id`` None matches any platform. Ids are unique across plans
        (:meth:`load_plan` refuses a plan that reuses another's), so at most one plan lists
        it; a registry written before that check, where two plans do, raises IdCollisionError
        rather than choosing one.
        """
        listed = self._enterprise_index().get(enterprise_id, ())
        if len(listed) > 1:  # a plan lists an enterprise id once (rules.py): two plans do
            keys = tuple(sorted({info.plan_key for info, _, _ in listed}))
            collision = IdCollision("enterprise", enterprise_id, keys)
            raise ownership.registry_refusal(self.path, (collision,))
        for info, platform, enterprise in listed:
            if platform_id is None or platform.id == platform_id:
                return info, platform, enterprise
        return None

    def _enterprise_index(self) -> _EnterpriseIndex:
        # The ingest asks for every batch's enterprises. Another process may load a new
        # version at any time, so the latest version numbers are read each call (one small
        # query); the index is rebuilt only when they change (versions never change).
        with self._read() as conn:
            latest = conn.execute(
                "SELECT plan_key, max(version) FROM plan_versions GROUP BY plan_key ORDER BY 1"
            ).fetchall()
        built = self._index
        if built is not None and built[0] == latest:
            return built[1]
        index: _EnterpriseIndex = {}
        for key, version in latest:
            current = self._plans.get((str(key), int(version)))
            if current is None:
                current = self.plan_version(str(key), int(version))
                self._plans[(str(key), int(version))] = current
            for platform in current.plan.platforms:
                for enterprise in platform.enterprises:
                    index.setdefault(enterprise.id, []).append((current.info, platform, enterprise))
        self._index = (latest, index)  # one assignment: a reader sees the old or the new pair
        return index

    def enterprise_zone(self, enterprise_id: str) -> str:
        """The enterprise's IANA time zone from the latest plan listing it; raise NotFoundError."""
        found = self.find_enterprise(None, enterprise_id)
        if found is None:
            raise NotFoundError(f"no loaded plan lists enterprise {enterprise_id}")
        return found[2].timezone

    # --- agents -----------------------------------------------------------------------------

    def _agent_row(self, conn: sqlite3.Connection, agent_id: str) -> AgentEntry | None:
        row = conn.execute(
            f"SELECT {_AGENT_COLUMNS} FROM agents WHERE agent_id = ?",  # noqa: S608 - literal
            (agent_id,),
        ).fetchone()
        return None if row is None else _agent(row)

    def _insert_agent(
        self,
        conn: sqlite3.Connection,
        agent_id: str,
        plan_key: str,
        platform: str,
        enterprise: str,
        public_key: str,
        devices: tuple[str, ...],
        actor: str,
        at: str,
        *,
        via: str,
    ) -> None:
        owner = conn.execute(
            "SELECT agent_id FROM agents WHERE public_key = ?", (public_key,)
        ).fetchone()
        if owner is not None:
            raise ConflictError(
                f"agent {agent_id}: public key is already registered to agent {owner[0]}; "
                "each agent has its own key pair. Nothing was written."
            )
        conn.execute(
            f"INSERT INTO agents ({_AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, "  # noqa: S608 - literal
            "NULL)",
            (agent_id, plan_key, platform, enterprise, public_key, json.dumps(devices), at, actor),
        )
        self._audit(
            conn, at, actor, "agent.add", agent_id,
            platform=platform, enterprise=enterprise, public_key=public_key,
            devices=list(devices), via=via,
        )  # fmt: skip

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
        actor, at = checked_actor(by), format_time(now or utc_now())
        for value, what in ((agent_id, "agent"), *((d, "device") for d in devices)):
            wire.validate_identifier(value, what=what)
        key_text = wire.public_key_text(wire.public_key_from_text(public_key))
        if not devices or len(set(devices)) != len(devices):
            raise ValueError(f"got devices {list(devices)}, expected one or more distinct ids")
        found = self.find_enterprise(platform, enterprise)
        if found is None:
            raise NotFoundError(
                f"no loaded plan lists enterprise {enterprise} of platform {platform}: load the "
                "plan first (retrofit-collector plan load)"
            )
        with self._write() as conn:
            existing = self._agent_row(conn, agent_id)
            if existing is not None:
                state = "revoked" if existing.revoked else "registered"
                raise ConflictError(
                    f"agent {agent_id} is already {state} (enterprise {existing.enterprise} of "
                    f"platform {existing.platform}); agent ids are never reused. Nothing was "
                    "written."
                )
            self._insert_agent(
                conn, agent_id, found[0].plan_key, platform, enterprise, key_text,
                tuple(devices), actor, at, via="agents add",
            )  # fmt: skip
            entry = self._agent_row(conn, agent_id)
        log.info("agent %s added for %s/%s by %s", agent_id, platform, enterprise, actor)
        assert entry is not None  # inserted in this transaction
        return entry

    def revoke_agent(
        self, agent_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> AgentEntry:
        """Revoke an agent: from ``now`` on its messages are quarantined as ``revoked_key``.

        The row stays, so the registry can still say "revoked since T". Raises NotFoundError
        for an unknown agent, ConflictError if it is already revoked, ValueError for an empty
        reason.
        """
        actor, at = checked_actor(by), format_time(now or utc_now())
        reason = reason.strip()
        if not reason:
            raise ValueError("expected a reason for the revocation (--reason)")
        with self._write() as conn:
            existing = self._agent_row(conn, agent_id)
            if existing is None:
                raise NotFoundError(f"no agent {agent_id} in {self.path}")
            if existing.revoked_at is not None:
                raise ConflictError(
                    f"agent {agent_id} is already revoked since "
                    f"{format_time(existing.revoked_at)} by {existing.revoked_by}"
                )
            conn.execute(
                "UPDATE agents SET revoked_at = ?, revoked_by = ?, revoke_reason = ? "
                "WHERE agent_id = ?",
                (at, actor, reason[:1000], agent_id),
            )
            self._audit(conn, at, actor, "agent.revoke", agent_id, reason=reason[:1000])
            entry = self._agent_row(conn, agent_id)
        log.warning("agent %s revoked by %s: %s", agent_id, actor, reason)
        assert entry is not None  # updated in this transaction
        return entry

    def agent_identity(self, agent_id: str) -> AgentEntry | None:
        """The registered agent with this id (revoked or not), or None: one indexed read."""
        with self._lock:
            try:
                return self._agent_row(self._conn, agent_id)
            except sqlite3.OperationalError as exc:
                raise _unavailable(self.path, exc) from exc

    def agent_by_key(self, public_key: str) -> AgentEntry | None:
        """The agent registered with this public key (``ed25519:...``), or None."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_AGENT_COLUMNS} FROM agents WHERE public_key = ?",  # noqa: S608 - literal
                (public_key.strip(),),
            ).fetchone()
        return None if row is None else _agent(row)

    def agents(self, *, platform: str | None = None) -> list[AgentEntry]:
        """Every registered agent (of one platform if given), by platform, enterprise, id."""
        query = f"SELECT {_AGENT_COLUMNS} FROM agents"  # noqa: S608 - literal
        params: tuple[str, ...] = ()
        if platform is not None:
            query += " WHERE platform = ?"
            params = (platform,)
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY platform, enterprise, agent_id", params)
            return [_agent(row) for row in rows.fetchall()]

    def audit(self, *, subject: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The latest audit entries (about one subject if given), oldest first."""
        where, params = ("", ()) if subject is None else (" WHERE subject = ?", (subject,))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT id, at, actor, action, subject, detail FROM audit{where} "  # noqa: S608 - literal
                "ORDER BY id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [
            AuditEntry(int(r[0]), parse_time(r[1]), r[2], r[3], r[4], r[5]) for r in reversed(rows)
        ]

    # --- agent status -----------------------------------------------------------------------

    # --- daily rollups still to refresh ------------------------------------------------------

    def mark_days_dirty(self, days: Iterable[tuple[str, str, dt.date, str]]) -> None:
        """Record (enterprise, device, local day, tz) whose rollup must be recomputed.

        Durable, so a refresh owed when a collector stops is done by the next one. Marking a
        day again bumps its generation, so a refresh that read it before does not clear it.
        """
        rows = [(e, d, day.isoformat(), tz) for e, d, day, tz in days]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO rollup_dirty (enterprise, device, day, tz) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (enterprise, device, day) DO UPDATE SET generation = generation + 1",
                rows,
            )

    def dirty_days(self, limit: int = 1000) -> list[tuple[str, str, dt.date, str, int]]:
        """Days waiting for a rollup refresh: (enterprise, device, day, tz, generation)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT enterprise, device, day, tz, generation FROM rollup_dirty "
                "ORDER BY day LIMIT ?",
                (limit,),
            ).fetchall()
        return [(e, d, dt.date.fromisoformat(day), tz, g) for e, d, day, tz, g in rows]

    def clear_dirty_days(self, done: Iterable[tuple[str, str, dt.date, int]]) -> None:
        """Forget refreshed days, unless marked again since (their generation moved on)."""
        rows = [(e, d, day.isoformat(), g) for e, d, day, g in done]
        with self._write() as conn:
            conn.executemany(
                "DELETE FROM rollup_dirty WHERE enterprise = ? AND device = ? AND day = ? "
                "AND generation = ?",
                rows,
            )

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
        seen, at = format_time(last_seen), format_time(now or utc_now())
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO agent_status (agent_id, last_seen, agent_version, config_digest, "
                "outbox_depth, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (agent_id) DO UPDATE SET last_seen = excluded.last_seen, "
                "agent_version = excluded.agent_version, config_digest = excluded.config_digest, "
                "outbox_depth = excluded.outbox_depth, state = excluded.state, "
                "updated_at = excluded.updated_at "
                "WHERE excluded.last_seen > agent_status.last_seen",
                (agent_id, seen, version[:64], config_digest[:80], outbox_depth, state[:20], at),
            )
            return cursor.rowcount > 0

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
        with self._read() as conn:
            row = conn.execute(
                "SELECT agent_id, last_seen, agent_version, config_digest, outbox_depth, state, "
                "updated_at FROM agent_status WHERE agent_id = ?",
                (agent_id,),
            ).fetchone()
        if row is None:
            return None
        return AgentStatus(
            row[0], parse_time(row[1]), row[2], row[3], int(row[4]), row[5], parse_time(row[6])
        )

    # --- sequence numbers -------------------------------------------------------------------

    def seq_summaries(self) -> dict[str, SeqSummary]:
        """Per agent that sent windows: highest seq, when it came, open gaps (one read).

        Index lookups only (``seq_state``, the ``agent_seqs`` primary key, ``seq_gaps_open``),
        so it stays cheap however many batches the registry holds.
        """
        with self._read() as conn:
            rows = conn.execute(
                "SELECT s.agent_id, s.highest_seq, a.first_at FROM seq_state s "
                "LEFT JOIN agent_seqs a ON a.agent_id = s.agent_id AND a.seq = s.highest_seq"
            ).fetchall()
            gaps = conn.execute(
                "SELECT agent_id, count(*), sum(last_seq - first_seq + 1) FROM seq_gaps "
                "WHERE closed_at IS NULL GROUP BY agent_id"
            ).fetchall()
        open_gaps = {str(agent): (int(count), int(missing)) for agent, count, missing in gaps}
        return {
            str(agent): SeqSummary(
                str(agent),
                int(high),
                None if at is None else parse_time(at),
                *open_gaps.get(str(agent), (0, 0)),
            )
            for agent, high, at in rows
        }

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
        for _, seq, sha256 in items:
            if not 1 <= seq <= wire.MAX_SEQ:
                raise ValueError(f"got seq {seq}, expected 1..{wire.MAX_SEQ}")
            if len(sha256) != _SHA256_LEN or sha256.strip("0123456789abcdef"):
                raise ValueError(f"got sha256 {sha256[:80]!r}, expected 64 lowercase hex digits")
        at = format_time(received_at or utc_now())
        with self._write() as conn:
            return [sequence.record(conn, agent, seq, sha, at) for agent, seq, sha in items]

    def seq_gaps(self, agent_id: str, *, include_closed: bool = False) -> list[SeqGap]:
        """The agent's open seq gaps (and closed ones if asked), in seq order."""
        with self._read() as conn:
            return sequence.gaps(conn, agent_id, include_closed=include_closed)

    def highest_seq(self, agent_id: str) -> int | None:
        """Highest seq recorded for the agent, or None."""
        with self._read() as conn:
            return sequence.highest(conn, agent_id)

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
        at = format_time(received_at)
        with self._write() as conn:
            return quarantine.add(
                conn, raw, topic=topic, received_at=at, reason_code=reason_code,
                detail=detail, agent_id=agent_id,
            )  # fmt: skip

    def quarantine_counts_since(self, since: dt.datetime) -> dict[str, int]:
        """Quarantined messages per reason code, received at or after ``since``."""
        with self._read() as conn:
            return quarantine.reason_counts_since(conn, format_time(since))

    def quarantine_list(
        self, *, reason: str | None = None, since: dt.datetime | None = None, limit: int = 100
    ) -> list[QuarantineEntry]:
        """Quarantined messages, newest first, without their bytes."""
        start = None if since is None else format_time(since)
        with self._read() as conn:
            return quarantine.listing(conn, reason=reason, since=start, limit=limit)

    def quarantine_get(self, entry_id: int) -> QuarantineEntry | None:
        """One quarantined message with its stored bytes, or None."""
        with self._read() as conn:
            return quarantine.get(conn, entry_id)

    def quarantine_export(
        self, out: TextIO, *, reason: str | None = None, since: dt.datetime | None = None
    ) -> int:
        """Write quarantined messages to ``out`` as JSON lines, oldest first; return the count."""
        start = None if since is None else format_time(since)
        with self._read() as conn:
            return quarantine.export(conn, out, reason=reason, since=start)

    def quarantine_counts(self) -> dict[str, int]:
        """Quarantined messages per reason code."""
        with self._read() as conn:
            return quarantine.reason_counts(conn)

    def quarantine_counts_for(
        self, platform: str, enterprise: str, agent_ids: Sequence[str] = ()
    ) -> dict[str, dict[str, int]]:
        """Quarantined messages of one enterprise: agent id → reason code → count.

        Counts messages on the enterprise's topics (``rv/v1/{platform}/{enterprise}/...``,
        under the agent id each topic claims) and messages recorded with one of ``agent_ids``.
        """
        prefix = f"{wire.TOPIC_ROOT}/{platform}/{enterprise}/"
        with self._read() as conn:
            return quarantine.counts_by_agent(conn, prefix, agent_ids)


def _same_identity(existing: AgentEntry, platform: str, enterprise: str, key: str) -> None:
    if (existing.platform, existing.enterprise) != (platform, enterprise):
        raise ConflictError(
            f"agent {existing.agent_id} is registered for {existing.platform}/"
            f"{existing.enterprise}, the plan lists it under {platform}/{enterprise}; agent ids "
            "are never moved. Nothing was written."
        )
    if existing.public_key != key:
        raise ConflictError(
            f"agent {existing.agent_id} is registered with another public key; to change a key, "
            "revoke the agent and register a new agent id. Nothing was written."
        )


def _unavailable(path: Path, exc: sqlite3.Error) -> RegistryUnavailable:
    text = str(exc)
    locked = "locked" in text or "busy" in text
    then = "retry later" if locked else "check the file"
    return RegistryUnavailable(f"registry {path}: {text}; {then}", retryable=locked)
