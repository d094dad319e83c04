"""The fleet as the API and the pages both show it: agents, their state and last window.

Agent state comes from the registry; the last window from InfluxDB, best effort: the fleet
must show agent state even while InfluxDB is down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from collector.registry import AgentEntry
from collector.store import StoreError
from collector.web import scope
from collector.web.principal import Principal
from collector.web.registry_wait import registry_call
from collector.web.schemas import AgentOut, Page
from collector.web.services.day_seals import seals_behind_of
from collector.web.services.series import last_window_ends
from collector.web.services.summaries import agent_out
from collector.web.state import WebState

__all__ = ["agent_lines", "fleet", "fleet_lines"]


async def fleet(
    state: WebState,
    user: Principal,
    *,
    platform: str | None,
    agent_state: str | None,
    limit: int,
    offset: int,
) -> Page[AgentOut]:
    """A page of the caller's agents (by platform, by state), with their last windows."""
    lines = await registry_call(state, fleet_lines, state, user, platform)
    if agent_state is not None:
        lines = [line for line in lines if line.state == agent_state]
    page = lines[offset : offset + limit]
    page = await _with_last_windows(state, page)
    return Page[AgentOut](items=page, total=len(lines), limit=limit, offset=offset)


def fleet_lines(state: WebState, user: Principal, platform: str | None) -> list[AgentOut]:
    """The caller's agents with status (without last windows), by platform and id."""
    directory = state.directory()
    agents = [
        a
        for a in scope.visible_agents(user, directory, state.registry)
        if platform is None or a.platform == platform
    ]
    return agent_lines(state, agents, dt.datetime.now(dt.UTC))


def agent_lines(state: WebState, agents: Iterable[AgentEntry], now: dt.datetime) -> list[AgentOut]:
    """``agents`` with their last status, open seq gaps and seals behind, as of ``now``, in
    their order."""
    agents = list(agents)
    statuses = state.registry.agent_statuses()
    gaps = state.registry.open_gap_counts()
    behind = seals_behind_of(state, agents, now)
    return [
        agent_out(
            a,
            statuses.get(a.agent_id),
            gaps.get(a.agent_id, (0, 0)),
            now=now,
            offline_after_s=state.settings.agent_offline_after_s,
        ).model_copy(update={"seals_behind": behind.get(a.agent_id, 0)})
        for a in agents
    ]


async def _with_last_windows(state: WebState, page: list[AgentOut]) -> list[AgentOut]:
    # Best effort: the fleet page must show agent state even while InfluxDB is down.
    if state.store is None or not page:
        return page
    ends: dict[str, dt.datetime] = {}
    now = dt.datetime.now(dt.UTC)
    try:
        for platform_id in sorted({line.platform for line in page}):
            ends.update(await last_window_ends(state.store, platform_id, now))
    except StoreError:
        return page
    return [line.model_copy(update={"last_window_end": ends.get(line.agent_id)}) for line in page]
