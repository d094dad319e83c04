"""``/api/v1/audit``: the audit log the caller may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.routes.common import Limit, Offset, State
from collector.web.schemas import AuditOut, Page
from collector.web.services import audit_out

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get(
    "/audit",
    name="api.audit.list",
    response_model=Page[AuditOut],
    summary="The audit log, newest first",
)
def audit(
    user: CurrentUser,
    state: State,
    action: Annotated[str | None, Query(pattern=r"^[a-z][a-z._]{0,39}$")] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Every change to plans, agents, keys, users, decisions and evidence runs the caller
    may see (their own platform's or province's, or all for national roles)."""
    subjects = scope.audit_subjects(user, state.directory(), state.registry)
    entries, total = state.registry.audit_page(
        subjects=subjects, action=action, subject=subject, limit=limit, offset=offset
    )
    return {
        "items": [audit_out(e) for e in entries],
        "total": total,
        "limit": limit,
        "offset": offset,
    }
