"""Which plan owns which platform, enterprise and agent id: ids are unique across all plans.

MQTT topics (``rv/v1/{platform}/{enterprise}/{agent}/...``), InfluxDB tags and seq records
name an id alone, without a plan key, so two plans listing one id would share its data, and
the web app would have to choose which province's reviewers see it. A new version of a plan
keeps its own ids; another plan never takes them. Every version a plan ever had counts (its
data stays in InfluxDB under those ids), and so does the ``agents`` table (an agent added with
``agents add`` is in no plan file).

A registry loaded before this check may hold an id two plans claim. :func:`registry_collisions`
finds those by what is in force now (latest versions, agents not revoked), so the operator can
resolve one: revoke the wrong plan's agents and load a new version of it with ids of its own
(docs/operations.md). Until then ``serve`` and ``ingest`` refuse to start.

The functions here read with the caller's connection, inside the caller's transaction, so
:meth:`Registry.load_plan` checks and writes under one write lock.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

from collector.errors import IdCollision, IdCollisionError, IdKind
from collector.plan import Plan

__all__ = [
    "collisions_among",
    "collisions_with",
    "load_refusal",
    "plan_ids",
    "registry_collisions",
    "registry_refusal",
]

#: Collisions named in one message; the rest are counted.
MAX_NAMED = 20
_KIND_ORDER: dict[IdKind, int] = {"platform": 0, "enterprise": 1, "agent": 2}
_Claims = dict[tuple[IdKind, str], set[str]]


def plan_ids(plan: Plan) -> Iterator[tuple[IdKind, str]]:
    """Every platform, enterprise and agent id the plan lists, with its kind."""
    for platform in plan.platforms:
        yield "platform", platform.id
        for enterprise in platform.enterprises:
            yield "enterprise", enterprise.id
            for agent in enterprise.agents:
                yield "agent", agent.id


def _stored_ids(content: str) -> Iterator[tuple[IdKind, str]]:
    # The canonical JSON the registry stored (plan_content): read as data, not re-validated,
    # so a version stored under an older schema still counts.
    for platform in json.loads(content).get("platforms", ()):
        yield "platform", str(platform["id"])
        for enterprise in platform.get("enterprises", ()):
            yield "enterprise", str(enterprise["id"])
            for agent in enterprise.get("agents", ()):
                yield "agent", str(agent["id"])


_LATEST_CONTENT = (
    "SELECT p.plan_key, p.content FROM plan_versions p JOIN (SELECT plan_key, max(version) AS v "
    "FROM plan_versions GROUP BY plan_key) m ON p.plan_key = m.plan_key AND p.version = m.v"
)


def _claims(conn: sqlite3.Connection, *, current_only: bool) -> _Claims:
    """(kind, id) → plan keys claiming it: from plan contents and the ``agents`` table.

    An agent row claims its agent id for its plan, and its platform and enterprise too (an
    agent of plan B registered under plan A's enterprise would write A's data). With
    ``current_only``, only what is in force counts: each plan's latest version, and revoked
    agents claim their id alone; otherwise every version and every agent row counts.
    """
    claims: _Claims = {}
    query = _LATEST_CONTENT if current_only else "SELECT plan_key, content FROM plan_versions"
    for key, content in conn.execute(query).fetchall():
        for claimed in _stored_ids(str(content)):
            claims.setdefault(claimed, set()).add(str(key))
    agents = conn.execute(
        "SELECT agent_id, plan_key, platform, enterprise, revoked_at FROM agents"
    ).fetchall()
    for agent_id, key, platform, enterprise, revoked_at in agents:
        claims.setdefault(("agent", str(agent_id)), set()).add(str(key))
        if not (current_only and revoked_at is not None):
            claims.setdefault(("platform", str(platform)), set()).add(str(key))
            claims.setdefault(("enterprise", str(enterprise)), set()).add(str(key))
    return claims


def _sorted(collisions: Iterable[IdCollision]) -> tuple[IdCollision, ...]:
    return tuple(sorted(collisions, key=lambda c: (_KIND_ORDER[c.kind], c.id)))


def _shared(claims: _Claims) -> tuple[IdCollision, ...]:
    return _sorted(
        IdCollision(kind, value, tuple(sorted(keys)))
        for (kind, value), keys in claims.items()
        if len(keys) > 1
    )


def collisions_with(conn: sqlite3.Connection, plan: Plan) -> tuple[IdCollision, ...]:
    """The plan's ids that another plan key holds (in any version, or through its agents) and
    the plan itself never held: a plan keeps the ids it has, and takes none of another's."""
    claims = _claims(conn, current_only=False)
    found = []
    for kind, value in dict.fromkeys(plan_ids(plan)):
        holders = claims.get((kind, value), set())
        if holders and plan.key not in holders:
            found.append(IdCollision(kind, value, tuple(sorted({plan.key, *holders}))))
    return _sorted(found)


def registry_collisions(conn: sqlite3.Connection) -> tuple[IdCollision, ...]:
    """Every id that more than one plan claims now: in their latest versions, or through an
    agent not revoked (a registry loaded before ids were checked across plans)."""
    return _shared(_claims(conn, current_only=True))


def collisions_among(plans: Iterable[tuple[str, Plan]]) -> tuple[IdCollision, ...]:
    """Ids that more than one of these (plan key, plan) pairs lists."""
    claims: _Claims = {}
    for key, plan in plans:
        for claimed in plan_ids(plan):
            claims.setdefault(claimed, set()).add(key)
    return _shared(claims)


def _named(collisions: tuple[IdCollision, ...], holder_of: str | None) -> str:
    def one(collision: IdCollision) -> str:
        if holder_of is None:
            return str(collision)
        held = ", ".join(k for k in collision.plan_keys if k != holder_of)
        return f"{collision.kind} {collision.id} (held by plan {held})"

    text = ", ".join(one(c) for c in collisions[:MAX_NAMED])
    if len(collisions) > MAX_NAMED:
        text += f" and {len(collisions) - MAX_NAMED} more"
    return text


_WHY = (
    "platform, enterprise and agent ids are unique across all plans in the registry, because "
    "MQTT topics, InfluxDB tags and seq records name the id alone"
)


def load_refusal(
    plan_key: str, source: str, collisions: tuple[IdCollision, ...]
) -> IdCollisionError:
    """The error refusing to load plan ``plan_key`` (read from ``source``)."""
    return IdCollisionError(
        f"plan {plan_key} ({source}) lists {len(collisions)} "
        f"{'id' if len(collisions) == 1 else 'ids'} another plan already holds: "
        f"{_named(collisions, plan_key)}; {_WHY}. Give them new ids in {source} (a new version "
        "of the plan that holds them may keep them). Nothing was written.",
        collisions,
        plan_key,
    )


def registry_refusal(path: Path, collisions: tuple[IdCollision, ...]) -> IdCollisionError:
    """The error for a registry that already holds ids claimed by two plans."""
    return IdCollisionError(
        f"registry {path} holds {len(collisions)} "
        f"{'id' if len(collisions) == 1 else 'ids'} claimed by more than one plan (loaded "
        f"before ids were checked across plans): {_named(collisions, None)}; {_WHY}, so one "
        "plan's users would see another's data. Resolve it before serving or ingesting: see "
        'docs/operations.md, "Ids claimed by two plans".',
        collisions,
    )
