"""Plan versions: ``plan_versions`` (every version of every plan, append-only) and
the agents a plan load registers or updates (through :mod:`collector.registry.sql.agents`).

A load checks the plan's ids against every other plan (:mod:`~collector.registry.sql.
ownership`), stores the new version, syncs its agents and audits both, in one write
transaction: it happens whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence

from collector.errors import ConflictError, IdCollision, NotFoundError
from collector.plan import LoadedPlan, Plan, plan_changes, plan_content
from collector.registry.core import checked_actor, utc_now
from collector.registry.enterprises import EnterpriseIndex, Listing
from collector.registry.ownership import load_refusal
from collector.registry.records import (
    AgentEntry,
    PlanLoadResult,
    PlanVersion,
    PlanVersionInfo,
    format_time,
    parse_time,
)
from collector.registry.sql import ownership
from collector.registry.sql.agents import agent_row, insert_agent
from collector.registry.sql.database import Connection, Database, audit

__all__ = ["SqlPlanRepository"]

log = logging.getLogger(__name__)

_COLUMNS = "plan_key, version, digest, source_name, loaded_at, loaded_by, changes"
_Synced = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


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


def _sync_agents(conn: Connection, plan: Plan, actor: str, at: str) -> _Synced:
    added: list[str] = []
    updated: list[str] = []
    notes: list[str] = []
    for platform in plan.platforms:
        for enterprise in platform.enterprises:
            for agent in enterprise.agents:
                devices = tuple(agent.devices)
                existing = agent_row(conn, agent.id)
                if existing is None:
                    new = AgentEntry(
                        agent.id, plan.key, platform.id, enterprise.id, agent.public_key,
                        devices, parse_time(at), actor,
                    )  # fmt: skip
                    insert_agent(conn, new, via="plan load")
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
                    audit(
                        conn, at, actor, "agent.devices", agent.id,
                        before=list(existing.devices), after=list(devices), via="plan load",
                    )  # fmt: skip
                    updated.append(agent.id)
    return tuple(added), tuple(updated), tuple(notes)


class SqlPlanRepository:
    """Plan versions, the ids they claim, and which plan lists an enterprise."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._index = EnterpriseIndex(database.location, self._latest_versions, self.version)

    def load(
        self, loaded: LoadedPlan, *, by: str, now: dt.datetime | None = None
    ) -> PlanLoadResult:
        """Store a plan as a new version if its content changed (see Registry.load_plan)."""
        actor, at = checked_actor(by), format_time(now or utc_now())
        plan, key = loaded.plan, loaded.plan.key
        content = plan_content(plan)
        with self._db.write("agents", "plans") as conn:
            collisions = ownership.collisions_with(conn, plan)
            if collisions:
                raise load_refusal(key, loaded.source, collisions)
            current = conn.execute(
                "SELECT version, digest, content FROM plan_versions WHERE plan_key = ? "
                "ORDER BY version DESC LIMIT 1",
                (key,),
            ).fetchone()
            added, updated, notes = _sync_agents(conn, plan, actor, at)
            if current is not None and current[1] == loaded.digest:
                return PlanLoadResult(key, int(current[0]), False, (), added, updated, notes)
            version = 1 if current is None else int(current[0]) + 1
            changes = plan_changes(None if current is None else str(current[2]), content)
            conn.execute(
                f"INSERT INTO plan_versions ({_COLUMNS}, content, source_text) "  # noqa: S608 - literal
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
            audit(
                conn, at, actor, "plan.load", key,
                version=version, digest=loaded.digest, source=loaded.source, changes=changes,
            )  # fmt: skip
        log.info("plan %s version %d loaded by %s (%d changes)", key, version, actor, len(changes))
        return PlanLoadResult(key, version, True, changes, added, updated, notes)

    def id_collisions_with(self, plan: Plan) -> tuple[IdCollision, ...]:
        """The plan's ids another plan key holds (a read: :meth:`load` checks again)."""
        with self._db.read() as conn:
            return ownership.collisions_with(conn, plan)

    def id_collisions(self) -> tuple[IdCollision, ...]:
        """Ids more than one plan key claims now (latest versions, agents not revoked)."""
        with self._db.read() as conn:
            return ownership.current_collisions(conn)

    def keys(self) -> list[str]:
        """Keys (``<province code>-<batch year>``) of every plan loaded, sorted."""
        with self._db.read() as conn:
            rows = conn.execute("SELECT DISTINCT plan_key FROM plan_versions ORDER BY 1").fetchall()
        return [str(row[0]) for row in rows]

    def version(self, plan_key: str, version: int | None = None) -> PlanVersion:
        """A plan's given version, or its latest. Raises NotFoundError."""
        query = (
            f"SELECT {_COLUMNS}, content, source_text FROM plan_versions "  # noqa: S608 - literal
            "WHERE plan_key = ?"
        )
        params: tuple[object, ...] = (plan_key,)
        if version is None:
            query += " ORDER BY version DESC LIMIT 1"
        else:
            query += " AND version = ?"
            params = (plan_key, version)
        with self._db.read() as conn:
            row = conn.execute(query, params).fetchone()
        if row is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFoundError(f"plan {plan_key!r} has no {which} in {self._db.location}")
        plan = Plan.model_validate(json.loads(row[7]))
        return PlanVersion(_version_info(row[:7]), plan, str(row[8]))

    def history(self, plan_key: str) -> list[PlanVersionInfo]:
        """Every version of a plan, oldest first (empty if the plan was never loaded)."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM plan_versions WHERE plan_key = ? "  # noqa: S608 - literal
                "ORDER BY version",
                (plan_key,),
            ).fetchall()
        return [_version_info(row) for row in rows]

    def find_enterprise(self, platform_id: str | None, enterprise_id: str) -> Listing | None:
        """The enterprise in the latest plan version listing it, or None (see Registry)."""
        return self._index.find(platform_id, enterprise_id)

    def enterprise_zone(self, enterprise_id: str) -> str:
        """The enterprise's IANA time zone from the latest plan listing it; raise NotFoundError."""
        found = self._index.find(None, enterprise_id)
        if found is None:
            raise NotFoundError(f"no loaded plan lists enterprise {enterprise_id}")
        return found[2].timezone

    def _latest_versions(self) -> list[tuple[str, int]]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT plan_key, max(version) FROM plan_versions GROUP BY plan_key ORDER BY 1"
            ).fetchall()
        return [(str(key), int(version)) for key, version in rows]
