"""``/api/v1/enterprises/{id}/attachments``: an enterprise's file (一企一档).

Upload: the document's bytes are the request body (any Content-Type: the type is decided by
the content), kind, name and an invoice's amount are query parameters. Downloads are
attachments, never rendered (services/attachments.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.registry_wait import registry_call
from collector.web.routes.common import EnterprisePath, State
from collector.web.schemas import AttachmentOut, EnterpriseFileOut, WithdrawIn
from collector.web.services import (
    attach_document,
    attachment_response,
    enterprise_file,
    withdraw_document,
)
from collector.web.throttle import client_address
from collector.web.upload_limit import take_upload

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)

Sha256Path = Annotated[
    str, Path(pattern=r"^[0-9a-f]{64}$", description="The document's SHA-256 (hex).")
]
#: The upload's body as OpenAPI describes it: bytes, whatever the client calls them.
_BINARY_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "The document itself: a PDF, PNG or JPEG file (checked by content).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_PROBLEMS: Final[dict[int | str, dict[str, Any]]] = {
    413: {"description": "Larger than attachments.max_bytes"},
    415: {"description": "Not a PDF, PNG or JPEG by its content"},
    422: {"description": "A refused name, kind or amount, or a PDF with active content"},
    429: {"description": "Too many uploads by this user or from this address (Retry-After)"},
}


@router.get(
    "/enterprises/{enterprise_id}/attachments",
    name="api.attachments.list",
    response_model=EnterpriseFileOut,
    summary="An enterprise's documents and invoiced total",
)
def attachments_list(
    enterprise_id: EnterprisePath, user: CurrentUser, state: State
) -> EnterpriseFileOut:
    """Contracts, invoices, payment proofs and summary reports, oldest first; the invoiced
    total beside the plan's retrofit cost, and the cost the subsidy rests on (the lower)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return enterprise_file(state, ref)


@router.post(
    "/enterprises/{enterprise_id}/attachments",
    name="api.attachments.add",
    status_code=201,
    response_model=AttachmentOut,
    summary="Attach a document to an enterprise's file",
    openapi_extra=_BINARY_BODY,
    responses={200: {"description": "The same bytes were already attached: nothing stored",
                     "model": AttachmentOut}, **_PROBLEMS},
)  # fmt: skip
async def attachments_add(
    request: Request,
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    kind: Annotated[
        str, Query(max_length=40, description="contract, invoice, payment_proof, summary_report")
    ],
    name: Annotated[str, Query(max_length=400, description="The file's name, shown.")],
    amount: Annotated[
        str | None, Query(max_length=40, description="An invoice's amount, CNY, e.g. 125000.00")
    ] = None,
) -> Response:
    """Store the body as a document (201), or find the same bytes already there (200)."""
    ref = scope.enterprise_in_scope(
        user, await registry_call(state, state.directory), enterprise_id
    )
    # Counted (registry) before the body is read: past the limit, 429 and nothing received.
    await registry_call(state, take_upload, state, user, request)
    content = await request.body()  # at most attachments.max_bytes (+ margin): BodyLimit
    # Hashing up to attachments.max_bytes and the registry's write block: a worker thread,
    # as FastAPI gives the plain handlers, not the event loop.
    out = await run_in_threadpool(
        attach_document, state, user, ref, content, kind=kind, name=name, amount=amount
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if out.created else 200)


@router.post(
    "/enterprises/{enterprise_id}/attachments/{sha256}/withdraw",
    name="api.attachments.withdraw",
    response_model=AttachmentOut,
    summary="Withdraw a document from an enterprise's file",
)
def attachments_withdraw(
    enterprise_id: EnterprisePath,
    sha256: Sha256Path,
    body: WithdrawIn,
    user: CurrentUser,
    state: State,
) -> AttachmentOut:
    """The document stays listed and downloadable, marked, and no longer counts (invoiced
    total, evidence, what a decision may cite); the same bytes may be attached again."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return withdraw_document(state, user, ref, sha256, body.reason)


@router.get(
    "/enterprises/{enterprise_id}/attachments/{sha256}",
    name="api.attachments.get",
    summary="Download one document",
    response_class=Response,
    responses={200: {"description": "The document, as an attachment",
                     "content": {"application/pdf": {}, "image/png": {}, "image/jpeg": {}}}},
)  # fmt: skip
def attachments_get(
    request: Request,
    enterprise_id: EnterprisePath,
    sha256: Sha256Path,
    user: CurrentUser,
    state: State,
) -> Response:
    """The document's bytes: Content-Disposition attachment, nosniff, a sandboxing CSP;
    audited (who, from where)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    source = f"api {client_address(request, state.settings)}"
    return attachment_response(state, user, ref, sha256, source=source)
