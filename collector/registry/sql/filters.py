"""WHERE clauses for the web app's paged, scoped reads (audit, quarantine), with their params.

The web app shows a platform engineer only their platform's agents and a provincial reviewer
only their province's: the scope arrives as the list of subjects or agent ids a caller may
see, and filters in SQL, so a page and its total count are of the visible rows only. ``None``
means no filter (a national role).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Clause", "in_values", "topic_or_agent", "where"]

#: SQL text (empty: no condition) and the values its ``?`` marks take.
Clause = tuple[str, list[object]]

# SQLite binds at most 32766 parameters; a scope is far smaller (a province's agents).
_MAX_SCOPE = 30_000


def in_values(column: str, values: Sequence[str] | None) -> Clause:
    """``column IN (...)``; no condition for None, and one matching nothing for no values."""
    if values is None:
        return "", []
    if len(values) > _MAX_SCOPE:
        raise ValueError(f"a scope of {len(values)} values is more than {_MAX_SCOPE}")
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def topic_or_agent(scope: tuple[Sequence[str], Sequence[str]] | None) -> Clause:
    """A quarantine entry in scope: its topic starts with a prefix, or it names an agent id."""
    if scope is None:
        return "", []
    prefixes, agents = scope
    tests = ["substr(topic, 1, ?) = ?" for _ in prefixes]
    params: list[object] = [value for prefix in prefixes for value in (len(prefix), prefix)]
    agent_test, agent_params = in_values("agent_id", agents)
    tests.append(agent_test)
    return "(" + " OR ".join(tests) + ")", params + agent_params


def where(clauses: list[Clause]) -> Clause:
    """`` WHERE a AND b ...`` of the clauses that say something (empty if none does)."""
    texts = [text for text, _ in clauses if text]
    params = [value for _, values in clauses for value in values]
    return (" WHERE " + " AND ".join(texts) if texts else ""), params
