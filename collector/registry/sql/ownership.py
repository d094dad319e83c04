"""Which plan claims which id (``plan_versions`` contents and ``agents``).

The rules are :mod:`collector.registry.ownership`'s; these functions only read the claims, with
the caller's connection inside the caller's transaction, so a plan load checks and writes
under one write lock.
"""

from __future__ import annotations

from collector.errors import IdCollision
from collector.plan import Plan
from collector.registry import ownership
from collector.registry.sql.database import Connection

__all__ = ["collisions_with", "current_collisions"]

_LATEST_CONTENT = (
    "SELECT p.plan_key, p.content FROM plan_versions p JOIN (SELECT plan_key, max(version) AS v "
    "FROM plan_versions GROUP BY plan_key) m ON p.plan_key = m.plan_key AND p.version = m.v"
)


def _claims(conn: Connection, *, current_only: bool) -> ownership.Claims:
    query = _LATEST_CONTENT if current_only else "SELECT plan_key, content FROM plan_versions"
    contents = [(str(key), str(content)) for key, content in conn.execute(query).fetchall()]
    agents = [
        (str(agent_id), str(key), str(platform), str(enterprise), revoked_at is not None)
        for agent_id, key, platform, enterprise, revoked_at in conn.execute(
            "SELECT agent_id, plan_key, platform, enterprise, revoked_at FROM agents"
        ).fetchall()
    ]
    return ownership.claims_from(contents, agents, current_only=current_only)


def collisions_with(conn: Connection, plan: Plan) -> tuple[IdCollision, ...]:
    """The plan's ids another plan key holds (in any version, or through its agents)."""
    return ownership.collisions_with(_claims(conn, current_only=False), plan)


def current_collisions(conn: Connection) -> tuple[IdCollision, ...]:
    """Every id more than one plan claims now: latest versions, agents not revoked."""
    return ownership.shared(_claims(conn, current_only=True))
