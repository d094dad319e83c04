"""An enterprise's agents as the API and the pages both show them: status, gaps, state."""

from __future__ import annotations

import datetime as dt

from collector.web.directory import EnterpriseRef
from collector.web.schemas import AgentOut
from collector.web.services.summaries import agent_out
from collector.web.state import WebState

__all__ = ["agents_of"]


def agents_of(state: WebState, ref: EnterpriseRef, now: dt.datetime) -> list[AgentOut]:
    """The enterprise's agents with their last status and open seq gaps, as of ``now``."""
    statuses = state.registry.agent_statuses()
    gaps = state.registry.open_gap_counts()
    return [
        agent_out(
            a,
            statuses.get(a.agent_id),
            gaps.get(a.agent_id, (0, 0)),
            now=now,
            offline_after_s=state.settings.agent_offline_after_s,
        )
        for a in state.registry.agents(platform=ref.platform.id)
        if a.enterprise == ref.id
    ]
