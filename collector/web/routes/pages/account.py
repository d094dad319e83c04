"""The caller's own account: change the password, enrol or remove a TOTP second factor.

Changing the password ends every password session of the user (the registry deletes them)
and opens a new one for this browser. Enrolment shows the secret (as a QR code and as text)
once, on the answer to a POST (``no-store``, never in a URL); the secret goes back with the
first code, and only a correct code stores it. Everything here is audited by the registry.
"""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from collector.accounts import (
    MAX_PASSWORD_CHARS,
    hash_password,
    matching_step,
    new_totp_secret,
    provisioning_uri,
    verify_password,
)
from collector.registry.core import utc_now
from collector.web.auth import CurrentUser, set_session_cookie
from collector.web.principal import Principal
from collector.web.routes.common import State
from collector.web.routes.pages.render import render
from collector.web.routes.pages.session import new_password_problems
from collector.web.state import WebState
from collector.web.throttle import client_address
from collector.web.totp_secrets import can_enrol, store_totp

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Password = Annotated[str, Form(max_length=MAX_PASSWORD_CHARS + 1)]
Code = Annotated[str, Form(max_length=20)]
#: A base32 secret of 20 bytes is 32 characters.
Secret = Annotated[str, Form(min_length=32, max_length=32, pattern=r"^[A-Z2-7]{32}$")]


#: What a redirect back to the account page may say was done (anything else says nothing).
_DONE = frozenset({"password", "totp", "totp_removed"})


def _done(value: str | None) -> str | None:
    return value if value in _DONE else None


def _page(
    request: Request,
    state: WebState,
    user: Principal,
    *,
    status: int = 200,
    **context: object,
) -> HTMLResponse:
    account = state.registry.account(user.user_id)
    return render(
        request, state, "account.html", status=status, user=user, account=account,
        done=_done(request.query_params.get("done")), **context,
    )  # fmt: skip


@router.get("/account", name="page.account")
def account_page(request: Request, user: CurrentUser, state: State) -> HTMLResponse:
    """The caller's password and second factor."""
    return _page(request, state, user)


@router.post("/account/password", name="page.account_password")
def change_password(
    request: Request,
    user: CurrentUser,
    state: State,
    current_password: Password,
    new_password: Password,
    repeat_password: Password,
) -> Response:
    """Change the caller's password; their other password sessions end."""
    account = state.registry.account(user.user_id)
    if account is None or not verify_password(account.password_hash, current_password):
        return _page(request, state, user, status=422, problems=["password.current_wrong"])
    problems = new_password_problems(
        user.user_id, new_password, repeat_password, account.password_hash
    )
    if problems:
        return _page(request, state, user, status=422, problems=problems)
    state.registry.set_password(
        user.user_id, hash_password(new_password), must_change=False, why="change",
        by=user.user_id,
    )  # fmt: skip
    cookie, _ = state.registry.open_password_session(
        user.user_id,
        ttl_s=state.settings.session_ttl_s,
        detail={"address": client_address(request, state.settings), "via": "password change"},
    )
    response = RedirectResponse("/account?done=password", status_code=303)
    set_session_cookie(response, state.settings, cookie)
    return response


def _enrolment(
    request: Request,
    state: WebState,
    user: Principal,
    secret: str,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    uri = provisioning_uri(secret, user.user_id)
    qr = segno.make(uri, error="m", micro=False).png_data_uri(scale=5, border=4)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(
        request, state, "account_totp.html", status=status, user=user, secret=secret,
        grouped=grouped, qr=qr, error=error,
    )  # fmt: skip


@router.post("/account/totp/start", name="page.totp_start")
def start_totp(request: Request, user: CurrentUser, state: State) -> HTMLResponse:
    """A new secret, shown once as a QR code and as text, with the form for its first code."""
    account = state.registry.account(user.user_id)
    if account is None or account.has_totp:
        return _page(request, state, user, status=409, problems=["totp.not_now"])
    if not can_enrol(state):  # no key to seal it with: never stored in clear
        return _page(request, state, user, status=409, problems=["totp.no_key"])
    return _enrolment(request, state, user, new_totp_secret())


@router.post("/account/totp", name="page.totp_enrol")
def enrol_totp(
    request: Request, user: CurrentUser, state: State, secret: Secret, code: Code
) -> Response:
    """Store the secret once its first code is right; from the next login it is asked for."""
    account = state.registry.account(user.user_id)
    if account is None or account.has_totp:
        return _page(request, state, user, status=409, problems=["totp.not_now"])
    if not can_enrol(state):
        return _page(request, state, user, status=409, problems=["totp.no_key"])
    step = matching_step(secret, code, utc_now().timestamp(), after_step=0)
    if step is None:
        return _enrolment(request, state, user, secret, status=422, error="totp.wrong_code")
    store_totp(state, user.user_id, secret, step)  # sealed (collector/web/totp_secrets.py)
    return RedirectResponse("/account?done=totp", status_code=303)


@router.post("/account/totp/remove", name="page.totp_remove")
def remove_totp(
    request: Request, user: CurrentUser, state: State, current_password: Password
) -> Response:
    """Remove the second factor (the password is asked again)."""
    account = state.registry.account(user.user_id)
    if account is None or not verify_password(account.password_hash, current_password):
        return _page(request, state, user, status=422, problems=["password.current_wrong"])
    if account.has_totp:
        state.registry.set_totp(user.user_id, None, by=user.user_id, reason="removed by its user")
    return RedirectResponse("/account?done=totp_removed", status_code=303)
