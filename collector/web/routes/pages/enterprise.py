"""An enterprise's page: plan, charts, KPI table, bundle files, day seals, decisions; its forms.

The forms (a review decision, an evidence run) POST and redirect (303) to the page again, so a
reload never sends them twice; a refused decision re-renders the page with the form's error.
Who sees a form is the access table's answer for the route it posts to (access.RULES).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from collector.bundle import MANIFEST_NAME, BundleDamaged, LoadedBundle
from collector.evidence.document import EnterpriseEvidence
from collector.report.charts import daily_kpi_chart
from collector.report.i18n import Catalogue
from collector.web import scope
from collector.web.access import RULES
from collector.web.auth import CurrentUser
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.registry_wait import registry_call
from collector.web.routes.common import BundleFilePath, BundlePath, EnterprisePath, State
from collector.web.routes.pages.render import page_language, render
from collector.web.schemas import DecisionIn
from collector.web.services import (
    agents_of,
    bundle_file_response,
    day_seal_view,
    decision_out,
    enterprise_file,
    record_decision,
    run_and_audit,
)
from collector.web.settings import Language
from collector.web.state import WebState

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


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
    done: Annotated[
        str | None, Query(pattern=r"^(decision|evidence|attached|duplicate|withdrawn)$")
    ] = None,
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
    attach_error: str | None = None,
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
    now = dt.datetime.now(dt.UTC)
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
        agents=agents_of(state, ref, now),
        can_decide=user.role in RULES["page.decide"] and loaded is not None,
        can_run=user.role in RULES["page.run_evidence"],
        done=done,
        form_error=form_error,
        # The enterprise's file (一企一档), beside the evidence: routes/pages/attachments.py.
        document_file=enterprise_file(state, ref),
        can_attach=user.role in RULES["page.attach"],
        attach_error=attach_error,
        # The day seals' checks (#17): templates/day_seals.html.
        day_seals=day_seal_view(state, ref, now),
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
    return bundle_file_response(state, ref, bundle_id, name)


@router.post("/enterprises/{enterprise_id}/decisions", name="page.decide")
def decide(
    request: Request,
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    bundle_id: Annotated[str, Form(max_length=64)],
    outcome: Annotated[str, Form(max_length=16)],
    comment: Annotated[str, Form(max_length=8000)] = "",
    documents: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Record the decision from the form, then show the page again (303, no resubmit)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    try:
        body = DecisionIn(
            bundle_id=bundle_id, outcome=outcome, comment=comment.strip(),
            documents=documents or [],
        )  # fmt: skip
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
    record_decision(state, user, ref, body)
    return RedirectResponse(
        f"/enterprises/{quote(ref.id)}?bundle={body.bundle_id}&done=decision", status_code=303
    )


@router.post("/enterprises/{enterprise_id}/evidence", name="page.run_evidence")
async def run_evidence(enterprise_id: EnterprisePath, user: CurrentUser, state: State) -> Response:
    """Run the evidence engine now, then show the new bundle."""
    ref = scope.enterprise_in_scope(
        user, await registry_call(state, state.directory), enterprise_id
    )
    stored = await run_and_audit(state, user, ref, None)
    return RedirectResponse(
        f"/enterprises/{quote(ref.id)}?bundle={stored.bundle_id}&done=evidence", status_code=303
    )
