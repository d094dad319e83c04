"""The ``attachments:`` key of the collector's configuration (docs/configuration.md)."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_MAX_BYTES", "AttachmentSettings"]

#: 20 MiB: a contract of some 40 pages scanned at 300 dpi, or a phone photo of an invoice,
#: with room to spare; a day's uploads of a province stay far below a registry's reach.
DEFAULT_MAX_BYTES: Final = 20 * 1024 * 1024


class AttachmentSettings(BaseModel):
    """Enterprise files (一企一档): how large one document may be."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Largest document accepted, in bytes, by the web app (counted while the body is read:
    #: a larger one is refused before it is all received) and by ``attachments add``.
    max_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = DEFAULT_MAX_BYTES
