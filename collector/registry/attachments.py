"""Enterprise files (一企一档) in the registry: what an attached document's record holds.

A document's bytes are stored once, under their SHA-256 (``attachment_blobs``); an
enterprise's file lists it once (``attachments``: kind, name, an invoice's amount, who, when).
Attaching the same bytes to the same enterprise again stores nothing and answers with the
record in force (``created`` False); the same bytes in another enterprise's file share the
stored bytes. Nothing is ever updated or deleted (triggers abort it): the records are evidence
that a review decision may cite (``decision_documents``). A mistake (a wrong kind or amount,
the wrong file) is corrected by **withdrawing** the record (``attachment_withdrawals``: why,
who, when) and attaching again: the withdrawn record stays listed and downloadable, marked,
and no longer counts (not in the invoiced total, the evidence, or what a decision may cite).

Why the registry holds the bytes rather than a folder beside it (docs/web.md, "Enterprise
files"): every web replica and the command line share them on PostgreSQL with no shared
filesystem, the record and its bytes are written in one transaction with their audit row, and
``registry migrate`` carries them with everything else.

The tables are :mod:`collector.registry.sql.attachments`'; the checks on a document (type by
content, name, kind, amount, size) are :mod:`collector.attachments`'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from collector.attachments import AttachmentKind, MediaType

__all__ = ["AttachResult", "Attachment", "Withdrawal", "invoiced_fen"]


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Why, when and by whom a document was withdrawn from the file."""

    reason: str
    at: dt.datetime
    by: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """One document of an enterprise's file, without its bytes."""

    id: int
    platform: str
    enterprise: str
    sha256: str
    kind: AttachmentKind
    name: str
    media_type: MediaType
    size: int
    #: An invoice's amount in fen (1 CNY = 100 fen); None for every other kind.
    amount_fen: int | None
    attached_at: dt.datetime
    attached_by: str
    #: Set once the document is withdrawn: it no longer counts.
    withdrawn: Withdrawal | None = None


@dataclass(frozen=True, slots=True)
class AttachResult:
    """What attaching did: the record, and whether it is new (False: the same bytes were
    already in the enterprise's file, nothing was stored)."""

    attachment: Attachment
    created: bool


def invoiced_fen(attachments: Iterable[Attachment]) -> int | None:
    """The invoiced total in fen: the sum of the amounts of the invoices not withdrawn; None
    without one."""
    amounts = [
        a.amount_fen
        for a in attachments
        if a.kind == "invoice" and a.amount_fen and a.withdrawn is None
    ]
    return sum(amounts) if amounts else None
