"""An enterprise's agents as the API and the pages both show them: status, gaps, state."""

from __future__ import annotations

import datetime as dt

from collector.web.directory import EnterpriseRef
from collector.web.schemas import AgentOut
from collector.web.services.fleet import agent_lines
from collector.web.state import WebState

__all__ = ["agents_of"]


def agents_of(state: WebState, ref: EnterpriseRef, now: dt.datetime) -> list[AgentOut]:
    """The enterprise's agents with their last status and open seq gaps, as of ``now``."""
    agents = [a for a in state.registry.agents(platform=ref.platform.id) if a.enterprise == ref.id]
    return agent_lines(state, agents, now)
