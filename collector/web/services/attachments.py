"""Enterprise files (一企一档) on the web: list, attach, and serve a document as a download.

The checks are :mod:`collector.attachments`' (type by content, name, kind, amount, size), the
storage the registry's (:meth:`~collector.registry.Registry.attach`); here they become
responses. A download is always an attachment (``Content-Disposition: attachment``), never
sniffed (``nosniff``), and sandboxed (``Content-Security-Policy: sandbox``) should a browser
render it anyway: a PDF's scripts, or a file that is more than it seems, run nowhere. Each
download is in the audit log (who, the SHA-256, from where), written with the read.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final
from urllib.parse import quote

from fastapi.responses import Response

from collector.attachments import AttachmentRefused, checked_upload, download_name
from collector.errors import NotFoundError
from collector.evidence.document import DocumentDoc
from collector.evidence.subsidy import subsidy_cost_fen
from collector.registry import Attachment, invoiced_fen
from collector.web.directory import EnterpriseRef
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.schemas import AttachmentOut, EnterpriseFileOut
from collector.web.state import WebState

__all__ = [
    "ATTACH_PATH",
    "DOWNLOAD_CSP",
    "attach_document",
    "attachment_out",
    "attachment_response",
    "enterprise_file",
    "withdraw_document",
]

#: The upload routes (API and page), inside the app: their body may be up to
#: ``attachments.max_bytes`` plus the form's own bytes (middleware.BodyLimit).
ATTACH_PATH: Final = re.compile(
    r"^(/api/v1)?/enterprises/[A-Za-z0-9][A-Za-z0-9._-]{0,63}/attachments$"
)
#: A download renders nothing active even if a browser opens it in place.
DOWNLOAD_CSP: Final = "sandbox; default-src 'none'; frame-ancestors 'none'"
#: What each refusal answers: too large, not an accepted type, anything else.
_STATUS: Final = {"size": 413, "type": 415}


def attachment_out(item: Attachment, *, created: bool = True) -> AttachmentOut:
    """The API's view of one document."""
    document = DocumentDoc.model_validate(item, from_attributes=True)
    gone = item.withdrawn
    return AttachmentOut(
        **document.model_dump(),
        created=created,
        withdrawn_at=None if gone is None else gone.at,
        withdrawn_by=None if gone is None else gone.by,
        withdraw_reason=None if gone is None else gone.reason,
    )


def enterprise_file(state: WebState, ref: EnterpriseRef) -> EnterpriseFileOut:
    """The enterprise's documents, the invoiced total, and the cost the subsidy rests on."""
    items = state.registry.attachments(ref.platform.id, ref.id)
    invoiced = invoiced_fen(items)
    plan_cost = ref.enterprise.retrofit_cost_fen
    return EnterpriseFileOut(
        enterprise=ref.id,
        documents=[attachment_out(item) for item in items],
        invoiced_fen=invoiced,
        plan_cost_fen=plan_cost,
        subsidy_cost_fen=subsidy_cost_fen(plan_cost, invoiced),
        costs_differ=invoiced is not None and invoiced != plan_cost,
    )


def attach_document(
    state: WebState,
    user: Principal,
    ref: EnterpriseRef,
    content: bytes,
    *,
    kind: str,
    name: str,
    amount: str | None,
) -> AttachmentOut:
    """Check and store one document (audited); Problem 413, 415 or 422 naming the refusal."""
    try:
        upload = checked_upload(
            content, kind=kind, name=name, amount=amount,
            max_bytes=state.attachments.max_bytes,
        )  # fmt: skip
        result = state.registry.attach(ref.id, upload, by=user.user_id)
    except AttachmentRefused as exc:
        raise Problem(
            _STATUS.get(exc.reason, 422), str(exc), kind=f"attachment-{exc.reason}"
        ) from None
    except NotFoundError as exc:
        raise Problem(404, str(exc)) from None
    return attachment_out(result.attachment, created=result.created)


def withdraw_document(
    state: WebState, user: Principal, ref: EnterpriseRef, sha256: str, reason: str
) -> AttachmentOut:
    """Withdraw a document in force (audited); Problem 404 if there is none, 422 without a
    reason."""
    try:
        item = state.registry.withdraw_attachment(
            ref.platform.id, ref.id, sha256, reason=reason, by=user.user_id
        )
    except NotFoundError as exc:
        raise Problem(404, str(exc)) from None
    except ValueError as exc:
        raise Problem(422, str(exc)) from None
    return attachment_out(item)


def _ascii_fallback(name: str) -> str:
    # RFC 6266 §4.3: filename= for old clients, ASCII only; filename* carries the real name.
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    plain = "".join(c if c.isalnum() or c in " ._-()" else "_" for c in folded).strip()
    stem, dot, suffix = plain.rpartition(".")
    if not any(c.isalnum() for c in (stem if dot else plain)):
        return f"document.{suffix}" if dot and suffix.isalnum() else "document"
    return plain


def _content_disposition(name: str) -> str:
    """``attachment`` with the name as ASCII and as UTF-8 (RFC 6266, RFC 8187)."""
    return (
        f"attachment; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
    )


def attachment_response(
    state: WebState, user: Principal, ref: EnterpriseRef, sha256: str, *, source: str
) -> Response:
    """One document as a download (attachment, nosniff, sandboxed), audited as
    ``attachment.download`` with who and ``source`` (the client's address and the route)
    before any byte is sent; Problem 404 if the enterprise's file does not list it."""
    held = state.registry.download_attachment(
        ref.platform.id, ref.id, sha256, by=user.user_id, source=source
    )
    if held is None:
        raise Problem(404, f"enterprise {ref.id} has no document {sha256[:12]}...")
    item, content = held
    headers = {
        "Content-Disposition": _content_disposition(download_name(item.name, item.media_type)),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "X-Content-SHA256": item.sha256,
    }
    return Response(content=content, media_type=item.media_type, headers=headers)
