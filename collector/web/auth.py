"""Authentication and the role gate: a bearer token or a page session becomes a Principal.

API clients send ``Authorization: Bearer rvt_...``. Pages use a session cookie made at login
(HttpOnly, SameSite=Strict, Secure with the ``__Host-`` name unless ``web.cookie_secure`` is
off), backed by a row in the registry that holds only the cookie's SHA-256. A state-changing
request that comes with the cookie must also carry the session's CSRF token (a hidden form
field on pages, the ``X-CSRF-Token`` header on the API) and, when the browser sends one, an
``Origin`` equal to the app's own: SameSite alone leaves older browsers and same-site
attackers. A bearer token is not sent by browsers on their own, so it needs no CSRF token.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.routing import Match

from collector.registry import Role
from collector.web.access import RULES
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.registry_wait import registry_call
from collector.web.settings import WebSettings
from collector.web.state import WebState, web_state
from collector.web.throttle import check_not_locked, client_address, login_failed

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CurrentUser",
    "authorize",
    "cookie_path",
    "principal_from_request",
    "session_cookie_name",
    "set_session_cookie",
]

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX_FORM_BYTES = 64 * 1024


def session_cookie_name(settings: WebSettings) -> str:
    """``__Host-rv_session`` over HTTPS (browsers then refuse it from sub-domains or HTTP).

    Under a path prefix (``web.root_path``) it is ``__Secure-rv_session``: a ``__Host-``
    cookie must have ``Path=/``, and this one is sent only under the prefix.
    """
    if not settings.cookie_secure:
        return "rv_session"
    return "__Secure-rv_session" if settings.root_path else "__Host-rv_session"


def cookie_path(settings: WebSettings) -> str:
    """The session cookie's ``Path``: the app's prefix, or ``/``."""
    return settings.root_path or "/"


def set_session_cookie(response: Response, settings: WebSettings, cookie: str) -> None:
    """Give the browser its session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS)."""
    response.set_cookie(
        session_cookie_name(settings),
        cookie,
        max_age=settings.session_ttl_s,
        path=cookie_path(settings),
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
    )


def route_name(request: Request) -> str:
    """The name of the route that matched this request ('' if none did)."""
    route = request.scope.get("route")
    if route is not None:
        return str(getattr(route, "name", ""))
    for candidate in request.app.router.routes:
        match, _ = candidate.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(candidate, "name", ""))
    return ""


def principal_from_request(request: Request, state: WebState) -> Principal | None:
    """The caller proved by a bearer token or a session cookie, or None.

    A malformed, unknown, revoked or expired credential is None, counted by reason.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        found = state.registry.authenticate(token) if scheme.lower() == "bearer" else None
        if found is None:
            state.metrics.count(state.metrics.auth_failures, "bad_token")
            return None
        user, entry = found
        return Principal.of(user, entry.token_id, "token")
    cookie = request.cookies.get(session_cookie_name(state.settings))
    if cookie is None:
        return None
    session = state.registry.session(cookie)
    if session is None:
        state.metrics.count(state.metrics.auth_failures, "bad_session")
        return None
    return Principal.of(session.user, session.token.token_id, "session", session.csrf)


def _same_origin(request: Request) -> bool:
    # Browsers send Origin on every cross-site and on same-origin POSTs; none at all is an old
    # browser or a non-browser client (which needs the CSRF token anyway). Scheme is not
    # compared: behind a TLS-terminating proxy the app sees http while the browser says https.
    origin = request.headers.get("origin")
    if origin is None:
        return True
    scheme, _, netloc = origin.partition("://")
    return scheme in ("http", "https") and netloc == request.headers.get("host", "")


async def _check_csrf(request: Request, principal: Principal, name: str) -> None:
    if principal.via != "session" or request.method in _SAFE_METHODS:
        return
    if not _same_origin(request):
        raise Problem(403, "the request comes from another site (Origin)", kind="csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and name.startswith("page."):
        length = int(request.headers.get("content-length") or 0)
        if length <= _MAX_FORM_BYTES:
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    expected = principal.csrf or ""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Problem(
            403, "missing or wrong CSRF token: reload the page and try again", kind="csrf"
        )


def _authenticated(request: Request, state: WebState) -> Principal:
    """The caller proved by a token or session, counting a wrong bearer token as a failed
    login; else 401 (or the lockout's 429). Blocks on the registry: run in a worker thread."""
    bearer = request.headers.get("authorization")
    address = client_address(request, state.settings)
    if bearer is not None:
        check_not_locked(state, address)  # a locked address's tokens are not even checked
    principal = principal_from_request(request, state)
    if principal is None and bearer is not None:
        refusal = login_failed(state, address, bearer.partition(" ")[2], "bearer")
        if refusal is not None:
            raise refusal
    if principal is None:
        raise Problem(
            401,
            "log in, or send Authorization: Bearer <token> (retrofit-collector users token)",
            headers={"WWW-Authenticate": 'Bearer realm="retrofit-verify"'},
        )
    return principal


async def authorize(request: Request, state: Annotated[WebState, Depends(web_state)]) -> Principal:
    """The caller, if their role may call this route (:data:`RULES`); else 401 or 403.

    The registry is asked in a worker thread, waited for at most ``web.registry_wait_s``
    (collector/web/registry_wait.py): every route behind a login passes here, so a registry
    that hangs holds no other request. Scope (which objects) is checked by the handler on the
    object it resolves.
    """
    name = route_name(request)
    allowed: frozenset[Role] = RULES.get(name, frozenset())
    principal = await registry_call(state, _authenticated, request, state)
    if principal.role not in allowed:
        raise Problem(403, f"the role {principal.role} may not do this ({name})")
    await _check_csrf(request, principal, name)
    request.state.principal = principal
    return principal


#: A handler parameter that is the authorised caller.
CurrentUser = Annotated[Principal, Depends(authorize)]
