"""``/api/v1/provinces`` and ``/api/v1/platforms``: pass counts and subsidy by review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.routes.common import Limit, Offset, PlatformPath, ProvincePath, State, page_of
from collector.web.schemas import (
    Page,
    PlatformOut,
    PlatformSummaryOut,
    ProvinceDetailOut,
    ProvinceOut,
    RollupOut,
)
from collector.web.services import (
    platform_rollup,
    platform_summary,
    platform_view,
    province_detail,
)

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get(
    "/provinces",
    name="api.provinces.list",
    response_model=Page[ProvinceOut],
    summary="Provinces with loaded plans",
)
def provinces(user: CurrentUser, state: State, limit: Limit = 50, offset: Offset = 0) -> object:
    """Provinces the caller sees, by code."""
    directory = state.directory()
    items: list[object] = []
    for code in sorted(directory.provinces):
        if not user.sees_province(code):
            continue
        province = directory.provinces[code]
        platforms = directory.platforms_of(code)
        items.append(
            ProvinceOut(
                code=code,
                name=province.name,
                plan_keys=list(province.plan_keys),
                platforms=len(platforms),
                enterprises=sum(len(p.platform.enterprises) for p in platforms),
            )
        )
    return page_of(items, limit, offset)


@router.get(
    "/provinces/{code}",
    name="api.provinces.get",
    response_model=ProvinceDetailOut,
    summary="A province's platforms, pass counts and subsidy",
)
def province(
    code: ProvincePath,
    user: CurrentUser,
    state: State,
) -> ProvinceDetailOut:
    """The province overview: each platform's passes against the minimum of 10, subsidy."""
    return province_detail(state, user, code)


@router.get(
    "/platforms",
    name="api.platforms.list",
    response_model=Page[PlatformSummaryOut],
    summary="Platforms the caller sees",
)
def platforms(
    user: CurrentUser,
    state: State,
    province: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{5}$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Platforms with pass counts and subsidy by review; filter by province code."""
    directory = state.directory()
    decisions = state.registry.latest_decisions()
    chosen = [
        p
        for p in scope.visible_platforms(user, directory)
        if province is None or p.province.code == province
    ]
    page = chosen[offset : offset + limit]
    items: list[object] = [
        platform_summary(p, platform_rollup(p, state.bundles, decisions)) for p in page
    ]
    return {"items": items, "total": len(chosen), "limit": limit, "offset": offset}


@router.get(
    "/platforms/{platform_id}",
    name="api.platforms.get",
    response_model=PlatformOut,
    summary="A platform and its enterprises",
)
def platform(platform_id: PlatformPath, user: CurrentUser, state: State) -> PlatformOut:
    """The platform's enterprises with verdict, flags, coverage and the decision in force."""
    view = platform_view(state, user, platform_id)
    return PlatformOut(**view.summary.model_dump(), enterprise_list=view.lines)


@router.get(
    "/platforms/{platform_id}/rollup",
    name="api.platforms.rollup",
    response_model=RollupOut,
    summary="A platform's roll-up and subsidy",
)
def rollup(platform_id: PlatformPath, user: CurrentUser, state: State) -> RollupOut:
    """Passed enterprises by review decision, the minimum of 10 and the subsidy in fen."""
    ref = scope.platform_in_scope(user, state.directory(), platform_id)
    return platform_rollup(ref, state.bundles, state.registry.latest_decisions())
