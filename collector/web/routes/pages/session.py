"""The login form, login and logout: a session cookie from an access token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.web.auth import CSRF_FIELD, principal_from_request, session_cookie_name
from collector.web.problems import Problem
from collector.web.routes.common import State
from collector.web.routes.pages.render import render
from collector.web.state import WebState
from collector.web.throttle import check_not_locked, client_address, login_failed

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: "//evil.example" and "https://..." would leave it.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", name="page.login_form")
def login_form(
    request: Request,
    state: State,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> HTMLResponse:
    """The login form: one field for the access token."""
    return render(request, state, "login.html", next_path=_safe_next(next_path), failed=False)


@router.post("/login", name="page.login")
def login(
    request: Request,
    state: State,
    token: Annotated[str, Form(max_length=200)],
    next_path: Annotated[str, Form(alias="next", max_length=500)] = "/",
) -> Response:
    """Check the token, open a session, set the cookie, go where the user was going."""
    origin = request.headers.get("origin")
    if origin is not None and origin.partition("://")[2] != request.headers.get("host", ""):
        raise Problem(403, "the login form was sent from another site", kind="csrf")
    address = client_address(request, state.settings)
    try:
        check_not_locked(state, address)
    except Problem as locked:
        return _login_refused(request, state, locked)
    found = state.registry.authenticate(token)
    if found is None:
        state.metrics.count(state.metrics.auth_failures, "bad_login")
        refusal = login_failed(state, address, token, "form")
        if refusal is not None:
            return _login_refused(request, state, refusal)
        return render(
            request,
            state,
            "login.html",
            status=401,
            next_path=_safe_next(next_path),
            failed=True,
        )
    _, entry = found
    cookie, _ = state.registry.open_session(entry, ttl_s=state.settings.session_ttl_s)
    response = RedirectResponse(_safe_next(next_path), status_code=303)
    response.set_cookie(
        session_cookie_name(state.settings),
        cookie,
        max_age=state.settings.session_ttl_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=state.settings.cookie_secure,
    )
    return response


def _login_refused(request: Request, state: WebState, refusal: Problem) -> HTMLResponse:
    """The error page for a throttled login, with the problem's Retry-After."""
    response = render(
        request,
        state,
        "error.html",
        status=refusal.status,
        status_code=refusal.status,
        detail=refusal.detail,
    )
    response.headers.update(refusal.headers)
    return response


@router.post("/logout", name="page.logout")
async def logout(request: Request, state: State) -> Response:
    """End the session (its row is deleted) and clear the cookie."""
    name = session_cookie_name(state.settings)
    cookie = request.cookies.get(name)
    principal = principal_from_request(request, state)
    if cookie is not None and principal is not None:
        form = await request.form()
        if form.get(CSRF_FIELD) != principal.csrf:
            raise Problem(403, "missing or wrong CSRF token", kind="csrf")
        state.registry.close_session(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(name, path="/", secure=state.settings.cookie_secure, httponly=True)
    return response
