"""``/api/v1/me``: the caller."""

from __future__ import annotations

from fastapi import APIRouter

from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.schemas import MeOut

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get("/me", name="api.me", response_model=MeOut, summary="The caller: role and scope")
def me(user: CurrentUser) -> MeOut:
    """Who the token or session belongs to, with role and scope."""
    return MeOut(
        user_id=user.user_id,
        display_name=user.display_name,
        role=user.role,
        platform=user.platform,
        province=user.province,
        via=user.via,
    )
