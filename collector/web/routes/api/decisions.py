"""``/api/v1/enterprises/{id}/decisions`` and ``.../rectifications``: review decisions."""

from __future__ import annotations

from fastapi import APIRouter

from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.routes.common import EnterprisePath, State
from collector.web.schemas import DecisionIn, DecisionOut, RectificationsOut
from collector.web.services import attempt_out, decision_out, record_decision

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get(
    "/enterprises/{enterprise_id}/decisions",
    name="api.decisions.list",
    response_model=list[DecisionOut],
    summary="Review decisions on an enterprise",
)
def decisions_list(enterprise_id: EnterprisePath, user: CurrentUser, state: State) -> object:
    """Every decision, oldest first; the last is in force."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return [decision_out(d) for d in state.registry.decisions(ref.platform.id, ref.id)]


@router.post(
    "/enterprises/{enterprise_id}/decisions",
    name="api.decisions.record",
    status_code=201,
    response_model=DecisionOut,
    summary="Record a review decision on a bundle",
)
def decisions_record(
    enterprise_id: EnterprisePath, body: DecisionIn, user: CurrentUser, state: State
) -> DecisionOut:
    """Pass, fail or rectify, with a comment, on one of the enterprise's bundles."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return record_decision(state, user, ref, body)


@router.get(
    "/enterprises/{enterprise_id}/rectifications",
    name="api.rectifications.list",
    response_model=RectificationsOut,
    summary="Rectifications asked for, planned and attempted",
)
def rectifications(
    enterprise_id: EnterprisePath, user: CurrentUser, state: State
) -> RectificationsOut:
    """Decisions asking for rectification, the plan's rectification periods, and the latest
    bundle's attempts (original and rectifications) with their verdicts."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    asked = [d for d in state.registry.decisions(ref.platform.id, ref.id) if d.outcome == "rectify"]
    latest = state.bundles.latest(ref.id)
    return RectificationsOut(
        enterprise=ref.id,
        requested=[decision_out(d) for d in asked],
        planned=[r.model_dump(mode="json") for r in ref.enterprise.rectifications],
        attempts=[] if latest is None else [attempt_out(a) for a in latest.document.attempts],
    )
