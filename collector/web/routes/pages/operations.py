"""The fleet, quarantine and audit pages: lists the caller may see, paged."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.principal import Principal
from collector.web.registry_wait import registry_call
from collector.web.routes.common import Limit, Offset, State
from collector.web.routes.pages.render import pager, render
from collector.web.schemas import AgentOut
from collector.web.services import audit_out, fleet, fleet_lines, quarantine_out
from collector.web.state import WebState

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_PAGE_SIZE = 50


@router.get("/fleet", name="page.fleet")
async def fleet_page(
    request: Request,
    user: CurrentUser,
    state: State,
    limit: Limit = _PAGE_SIZE,
    offset: Offset = 0,
) -> HTMLResponse:
    """Every agent the caller sees: online or not, last status and window, outbox, gaps."""
    result = await fleet(state, user, platform=None, agent_state=None, limit=limit, offset=offset)
    lines = await _all_states(state, user)
    online = sum(1 for line in lines if line.state == "online")
    return render(
        request,
        state,
        "fleet.html",
        user=user,
        agents=result.items,
        online=online,
        total=len(lines),
        pager=pager(request, result.total, limit, offset),
    )


async def _all_states(state: WebState, user: Principal) -> list[AgentOut]:
    return await registry_call(state, fleet_lines, state, user, None)


@router.get("/quarantine", name="page.quarantine")
def quarantine_page(
    request: Request,
    user: CurrentUser,
    state: State,
    limit: Limit = _PAGE_SIZE,
    offset: Offset = 0,
) -> HTMLResponse:
    """Rejected messages the caller may see, newest first, with reason and detail."""
    visible = scope.quarantine_scope(user, state.directory(), state.registry)
    entries, total = state.registry.quarantine_page(scope=visible, limit=limit, offset=offset)
    return render(
        request,
        state,
        "quarantine.html",
        user=user,
        entries=[quarantine_out(e) for e in entries],
        pager=pager(request, total, limit, offset),
    )


@router.get("/audit", name="page.audit")
def audit_page(
    request: Request,
    user: CurrentUser,
    state: State,
    limit: Limit = _PAGE_SIZE,
    offset: Offset = 0,
) -> HTMLResponse:
    """The audit log the caller may see, newest first."""
    subjects = scope.audit_subjects(user, state.directory(), state.registry)
    entries, total = state.registry.audit_page(subjects=subjects, limit=limit, offset=offset)
    return render(
        request,
        state,
        "audit.html",
        user=user,
        entries=[audit_out(e) for e in entries],
        pager=pager(request, total, limit, offset),
    )
