"""``/api/v1/fleet`` and ``/api/v1/agents/{id}``: agents' live status."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.routes.common import AgentPath, Limit, Offset, State
from collector.web.schemas import AgentOut, Page
from collector.web.services import agent_out
from collector.web.services import fleet as fleet_of

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get(
    "/fleet",
    name="api.fleet.list",
    response_model=Page[AgentOut],
    summary="Live fleet status: agents online/offline, last window, outbox, seq gaps",
)
async def fleet(
    user: CurrentUser,
    state: State,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    agent_state: Annotated[
        str | None, Query(alias="state", pattern=r"^(online|offline|never_seen|revoked)$")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AgentOut]:
    """Agents the caller sees, with their last status, open seq gaps and last window."""
    return await fleet_of(
        state, user, platform=platform, agent_state=agent_state, limit=limit, offset=offset
    )


@router.get(
    "/agents/{agent_id}",
    name="api.agents.get",
    response_model=AgentOut,
    summary="One agent's live status",
)
def agent(
    agent_id: AgentPath,
    user: CurrentUser,
    state: State,
) -> AgentOut:
    """The agent's registration, last status and open seq gaps."""
    entry = scope.agent_in_scope(user, state.directory(), state.registry, agent_id)
    gaps = state.registry.seq_gaps(agent_id)
    return agent_out(
        entry,
        state.registry.agent_status(agent_id),
        (len(gaps), sum(g.missing for g in gaps)),
        now=dt.datetime.now(dt.UTC),
        offline_after_s=state.settings.agent_offline_after_s,
    )
