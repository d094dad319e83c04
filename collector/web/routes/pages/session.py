"""The login form, its steps (TOTP code, a new password when one must be chosen), logout.

A person logs in with a login name and password (collector/web/login.py slows repeated
failures); an access token still opens a page session from the same form, for scripts and
for users without a password. After the password, a login may need a TOTP code or a new
password: the step's form carries a ticket (a registry challenge, ``web.login_step_ttl_s``)
instead of a session, so no page opens before every step is done.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.accounts import (
    MAX_PASSWORD_CHARS,
    hash_password,
    matching_step,
    password_problems,
    verify_password,
)
from collector.registry.accounts import ChallengeKind
from collector.registry.core import utc_now
from collector.web.auth import (
    CSRF_FIELD,
    cookie_path,
    principal_from_request,
    session_cookie_name,
    set_session_cookie,
)
from collector.web.login import (
    check_password,
    delay_refusal,
    login_failed,
    login_succeeded,
)
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.registry_wait import registry_call
from collector.web.routes.common import State
from collector.web.routes.pages.render import render
from collector.web.state import WebState
from collector.web.throttle import check_not_locked, client_address
from collector.web.throttle import login_failed as token_failed
from collector.web.totp_secrets import totp_secret

__all__ = ["router", "safe_next"]

router = APIRouter(include_in_schema=False)

Next = Annotated[str, Form(alias="next", max_length=500)]
Ticket = Annotated[str, Form(max_length=100)]
Password = Annotated[str, Form(max_length=MAX_PASSWORD_CHARS + 1)]


def safe_next(target: str | None) -> str:
    """Only a path on this site: "//evil.example" and "https://..." would leave it."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", name="page.login_form")
def login_form(
    request: Request,
    state: State,
    next_path: Annotated[str | None, Query(alias="next", max_length=500)] = None,
) -> HTMLResponse:
    """The login form: login name and password, or an access token."""
    return _form(request, state, next_path, status=200)


def _form(
    request: Request,
    state: WebState,
    next_path: str | None,
    *,
    status: int,
    error: str | None = None,
    wait_s: int = 0,
    username: str = "",
) -> HTMLResponse:
    response = render(
        request, state, "login.html", status=status, next_path=safe_next(next_path),
        error=error, wait_s=wait_s, username=username,
    )  # fmt: skip
    if status == 429:
        response.headers["Retry-After"] = str(wait_s)
    return response


def _check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin.partition("://")[2] != request.headers.get("host", ""):
        raise Problem(403, "the login form was sent from another site", kind="csrf")


@router.post("/login", name="page.login")
def login(
    request: Request,
    state: State,
    next_path: Next = "/",
    token: Annotated[str | None, Form(max_length=200)] = None,
    username: Annotated[str | None, Form(max_length=200)] = None,
    password: Annotated[str | None, Form(max_length=MAX_PASSWORD_CHARS + 1)] = None,
) -> Response:
    """Check the password (or token), then the next step or a session."""
    _check_origin(request)
    address = client_address(request, state.settings)
    try:
        check_not_locked(state, address)  # the token throttle's lock of this address
    except Problem as locked:
        return _form(request, state, next_path, status=429, error="login.delayed",
                     wait_s=int(locked.headers.get("Retry-After", "1")))  # fmt: skip
    if token:
        return _token_login(request, state, address, token, next_path)
    name = (username or "").strip()
    refusal = delay_refusal(state, address, name)
    if refusal is not None:
        return _form(request, state, next_path, status=429, error="login.delayed",
                     wait_s=int(refusal.headers["Retry-After"]), username=name)  # fmt: skip
    found = check_password(state, name, password or "")
    if found is None:
        wait_s = login_failed(state, address, name, "password")
        return _form(request, state, next_path, status=401, error="login.failed_password",
                     wait_s=wait_s, username=name)  # fmt: skip
    user, account = found
    login_succeeded(state, address, user.user_id)
    if account.has_totp:
        return _step(request, state, user.user_id, "totp", next_path)
    if account.must_change:
        return _step(request, state, user.user_id, "change", next_path)
    return _open_session(state, user.user_id, address, "password", next_path)


def _token_login(
    request: Request, state: WebState, address: str, token: str, next_path: str
) -> Response:
    found = state.registry.authenticate(token)
    if found is None:
        state.metrics.count(state.metrics.auth_failures, "bad_login")
        refusal = token_failed(state, address, token, "form")
        if refusal is not None:
            return _form(request, state, next_path, status=429, error="login.delayed",
                         wait_s=int(refusal.headers["Retry-After"]))  # fmt: skip
        return _form(request, state, next_path, status=401, error="login.failed")
    _, entry = found
    cookie, _ = state.registry.open_session(entry, ttl_s=state.settings.session_ttl_s)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, state.settings, cookie)
    return response


