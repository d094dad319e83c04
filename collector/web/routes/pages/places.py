"""The home page, a province's page and a platform's page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.web.auth import CurrentUser
from collector.web.routes.common import PlatformPath, ProvincePath, State
from collector.web.routes.pages.render import render
from collector.web.services import platform_view, province_detail

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/", name="page.home")
def home(request: Request, user: CurrentUser, state: State) -> Response:
    """National roles: the provinces; a provincial role: its province; a platform: its page."""
    directory = state.directory()
    if user.role == "platform":
        return RedirectResponse(f"/platforms/{quote(user.platform or '')}", status_code=303)
    if not user.national and user.province in directory.provinces:
        return RedirectResponse(f"/provinces/{user.province}", status_code=303)
    provinces = [p for code, p in sorted(directory.provinces.items()) if user.sees_province(code)]
    counts = {
        p.code: (
            len(directory.platforms_of(p.code)),
            sum(len(x.platform.enterprises) for x in directory.platforms_of(p.code)),
        )
        for p in provinces
    }
    return render(request, state, "home.html", user=user, provinces=provinces, counts=counts)


@router.get("/provinces/{code}", name="page.province")
def province_page(
    request: Request,
    code: ProvincePath,
    user: CurrentUser,
    state: State,
) -> HTMLResponse:
    """Platforms of the province: passes against the minimum of 10, subsidy."""
    detail = province_detail(state, user, code)
    return render(request, state, "province.html", user=user, province=detail)


@router.get("/platforms/{platform_id}", name="page.platform")
def platform_page(
    request: Request, platform_id: PlatformPath, user: CurrentUser, state: State
) -> HTMLResponse:
    """The platform's enterprises with verdict badges, coverage, decisions; the roll-up."""
    view = platform_view(state, user, platform_id)
    return render(
        request,
        state,
        "platform.html",
        user=user,
        platform=view.summary,
        rollup=view.rollup,
        lines=view.lines,
    )
