"""The ``attachments:`` key of the collector's configuration (docs/configuration.md)."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_UPLOADS_PER_SOURCE",
    "DEFAULT_UPLOADS_PER_USER",
    "DEFAULT_UPLOAD_WINDOW_S",
    "AttachmentSettings",
]

#: 20 MiB: a contract of some 40 pages scanned at 300 dpi, or a phone photo of an invoice,
#: with room to spare; a day's uploads of a province stay far below a registry's reach.
DEFAULT_MAX_BYTES: Final = 20 * 1024 * 1024
#: An engineer filing one enterprise's documents attaches a few dozen in an hour (contract,
#: invoices, payment proofs, report); 60 leaves room, and bounds what one account can push
#: (60 × 20 MiB an hour) and the PDF checks it can start.
DEFAULT_UPLOADS_PER_USER: Final = 60
#: Twice the user's: a few engineers of one platform behind one office address.
DEFAULT_UPLOADS_PER_SOURCE: Final = 120
DEFAULT_UPLOAD_WINDOW_S: Final = 3600


class AttachmentSettings(BaseModel):
    """Enterprise files (一企一档): how large one document may be, how many uploads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Largest document accepted, in bytes, by the web app (counted while the body is read:
    #: a larger one is refused before it is all received) and by ``attachments add``.
    max_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = DEFAULT_MAX_BYTES
    #: Uploads one user may make within ``upload_window_s`` (web app; accepted, refused and
    #: duplicates alike: each is received and checked). Past it: 429 with Retry-After.
    uploads_per_user: Annotated[int, Field(ge=1, le=100_000)] = DEFAULT_UPLOADS_PER_USER
    #: Uploads from one client address (IPv6: its /64) within ``upload_window_s``, every
    #: user together: an office behind one address, or one machine with many accounts.
    uploads_per_source: Annotated[int, Field(ge=1, le=100_000)] = DEFAULT_UPLOADS_PER_SOURCE
    #: The window both limits count in, in seconds; a user or source at its limit waits this
    #: long from the upload that reached it.
    upload_window_s: Annotated[int, Field(ge=60, le=86_400)] = DEFAULT_UPLOAD_WINDOW_S
