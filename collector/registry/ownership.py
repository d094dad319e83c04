"""Which plan owns which platform, enterprise and agent id: ids are unique across all plans.

MQTT topics (``rv/v1/{platform}/{enterprise}/{agent}/...``), InfluxDB tags and seq records
name an id alone, without a plan key, so two plans listing one id would share its data, and
the web app would have to choose which province's reviewers see it. A new version of a plan
keeps its own ids; another plan never takes them. Every version a plan ever had counts (its
data stays in InfluxDB under those ids), and so does the ``agents`` table (an agent added with
``agents add`` is in no plan file).

A registry loaded before this check may hold an id two plans claim. :func:`shared` over the
claims in force now (latest versions, agents not revoked) finds those, so the operator can
resolve one: revoke the wrong plan's agents and load a new version of it with ids of its own
(docs/operations.md). Until then ``serve`` and ``ingest`` refuse to start.

The functions here take claims as data, whatever the backend; a backend reads them in the
plan load's own write transaction (:mod:`collector.registry.sql.ownership`), so a load
checks and writes under one write lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from collector.errors import IdCollision, IdCollisionError, IdKind
from collector.plan import Plan

__all__ = [
    "Claims",
    "claims_from",
    "collisions_among",
    "collisions_with",
    "load_refusal",
    "plan_ids",
    "registry_refusal",
    "shared",
]

#: Collisions named in one message; the rest are counted.
MAX_NAMED = 20
_KIND_ORDER: dict[IdKind, int] = {"platform": 0, "enterprise": 1, "agent": 2}
Claims = dict[tuple[IdKind, str], set[str]]


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


def claims_from(
    plan_contents: Iterable[tuple[str, str]],
    agents: Iterable[tuple[str, str, str, str, bool]],
    *,
    current_only: bool,
) -> Claims:
    """(kind, id) → plan keys claiming it, from (plan key, stored content) pairs and
    (agent id, plan key, platform, enterprise, revoked) rows.

    An agent row claims its agent id for its plan, and its platform and enterprise too (an
    agent of plan B registered under plan A's enterprise would write A's data). With
    ``current_only`` the caller passes each plan's latest version only, and revoked agents
    claim their id alone; otherwise every version and every agent row counts.
    """
    claims: Claims = {}
    for key, content in plan_contents:
        for claimed in _stored_ids(content):
            claims.setdefault(claimed, set()).add(key)
    for agent_id, key, platform, enterprise, revoked in agents:
        claims.setdefault(("agent", agent_id), set()).add(key)
        if not (current_only and revoked):
            claims.setdefault(("platform", platform), set()).add(key)
            claims.setdefault(("enterprise", enterprise), set()).add(key)
    return claims


def _sorted(collisions: Iterable[IdCollision]) -> tuple[IdCollision, ...]:
    return tuple(sorted(collisions, key=lambda c: (_KIND_ORDER[c.kind], c.id)))


def shared(claims: Claims) -> tuple[IdCollision, ...]:
    """Every id that more than one plan claims in ``claims``, by kind and id."""
    return _sorted(
        IdCollision(kind, value, tuple(sorted(keys)))
        for (kind, value), keys in claims.items()
        if len(keys) > 1
    )


def collisions_with(claims: Claims, plan: Plan) -> tuple[IdCollision, ...]:
    """The plan's ids that another plan key holds (``claims`` of every version and agent) and
    the plan itself never held: a plan keeps the ids it has, and takes none of another's."""
    found = []
    for kind, value in dict.fromkeys(plan_ids(plan)):
        holders = claims.get((kind, value), set())
        if holders and plan.key not in holders:
            found.append(IdCollision(kind, value, tuple(sorted({plan.key, *holders}))))
    return _sorted(found)


def collisions_among(plans: Iterable[tuple[str, Plan]]) -> tuple[IdCollision, ...]:
    """Ids that more than one of these (plan key, plan) pairs lists."""
    claims: Claims = {}
    for key, plan in plans:
        for claimed in plan_ids(plan):
            claims.setdefault(claimed, set()).add(key)
    return shared(claims)


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


def registry_refusal(path: Path | str, collisions: tuple[IdCollision, ...]) -> IdCollisionError:
    """The error for a registry that already holds ids claimed by two plans."""
    return IdCollisionError(
        f"registry {path} holds {len(collisions)} "
        f"{'id' if len(collisions) == 1 else 'ids'} claimed by more than one plan (loaded "
        f"before ids were checked across plans): {_named(collisions, None)}; {_WHY}, so one "
        "plan's users would see another's data. Resolve it before serving or ingesting: see "
        'docs/operations.md, "Ids claimed by two plans".',
        collisions,
    )
