"""``/api/v1/users``: every user with role and scope (administrators only, access.py)."""

from __future__ import annotations

from fastapi import APIRouter

from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.routes.common import State
from collector.web.schemas import UserOut

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get("/users", name="api.users.list", response_model=list[UserOut], summary="Users (admin)")
def users(user: CurrentUser, state: State) -> list[UserOut]:
    """Every user with role and scope; secrets are never stored, so never shown."""
    return [
        UserOut(
            user_id=u.user_id,
            display_name=u.display_name,
            role=u.role,
            platform=u.platform,
            province=u.province,
            created_at=u.created_at,
            created_by=u.created_by,
            disabled_at=u.disabled_at,
        )
        for u in state.registry.users()
    ]
