"""Server-rendered pages (Jinja2) for reviewers and platform engineers, in zh-CN and en.

Progressive enhancement: every page is plain HTML with forms that POST and redirect (303), no
script needed. The same role table and scope checks as the API guard every page; forms carry
the session's CSRF token (auth.py). Errors on pages are pages: 401 redirects to the login form,
others render the error page with the problem's words.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.bundle import MANIFEST_NAME, BundleDamaged, LoadedBundle
from collector.evidence.document import EnterpriseEvidence
from collector.report.charts import daily_kpi_chart
from collector.report.formatting import Formatter, visible_controls
from collector.report.i18n import Catalogue
from collector.web import scope
from collector.web.auth import CSRF_FIELD, CurrentUser, principal_from_request, session_cookie_name
from collector.web.i18n import LANG_COOKIE, choose_language, translate
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.routes import api
from collector.web.routes.common import (
    BundleFilePath,
    BundlePath,
    EnterprisePath,
    Limit,
    Offset,
    PlatformPath,
    ProvincePath,
)
from collector.web.schemas import DecisionIn
from collector.web.settings import LANGUAGES, Language
from collector.web.state import WebState, web_state
from collector.web.summaries import (
    audit_out,
    decision_out,
    enterprise_summary,
    platform_rollup,
    platform_summary,
    quarantine_out,
)
from collector.web.throttle import check_not_locked, client_address, login_failed

__all__ = ["install_page_errors", "router"]

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
# Set before any template compiles: bidi controls in names show as ⟨U+202E⟩, never reorder.
templates.env.finalize = visible_controls
_API_PREFIXES = ("/api/", "/openapi.json", "/healthz", "/metrics")
_PAGE_SIZE = 50


# --- rendering -----------------------------------------------------------------------------


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
        if request.url.path.startswith(_API_PREFIXES):
            handler = api_handlers.get(type(exc)) or api_handlers[Problem]
            return await handler(request, exc)  # type: ignore[no-any-return]  # Starlette types handlers loosely
        status, detail = _status_and_detail(exc)
        if status == 401:
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        state: WebState = request.app.state.web
        user = principal_from_request(request, state)
        return render(
            request,
            state,
            "error.html",
            status=status,
            user=user,
            status_code=status,
            detail=detail,
        )

    for kind in (Problem, StarletteHTTPException, RequestValidationError):
        app.add_exception_handler(kind, on_error)


def _status_and_detail(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, Problem):
        return exc.status, exc.detail
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, str(exc.detail)
    return 404, "no such page"


def _safe_next(target: str | None) -> str:
    # Only a path on this site: "//evil.example" and "https://..." would leave it.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


# --- login and logout ----------------------------------------------------------------------


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


# --- overview, province, platform ----------------------------------------------------------


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
    detail = api.province(code, user, state)
    return render(request, state, "province.html", user=user, province=detail)


@router.get("/platforms/{platform_id}", name="page.platform")
def platform_page(
    request: Request, platform_id: PlatformPath, user: CurrentUser, state: State
) -> HTMLResponse:
    """The platform's enterprises with verdict badges, coverage, decisions; the roll-up."""
    directory = state.directory()
    ref = scope.platform_in_scope(user, directory, platform_id)
    decisions = state.registry.latest_decisions()
    rollup = platform_rollup(ref, state.bundles, decisions)
    lines = [
        enterprise_summary(e, state.bundles.latest(e.id), decisions.get((ref.id, e.id)))
        for e in directory.enterprises_of(ref.id)
    ]
    return render(
        request,
        state,
        "platform.html",
        user=user,
        platform=platform_summary(ref, rollup),
        rollup=rollup,
        lines=lines,
    )


# --- enterprise ----------------------------------------------------------------------------


def _charts(document: EnterpriseEvidence, language: Language) -> list[tuple[str, Markup]]:
    """The report's before/after chart of each KPI of the last attempt."""
    if not document.attempts:
        return []
    last = document.attempts[-1]
    catalogue = Catalogue(language)
    return [
        (
            catalogue.kpi(kpi.kpi),
            daily_kpi_chart(
                kpi,
                document.enterprise.go_live,
                language,
                rectification=last.rectification_date,
            ),
        )
        for kpi in last.kpis
    ]


def _chosen_bundle(
    state: WebState, enterprise_id: str, bundle_id: str | None
) -> LoadedBundle | None:
    try:
        if bundle_id is not None:
            return state.bundles.load(enterprise_id, bundle_id)
        return state.bundles.latest(enterprise_id)
    except BundleDamaged as exc:
        raise Problem(409, f"{exc}: changed after it was written", kind="damaged") from None


@router.get("/enterprises/{enterprise_id}", name="page.enterprise")
def enterprise_page(
    request: Request,
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    bundle: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
    done: Annotated[str | None, Query(pattern=r"^(decision|evidence)$")] = None,
) -> HTMLResponse:
    """Plan, before/after charts, KPI table, flags, bundle files, decisions and the form."""
    return enterprise_view(request, state, user, enterprise_id, bundle, done=done)