def _step(
    request: Request,
    state: WebState,
    user_id: str,
    kind: ChallengeKind,
    next_path: str,
    *,
    ticket: str | None = None,
    status: int = 200,
    error: str | None = None,
    problems: list[str] | None = None,
    wait_s: int = 0,
) -> HTMLResponse:
    """The form of a login's next step, with a fresh ticket unless one is given."""
    if ticket is None:
        ticket = state.registry.open_login_challenge(
            user_id, kind, ttl_s=state.settings.login_step_ttl_s
        )
        state.registry.note_login(f"auth.step_{kind}", f"user:{user_id}", {"step": kind})
    template = "login_totp.html" if kind == "totp" else "login_change.html"
    response = render(
        request, state, template, status=status, ticket=ticket, next_path=safe_next(next_path),
        error=error, problems=problems or [], wait_s=wait_s, username=user_id,
    )  # fmt: skip
    if status == 429:
        response.headers["Retry-After"] = str(wait_s)
    return response


def _open_session(
    state: WebState, user_id: str, address: str, via: str, next_path: str
) -> Response:
    cookie, _ = state.registry.open_password_session(
        user_id, ttl_s=state.settings.session_ttl_s, detail={"address": address, "via": via}
    )
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, state.settings, cookie)
    return response


def _challenged_user(
    request: Request, state: State, ticket: str, kind: str, next_path: str
) -> str | Response:
    """Whose login a step's ticket carries on, or the answer that the step has expired (a
    ticket unknown, spent, or issued for another step)."""
    _check_origin(request)
    challenge = state.registry.login_challenge(ticket)
    if challenge is None or challenge.kind != kind:
        return _form(request, state, next_path, status=401, error="login.step_expired")
    return challenge.user_id


@router.post("/login/totp", name="page.login_totp")
def login_totp(
    request: Request,
    state: State,
    ticket: Ticket,
    code: Annotated[str, Form(max_length=20)],
    next_path: Next = "/",
) -> Response:
    """The second factor: a TOTP code, each time step accepted once."""
    user_id = _challenged_user(request, state, ticket, "totp", next_path)
    if isinstance(user_id, Response):
        return user_id
    address = client_address(request, state.settings)
    refusal = delay_refusal(state, address, user_id)
    if refusal is not None:
        return _step(request, state, user_id, "totp", next_path, ticket=ticket, status=429,
                     error="login.delayed", wait_s=int(refusal.headers["Retry-After"]))  # fmt: skip
    account = state.registry.account(user_id)
    secret = None if account is None else totp_secret(state, account)  # opened (sealed at rest)
    step = None
    if account is not None and secret is not None:
        step = matching_step(secret, code, utc_now().timestamp(), after_step=account.totp_last_step)
    if step is None or not state.registry.use_totp_step(user_id, step):
        wait_s = login_failed(state, address, user_id, "totp")
        return _step(request, state, user_id, "totp", next_path, ticket=ticket, status=401,
                     error="login.failed_totp", wait_s=wait_s)  # fmt: skip
    state.registry.close_login_challenge(ticket)
    login_succeeded(state, address, user_id)
    if account is not None and account.must_change:
        return _step(request, state, user_id, "change", next_path)
    return _open_session(state, user_id, address, "password+totp", next_path)


@router.post("/login/change", name="page.login_change")
def login_change(
    request: Request,
    state: State,
    ticket: Ticket,
    new_password: Password,
    repeat_password: Password,
    next_path: Next = "/",
) -> Response:
    """A new password chosen at login (after a reset, or a first login), then a session."""
    user_id = _challenged_user(request, state, ticket, "change", next_path)
    if isinstance(user_id, Response):
        return user_id
    account = state.registry.account(user_id)
    problems = new_password_problems(
        user_id, new_password, repeat_password, None if account is None else account.password_hash
    )
    if problems:
        return _step(request, state, user_id, "change", next_path, ticket=ticket, status=422,
                     problems=problems)  # fmt: skip
    state.registry.set_password(
        user_id, hash_password(new_password), must_change=False, why="change", by=user_id
    )
    state.registry.close_login_challenge(ticket)
    address = client_address(request, state.settings)
    return _open_session(state, user_id, address, "password", next_path)


def new_password_problems(
    user_id: str, new_password: str, repeat_password: str, current_hash: str | None
) -> list[str]:
    """The catalogue keys of what is wrong with a new password (empty: acceptable)."""
    keys = [f"password.{problem.code}" for problem in password_problems(new_password, user_id)]
    if new_password != repeat_password:
        keys.append("password.mismatch")
    if current_hash is not None and verify_password(current_hash, new_password):
        keys.append("password.unchanged")
    return keys


def _end_session(state: WebState, cookie: str, principal: Principal) -> None:
    """Delete the session's row and audit the logout (blocks: a worker thread's)."""
    state.registry.close_session(cookie)
    state.registry.note_login(
        "auth.logout", f"user:{principal.user_id}", {"via": principal.token_id},
        by=principal.user_id,
    )  # fmt: skip


@router.post("/logout", name="page.logout")
async def logout(request: Request, state: State) -> Response:
    """End the session (its row is deleted) and clear the cookie."""
    name = session_cookie_name(state.settings)
    cookie = request.cookies.get(name)
    # The registry off the event loop, bounded (collector/web/registry_wait.py).
    principal = await registry_call(state, principal_from_request, request, state)
    if cookie is not None and principal is not None:
        form = await request.form()
        if form.get(CSRF_FIELD) != principal.csrf:
            raise Problem(403, "missing or wrong CSRF token", kind="csrf")
        await registry_call(state, _end_session, state, cookie, principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        name, path=cookie_path(state.settings), secure=state.settings.cookie_secure, httponly=True
    )
    return response
