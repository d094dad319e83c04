"""An enterprise's file (一企一档) on its page: the upload form's POST and the downloads.

The upload POSTs a multipart form and redirects (303) to the enterprise page; a refused
document re-renders the page with the refusal beside the form (413, 415 or 422). Downloads
are the API's: attachment, nosniff, sandboxed (services/attachments.py).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.i18n import translate
from collector.web.problems import Problem
from collector.web.registry_wait import registry_call
from collector.web.routes.common import EnterprisePath, State
from collector.web.routes.pages.enterprise import enterprise_view
from collector.web.routes.pages.render import page_language
from collector.web.services import attach_document, attachment_response, withdraw_document
from collector.web.settings import Language
from collector.web.throttle import client_address
from collector.web.upload_limit import take_upload

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


@router.post("/enterprises/{enterprise_id}/attachments", name="page.attach")
async def attach(
    request: Request,
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    document: Annotated[UploadFile, File()],
    kind: Annotated[str, Form(max_length=40)],
    amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Attach the form's file, then show the page again (303, no resubmit)."""
    ref = scope.enterprise_in_scope(
        user, await registry_call(state, state.directory), enterprise_id
    )
    # Hashing, the registry's write and the page's reads block: a worker thread each.
    try:
        await registry_call(state, take_upload, state, user, request)  # 429 past the upload limit
        content = await document.read()  # at most attachments.max_bytes (+ the form): BodyLimit
        out = await run_in_threadpool(
            attach_document, state, user, ref, content, kind=kind,
            name=document.filename or "", amount=amount or None,
        )  # fmt: skip
    except Problem as problem:
        if problem.status not in (413, 415, 422, 429):
            raise
        page = await run_in_threadpool(
            enterprise_view, request, state, user, ref.id, None,
            attach_error=refusal_text(page_language(request, state), problem),
            status=problem.status,
        )  # fmt: skip
        page.headers.update(problem.headers or {})  # a 429's Retry-After
        return page
    done = "attached" if out.created else "duplicate"
    return RedirectResponse(
        f"/enterprises/{quote(ref.id)}?done={done}#documents-h", status_code=303
    )


def refusal_text(language: Language, problem: Problem) -> str:
    """A refused upload as the page says it: in English the problem's own sentence; in zh-CN
    the catalogue's sentence for its reason (``attach.refused.*``), the specifics after it."""
    reason = (problem.kind or "").removeprefix("attachment-")
    retry_after = (problem.headers or {}).get("Retry-After", "")
    summary = translate(f"attach.refused.{reason}", language, seconds=retry_after)
    if language == "en" or summary.startswith("attach.refused."):
        return problem.detail
    return f"{summary}（{problem.detail}）"


@router.post(
    "/enterprises/{enterprise_id}/attachments/{sha256}/withdraw", name="page.withdraw_attachment"
)
def withdraw(
    request: Request,
    enterprise_id: EnterprisePath,
    sha256: Sha256Path,
    user: CurrentUser,
    state: State,
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Withdraw a document from the row's form, then show the page again (303)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    try:
        withdraw_document(state, user, ref, sha256, reason)
    except Problem as problem:
        if problem.status != 422:
            raise
        return enterprise_view(
            request, state, user, ref.id, None, attach_error=problem.detail, status=422
        )
    return RedirectResponse(
        f"/enterprises/{quote(ref.id)}?done=withdrawn#documents-h", status_code=303
    )


@router.get("/enterprises/{enterprise_id}/attachments/{sha256}", name="page.attachment")
def attachment(
    request: Request,
    enterprise_id: EnterprisePath,
    sha256: Sha256Path,
    user: CurrentUser,
    state: State,
) -> Response:
    """One document as a download (the same checks, headers and audit as the API's)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    source = f"page {client_address(request, state.settings)}"
    return attachment_response(state, user, ref, sha256, source=source)
