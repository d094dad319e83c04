"""One document as it will be stored: its content checked, its name, kind and amount."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from collector.attachments.amounts import fen_of_cny
from collector.attachments.content import media_type_of
from collector.attachments.errors import AttachmentRefused
from collector.attachments.kinds import KINDS, AttachmentKind, MediaType
from collector.attachments.names import checked_name
from collector.attachments.pdf_guard import check_pdf

__all__ = ["Upload", "checked_upload"]


@dataclass(frozen=True, slots=True)
class Upload:
    """A document that passed every check: what the registry stores."""

    content: bytes
    sha256: str
    media_type: MediaType
    kind: AttachmentKind
    name: str
    #: The amount an invoice invoices, in fen; None for every other kind.
    amount_fen: int | None

    @property
    def size(self) -> int:
        """Its length in bytes."""
        return len(self.content)


def _checked_kind(kind: str) -> AttachmentKind:
    if kind not in KINDS:
        raise AttachmentRefused(
            "kind", f"document kind {kind[:40]!r}: expected one of {', '.join(KINDS)}"
        )
    return kind  # type: ignore[return-value]  # checked against KINDS just above


def _checked_amount(kind: AttachmentKind, amount: str | None) -> int | None:
    if kind == "invoice":
        if amount is None or not amount.strip():
            raise AttachmentRefused(
                "amount", "an invoice needs the amount it invoices, in CNY (e.g. 125000.00)"
            )
        return fen_of_cny(amount)
    if amount is not None and amount.strip():
        raise AttachmentRefused(
            "amount", f"only an invoice carries an amount; this document is a {kind}"
        )
    return None


def checked_upload(
    content: bytes, *, kind: str, name: str, amount: str | None, max_bytes: int
) -> Upload:
    """The document, checked; AttachmentRefused naming the first check it fails.

    Checks in this order: size (at most ``max_bytes``, not empty), kind, amount (an invoice's
    only, in CNY), name (:func:`~collector.attachments.names.checked_name`), content
    (:func:`~collector.attachments.content.media_type_of`) and, for a PDF, active content
    (:func:`~collector.attachments.pdf_guard.check_pdf`: a child process, up to
    ``PDF_CHECK_WALL_S``).
    """
    if not content:
        raise AttachmentRefused("empty", "the file is empty")
    if len(content) > max_bytes:
        raise AttachmentRefused(
            "size", f"the file has {len(content):,} bytes, more than the limit of {max_bytes:,}"
        )
    checked_kind = _checked_kind(kind)
    amount_fen = _checked_amount(checked_kind, amount)
    stored_name = checked_name(name)
    media_type = media_type_of(content)
    if media_type == "application/pdf":
        check_pdf(content)
    return Upload(
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        media_type=media_type,
        kind=checked_kind,
        name=stored_name,
        amount_fen=amount_fen,
    )
