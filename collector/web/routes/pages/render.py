"""Rendering a page: the templates, the page's language, the chrome, errors as pages, pagers.

Errors on pages are pages: 401 redirects to the login form, others render the error page with
the problem's words; the API's paths keep their problem details.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.errors import RegistryError, RegistryUnavailable
from collector.report.formatting import Formatter, visible_controls
from collector.report.i18n import Catalogue
from collector.web.auth import CSRF_FIELD, principal_from_request
from collector.web.i18n import LANG_COOKIE, choose_language, translate
from collector.web.prefix import app_path
from collector.web.principal import Principal
from collector.web.problems import Problem, registry_unavailable
from collector.web.registry_wait import registry_call
from collector.web.settings import LANGUAGES, Language
from collector.web.state import WebState

__all__ = ["install_page_errors", "page_language", "pager", "render"]

log = logging.getLogger(__name__)

templates = Jinja2Templates(directory=Path(__file__).parents[2] / "templates")
# Set before any template compiles: bidi controls in names show as ⟨U+202E⟩, never reorder.
templates.env.finalize = visible_controls
_API_PREFIXES = ("/api/", "/openapi.json", "/healthz", "/metrics")


def page_language(request: Request, state: WebState) -> Language:
    """The language this page is rendered in (i18n.choose_language)."""
    return choose_language(
        request.query_params.get("lang"),
        request.cookies,
        request.headers.get("accept-language"),
        state.settings.default_language,
    )


def _lang_url(request: Request, language: str) -> str:
    params = dict(request.query_params)
    params["lang"] = language
    return request.url.path + "?" + urlencode(params)


def render(
    request: Request,
    state: WebState,
    template: str,
    *,
    status: int = 200,
    user: Principal | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the page's language with the chrome's context."""
    language = page_language(request, state)

    def t(key: str, **values: object) -> str:
        return translate(key, language, **values)

    response = templates.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": language,
            "languages": LANGUAGES,
            "lang_url": lambda code: _lang_url(request, code),
            "user": user,
            "csrf_field": CSRF_FIELD,
            # The reverse proxy's path prefix (web.root_path): every link and form starts so.
            "root": request.scope.get("root_path", ""),
            # Evidence words and figures: the report's catalogue and formatter, so a page and
            # a bundle's report say the same thing the same way.
            "tr": Catalogue(language),
            "fmt": Formatter(language),
            **context,
        },
        status_code=status,
    )
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            max_age=365 * 86_400,
            httponly=True,
            samesite="lax",
            secure=state.settings.cookie_secure,
        )
    return response


def install_page_errors(app: FastAPI) -> None:
    """Errors on page paths become pages (401 → the login form); the API keeps problems."""
    api_handlers = dict(app.exception_handlers)

    async def on_error(request: Request, exc: Exception) -> Response:
        registry_down = isinstance(exc, RegistryUnavailable)
        if isinstance(exc, RegistryUnavailable):
            exc = registry_unavailable(exc)
        if app_path(request.scope).startswith(_API_PREFIXES):
            handler = api_handlers.get(type(exc)) or api_handlers[Problem]
            return await handler(request, exc)  # type: ignore[no-any-return]  # Starlette types handlers loosely
        status, detail = _status_and_detail(exc)
        if status == 401:
            # Paths inside the app: the prefix is added to every redirect on the way out.
            target = quote(app_path(request.scope), safe="/")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        state: WebState = request.app.state.web
        # Asking the registry who this is would only fail again while it is unavailable; when
        # it is asked, it is off the event loop and bounded, and a failure leaves the page
        # without the caller's name rather than failing the error page.
        user = None if registry_down else await _caller_or_none(request, state)
        page = render(
            request,
            state,
            "error.html",
            status=status,
            user=user,
            status_code=status,
            detail=detail,
        )
        # A refusal's headers (Retry-After of a 429) hold on the page as on the API.
        page.headers.update(getattr(exc, "headers", None) or {})
        return page

    for kind in (Problem, StarletteHTTPException, RequestValidationError, RegistryUnavailable):
        app.add_exception_handler(kind, on_error)


async def _caller_or_none(request: Request, state: WebState) -> Principal | None:
    try:
        return await registry_call(state, principal_from_request, request, state)
    except RegistryError as exc:
        log.warning("error page: who the caller is could not be asked: %s", exc)
        return None


def _status_and_detail(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, Problem):
        return exc.status, exc.detail
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, str(exc.detail)
    return 404, "no such page"


def pager(request: Request, total: int, limit: int, offset: int) -> dict[str, Any]:
    """The pager's figures and links for a list page (this page's query, another offset)."""

    def link(to: int) -> str:
        params = dict(request.query_params)
        params["offset"] = str(to)
        return request.url.path + "?" + urlencode(params)

    return {
        "total": total,
        "first": offset + 1 if total else 0,
        "last": min(offset + limit, total),
        "previous": link(max(offset - limit, 0)) if offset > 0 else None,
        "next": link(offset + limit) if offset + limit < total else None,
    }


def utc_text(moment: dt.datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM UTC`` (pages show UTC; dates of periods are local)."""
    return "–" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.globals["utc"] = utc_text