def enterprise_view(
    request: Request,
    state: WebState,
    user: Principal,
    enterprise_id: str,
    bundle_id: str | None,
    *,
    done: str | None = None,
    form_error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The enterprise page (also re-rendered with the form's error after a refused POST)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    loaded = _chosen_bundle(state, ref.id, bundle_id)
    if bundle_id is not None and loaded is None:
        raise Problem(404, f"no bundle {bundle_id[:12]}... for enterprise {ref.id}")
    language = page_language(request, state)
    document = None if loaded is None else loaded.document
    files = (
        []
        if loaded is None
        else sorted({**loaded.info.files, MANIFEST_NAME: loaded.info.bundle_id}.items())
    )
    decisions = [decision_out(d) for d in state.registry.decisions(ref.platform.id, ref.id)]
    return render(
        request,
        state,
        "enterprise.html",
        status=status,
        user=user,
        ref=ref,
        e=ref.enterprise,
        bundle=loaded,
        doc=document,
        files=files,
        decisions=list(reversed(decisions)),
        charts=[] if document is None else _charts(document, language),
        agents=api._agents_of(state, ref, dt.datetime.now(dt.UTC)),
        can_decide=user.role == "reviewer" and loaded is not None,
        can_run=user.role in ("admin", "reviewer", "platform"),
        done=done,
        form_error=form_error,
    )


@router.get("/enterprises/{enterprise_id}/bundles/{bundle_id}/{name}", name="page.bundle_file")
def bundle_file(
    enterprise_id: EnterprisePath,
    bundle_id: BundlePath,
    name: BundleFilePath,
    user: CurrentUser,
    state: State,
) -> Response:
    """A bundle file for the browser (same checks as the API's)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return api.bundle_file_response(state, ref, bundle_id, name)


@router.post("/enterprises/{enterprise_id}/decisions", name="page.decide")
def decide(
    request: Request,
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    bundle_id: Annotated[str, Form(max_length=64)],
    outcome: Annotated[str, Form(max_length=16)],
    comment: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    """Record the decision from the form, then show the page again (303, no resubmit)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    try:
        body = DecisionIn(bundle_id=bundle_id, outcome=outcome, comment=comment.strip())
    except ValidationError as exc:
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return enterprise_view(
            request,
            state,
            user,
            ref.id,
            bundle_id if len(bundle_id) == 64 else None,
            form_error=message,
            status=422,
        )
    api.record_decision(state, user, ref, body)
    return RedirectResponse(
        f"/enterprises/{quote(ref.id)}?bundle={body.bundle_id}&done=decision", status_code=303
    )


@router.post("/enterprises/{enterprise_id}/evidence", name="page.run_evidence")
async def run_evidence(enterprise_id: EnterprisePath, user: CurrentUser, state: State) -> Response:
    """Run the evidence engine now, then show the new bundle."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    stored = await api.run_and_audit(state, user, ref, None)
    return RedirectResponse(
        f"/enterprises/{quote(ref.id)}?bundle={stored.bundle_id}&done=evidence", status_code=303
    )


# --- fleet, quarantine, audit --------------------------------------------------------------


def _pager(request: Request, total: int, limit: int, offset: int) -> dict[str, Any]:
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


@router.get("/fleet", name="page.fleet")
async def fleet_page(
    request: Request,
    user: CurrentUser,
    state: State,
    limit: Limit = _PAGE_SIZE,
    offset: Offset = 0,
) -> HTMLResponse:
    """Every agent the caller sees: online or not, last status and window, outbox, gaps."""
    result = await api.fleet(user, state, None, None, limit, offset)
    lines = await _all_states(state, user)
    online = sum(1 for line in lines if line.state == "online")
    return render(
        request,
        state,
        "fleet.html",
        user=user,
        agents=result.items,
        online=online,
        total=len(lines),
        pager=_pager(request, result.total, limit, offset),
    )


async def _all_states(state: WebState, user: Principal) -> list[Any]:
    return await asyncio.to_thread(api.fleet_lines, state, user, None)


@router.get("/quarantine", name="page.quarantine")
def quarantine_page(
    request: Request,
    user: CurrentUser,
    state: State,
    limit: Limit = _PAGE_SIZE,
    offset: Offset = 0,
) -> HTMLResponse:
    """Rejected messages the caller may see, newest first, with reason and detail."""
    visible = scope.quarantine_scope(user, state.directory(), state.registry)
    entries, total = state.registry.quarantine_page(scope=visible, limit=limit, offset=offset)
    return render(
        request,
        state,
        "quarantine.html",
        user=user,
        entries=[quarantine_out(e) for e in entries],
        pager=_pager(request, total, limit, offset),
    )


@router.get("/audit", name="page.audit")
def audit_page(
    request: Request,
    user: CurrentUser,
    state: State,
    limit: Limit = _PAGE_SIZE,
    offset: Offset = 0,
) -> HTMLResponse:
    """The audit log the caller may see, newest first."""
    subjects = scope.audit_subjects(user, state.directory(), state.registry)
    entries, total = state.registry.audit_page(subjects=subjects, limit=limit, offset=offset)
    return render(
        request,
        state,
        "audit.html",
        user=user,
        entries=[audit_out(e) for e in entries],
        pager=_pager(request, total, limit, offset),
    )


def utc_text(moment: dt.datetime | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM UTC`` (pages show UTC; dates of periods are local)."""
    return "–" if moment is None else moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


templates.env.globals["utc"] = utc_text
