"""Agents: the ``agents`` table (one row per agent id: its key, enterprise, devices,
and its revocation, a date: rows are never deleted).

:func:`agent_row` and :func:`insert_agent` take the caller's connection, so a plan load
(:mod:`collector.registry.sql.plans`) registers its agents in its own write transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence

from collector.errors import ConflictError, NotFoundError, RegistryError
from collector.registry.core import checked_actor, utc_now
from collector.registry.ports import PlanRepository
from collector.registry.records import AgentEntry, format_time, parse_time
from collector.registry.sql.database import Connection, Database, audit
from contract import wire

__all__ = ["SqlAgentRepository", "agent_row", "insert_agent"]

log = logging.getLogger(__name__)

_COLUMNS = (
    "agent_id, plan_key, platform, enterprise, public_key, devices, added_at, added_by, "
    "revoked_at, revoked_by, revoke_reason"
)


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


def agent_row(conn: Connection, agent_id: str) -> AgentEntry | None:
    """The agent with this id (revoked or not), or None: one indexed read."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM agents WHERE agent_id = ?",  # noqa: S608 - literal
        (agent_id,),
    ).fetchone()
    return None if row is None else _agent(row)


def insert_agent(
    conn: Connection,
    entry: AgentEntry,
    *,
    via: str,
) -> None:
    """Insert ``entry`` (not revoked) and audit it; ConflictError if its key is taken."""
    owner = conn.execute(
        "SELECT agent_id FROM agents WHERE public_key = ?", (entry.public_key,)
    ).fetchone()
    if owner is not None:
        raise ConflictError(
            f"agent {entry.agent_id}: public key is already registered to agent {owner[0]}; "
            "each agent has its own key pair. Nothing was written."
        )
    at = format_time(entry.added_at)
    conn.execute(
        f"INSERT INTO agents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",  # noqa: S608 - literal
        (
            entry.agent_id,
            entry.plan_key,
            entry.platform,
            entry.enterprise,
            entry.public_key,
            json.dumps(entry.devices),
            at,
            entry.added_by,
        ),
    )
    audit(
        conn, at, entry.added_by, "agent.add", entry.agent_id,
        platform=entry.platform, enterprise=entry.enterprise, public_key=entry.public_key,
        devices=list(entry.devices), via=via,
    )  # fmt: skip


def _written(conn: Connection, path: str, agent_id: str) -> AgentEntry:
    # Read back in the write transaction: a row gone here (a trigger or another writer
    # outside the registry's rules) rolls the whole call back.
    entry = agent_row(conn, agent_id)
    if entry is None:
        raise RegistryError(
            f"registry {path}: agent {agent_id} was written and cannot be read back in the "
            "same transaction (something outside the collector changes the file); nothing "
            "was written"
        )
    return entry


class SqlAgentRepository:
    """Agents and their keys; plan loads add them too (:mod:`~collector.registry.sql.plans`)."""

    def __init__(self, database: Database, plans: PlanRepository) -> None:
        self._db = database
        self._plans = plans

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
    ) -> AgentEntry:
        """Register an agent of an enterprise listed in a loaded plan (see Registry.add_agent)."""
        actor, at = checked_actor(by), format_time(now or utc_now())
        for value, what in ((agent_id, "agent"), *((d, "device") for d in devices)):
            wire.validate_identifier(value, what=what)
        key_text = wire.public_key_text(wire.public_key_from_text(public_key))
        if not devices or len(set(devices)) != len(devices):
            raise ValueError(f"got devices {list(devices)}, expected one or more distinct ids")
        found = self._plans.find_enterprise(platform, enterprise)
        if found is None:
            raise NotFoundError(
                f"no loaded plan lists enterprise {enterprise} of platform {platform}: load the "
                "plan first (retrofit-collector plan load)"
            )
        new = AgentEntry(
            agent_id, found[0].plan_key, platform, enterprise, key_text, tuple(devices),
            parse_time(at), actor,
        )  # fmt: skip
        with self._db.write("agents") as conn:
            existing = agent_row(conn, agent_id)
            if existing is not None:
                state = "revoked" if existing.revoked else "registered"
                raise ConflictError(
                    f"agent {agent_id} is already {state} (enterprise {existing.enterprise} of "
                    f"platform {existing.platform}); agent ids are never reused. Nothing was "
                    "written."
                )
            insert_agent(conn, new, via="agents add")
            entry = _written(conn, self._db.location, agent_id)
        log.info("agent %s added for %s/%s by %s", agent_id, platform, enterprise, actor)
        return entry

    def revoke(
        self, agent_id: str, *, by: str, reason: str, now: dt.datetime | None = None
    ) -> AgentEntry:
        """Revoke an agent from ``now`` on (see Registry.revoke_agent)."""
        actor, at = checked_actor(by), format_time(now or utc_now())
        reason = reason.strip()
        if not reason:
            raise ValueError("expected a reason for the revocation (--reason)")
        with self._db.write("agents") as conn:
            existing = agent_row(conn, agent_id)
            if existing is None:
                raise NotFoundError(f"no agent {agent_id} in {self._db.location}")
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
            audit(conn, at, actor, "agent.revoke", agent_id, reason=reason[:1000])
            entry = _written(conn, self._db.location, agent_id)
        log.warning("agent %s revoked by %s: %s", agent_id, actor, reason)
        return entry

    def identity(self, agent_id: str) -> AgentEntry | None:
        """The registered agent with this id (revoked or not), or None: one indexed read."""
        with self._db.statement() as conn:
            return agent_row(conn, agent_id)

    def by_key(self, public_key: str) -> AgentEntry | None:
        """The agent registered with this public key (``ed25519:...``), or None."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM agents WHERE public_key = ?",  # noqa: S608 - literal
                (public_key.strip(),),
            ).fetchone()
        return None if row is None else _agent(row)

    def listing(self, *, platform: str | None = None) -> list[AgentEntry]:
        """Every registered agent (of one platform if given), by platform, enterprise, id."""
        query = f"SELECT {_COLUMNS} FROM agents"  # noqa: S608 - literal
        params: tuple[str, ...] = ()
        if platform is not None:
            query += " WHERE platform = ?"
            params = (platform,)
        with self._db.read() as conn:
            rows = conn.execute(query + " ORDER BY platform, enterprise, agent_id", params)
            return [_agent(row) for row in rows.fetchall()]
