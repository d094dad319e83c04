"""``/api/v1/quarantine``: messages the ingest rejected, with their kept bytes."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as Path_

from collector.registry.records import format_time
from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.problems import Problem
from collector.web.routes.common import Limit, Moment, Offset, State
from collector.web.schemas import Page, QuarantineDetailOut, QuarantineOut
from collector.web.services import quarantine_out

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get(
    "/quarantine",
    name="api.quarantine.list",
    response_model=Page[QuarantineOut],
    summary="Messages the ingest rejected, newest first",
)
def quarantine_list(
    user: CurrentUser,
    state: State,
    reason: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = None,
    since: Annotated[Moment | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Quarantined messages on the caller's platforms' topics (all, for national roles)."""
    directory = state.directory()
    visible = scope.quarantine_scope(user, directory, state.registry)
    start = None if since is None else format_time(since)
    entries, total = state.registry.quarantine_page(
        scope=visible, reason=reason, since=start, limit=limit, offset=offset
    )
    return {
        "items": [quarantine_out(e) for e in entries],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/quarantine/{entry_id}",
    name="api.quarantine.get",
    response_model=QuarantineDetailOut,
    summary="One quarantined message with its bytes",
)
def quarantine_get(
    entry_id: Annotated[int, Path_(ge=1, le=2**62)], user: CurrentUser, state: State
) -> QuarantineDetailOut:
    """The message's kept bytes (base64, and text when UTF-8), reason and detail."""
    visible = scope.quarantine_scope(user, state.directory(), state.registry)
    entries, _ = state.registry.quarantine_page(scope=visible, entry_id=entry_id, limit=1, offset=0)
    entry = state.registry.quarantine_get(entry_id) if entries else None
    if entry is None:
        raise Problem(404, f"no quarantined message {entry_id} that you may see")
    try:
        text: str | None = entry.raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return QuarantineDetailOut(
        **quarantine_out(entry).model_dump(),
        raw_base64=base64.b64encode(entry.raw).decode(),
        raw_utf8=text,
        truncated=entry.truncated,
    )
