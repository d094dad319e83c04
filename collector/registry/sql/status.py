"""Agent status: ``agent_status``, what each agent last said about itself.

One row per agent, replaced by a newer status message only (a retained status re-delivered
after a newer one must not move the agent back in time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from collector.registry.core import stored_text, utc_now
from collector.registry.records import AgentStatus, format_time, parse_time
from collector.registry.sql.database import Database

__all__ = ["SqlStatusRepository"]

_COLUMNS = "agent_id, last_seen, agent_version, config_digest, outbox_depth, state, updated_at"


def _status(row: Sequence[object]) -> AgentStatus:
    agent_id, last_seen, version, digest, depth, state, updated_at = row
    return AgentStatus(
        str(agent_id),
        parse_time(str(last_seen)),
        str(version),
        str(digest),
        int(str(depth)),
        str(state),
        parse_time(str(updated_at)),
    )


class SqlStatusRepository:
    """What every agent last said about itself."""

    def __init__(self, database: Database) -> None:
        self._db = database

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
    ) -> bool:
        """Record an agent's status; False if an equally new one is stored (nothing changed)."""
        seen, at = format_time(last_seen), format_time(now or utc_now())
        with self._db.write() as conn:
            cursor = conn.execute(
                f"INSERT INTO agent_status ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - literal
                "ON CONFLICT (agent_id) DO UPDATE SET last_seen = excluded.last_seen, "
                "agent_version = excluded.agent_version, config_digest = excluded.config_digest, "
                "outbox_depth = excluded.outbox_depth, state = excluded.state, "
                "updated_at = excluded.updated_at "
                "WHERE excluded.last_seen > agent_status.last_seen",
                (
                    agent_id,
                    seen,
                    stored_text(version, 64),
                    stored_text(config_digest, 80),
                    outbox_depth,
                    stored_text(state, 20),
                    at,
                ),
            )
            return cursor.rowcount > 0

    def get(self, agent_id: str) -> AgentStatus | None:
        """What the agent last said about itself, or None if it never did."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM agent_status WHERE agent_id = ?",  # noqa: S608 - literal
                (agent_id,),
            ).fetchone()
        return None if row is None else _status(row)

    def every(self) -> dict[str, AgentStatus]:
        """What every agent last said about itself, by agent id."""
        with self._db.read() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM agent_status").fetchall()  # noqa: S608 - literal
        return {str(row[0]): _status(row) for row in rows}
