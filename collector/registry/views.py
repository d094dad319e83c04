"""Paged and scoped reads of the audit log, quarantine and fleet for the web app (a mixin).

The web app shows a platform engineer only their platform's agents and a provincial reviewer
only their province's: the scope arrives here as the list of subjects or agent ids a caller may
see, and filters in SQL, so a page and its total count are of the visible rows only. ``None``
means no filter (a national role).
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.registry import quarantine
from collector.registry.core import RegistryCore
from collector.registry.records import AgentStatus, AuditEntry, QuarantineEntry, parse_time

__all__ = ["ViewsMixin"]

# SQLite binds at most 32766 parameters; a scope is far smaller (a province's agents).
_MAX_SCOPE = 30_000


def _in(column: str, values: Sequence[str] | None) -> tuple[str, list[object]]:
    if values is None:
        return "", []
    if len(values) > _MAX_SCOPE:
        raise ValueError(f"a scope of {len(values)} values is more than {_MAX_SCOPE}")
    if not values:
        return "0", []
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def _topic_or_agent(
    scope: tuple[Sequence[str], Sequence[str]] | None,
) -> tuple[str, list[object]]:
    if scope is None:
        return "", []
    prefixes, agents = scope
    tests = ["substr(topic, 1, ?) = ?" for _ in prefixes]
    params: list[object] = [value for prefix in prefixes for value in (len(prefix), prefix)]
    agent_test, agent_params = _in("agent_id", agents)
    tests.append(agent_test)
    return "(" + " OR ".join(tests) + ")", params + agent_params


def _where(clauses: list[tuple[str, list[object]]]) -> tuple[str, list[object]]:
    texts = [text for text, _ in clauses if text]
    params = [value for _, values in clauses for value in values]
    return (" WHERE " + " AND ".join(texts) if texts else ""), params


class ViewsMixin:
    """Paged, scoped reads; mixed into :class:`~collector.registry.store.Registry`."""

    def audit_page(
        self: RegistryCore,
        *,
        subjects: Sequence[str] | None,
        action: str | None = None,
        subject: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[AuditEntry], int]:
        """Audit entries newest first, within ``subjects`` (None: all); and how many match."""
        where, params = _where(
            [
                _in("subject", subjects),
                ("action = ?" if action else "", [action] if action else []),
                ("subject = ?" if subject else "", [subject] if subject else []),
            ]
        )
        with self._read() as conn:
            total = int(conn.execute(f"SELECT count(*) FROM audit{where}", params).fetchone()[0])  # noqa: S608 - built from literals
            rows = conn.execute(
                f"SELECT id, at, actor, action, subject, detail FROM audit{where} "  # noqa: S608 - built from literals
                "ORDER BY id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [
            AuditEntry(int(r[0]), parse_time(r[1]), r[2], r[3], r[4], r[5]) for r in rows
        ], total

    def quarantine_page(
        self: RegistryCore,
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
        where, params = _where(
            [
                _topic_or_agent(scope),
                ("reason = ?" if reason else "", [reason] if reason else []),
                ("received_at >= ?" if since else "", [since] if since else []),
                ("id = ?" if entry_id is not None else "", [] if entry_id is None else [entry_id]),
            ]
        )
        with self._read() as conn:
            total = int(
                conn.execute(f"SELECT count(*) FROM quarantine{where}", params).fetchone()[0]  # noqa: S608 - built from literals
            )
            rows = conn.execute(
                "SELECT id, received_at, topic, reason, detail, agent_id, raw_length, raw_sha256 "  # noqa: S608 - built from literals
                f"FROM quarantine{where} ORDER BY id DESC LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [quarantine.entry_from_row(row) for row in rows], total

    def agent_statuses(self: RegistryCore) -> dict[str, AgentStatus]:
        """What every agent last said about itself, by agent id."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT agent_id, last_seen, agent_version, config_digest, outbox_depth, state, "
                "updated_at FROM agent_status"
            ).fetchall()
        return {
            r[0]: AgentStatus(r[0], parse_time(r[1]), r[2], r[3], int(r[4]), r[5], parse_time(r[6]))
            for r in rows
        }

    def open_gap_counts(self: RegistryCore) -> dict[str, tuple[int, int]]:
        """Per agent with open seq gaps: (number of gaps, seqs missing)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT agent_id, count(*), sum(last_seq - first_seq + 1) FROM seq_gaps "
                "WHERE closed_at IS NULL GROUP BY agent_id"
            ).fetchall()
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
