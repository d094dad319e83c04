"""What an enterprise's file (一企一档) holds: the kinds of document and their media types."""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = [
    "KINDS",
    "MEDIA_TYPES",
    "SUFFIXES",
    "AttachmentKind",
    "MediaType",
]

#: The documents the subsidy's acceptance rests on (DOMAIN.md, issue 21): the retrofit
#: contract, its invoices, the proof of payment, and the enterprise's summary report.
AttachmentKind = Literal["contract", "invoice", "payment_proof", "summary_report"]
KINDS: Final[tuple[str, ...]] = get_args(AttachmentKind)

#: The only types accepted, decided by content (:mod:`.content`), never by name.
MediaType = Literal["application/pdf", "image/png", "image/jpeg"]
MEDIA_TYPES: Final[tuple[str, ...]] = get_args(MediaType)

#: The file-name suffixes a download of each type may keep; the first is added otherwise.
SUFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
}
