"""The enterprise file's one error: an attachment refused, with the reason as data.

::

    CollectorError
    └── AttachmentRefused   a file, name, kind or amount that cannot be attached; ``reason``
                            says which (``type``, ``size``, ``empty``, ``name``, ``kind``,
                            ``amount``, ``active``: a PDF with active content,
                            ``unreadable``: a PDF that could not be checked)

Nothing is stored when it is raised. The web app answers it with 413 (``size``), 415
(``type``) or 422 (the rest); the ``attachments`` command prints it and exits 1.
"""

from __future__ import annotations

from typing import Literal

from collector.errors import CollectorError

__all__ = ["AttachmentRefused", "RefusalReason"]

#: Why an attachment was refused.
RefusalReason = Literal["type", "size", "empty", "name", "kind", "amount", "active", "unreadable"]


class AttachmentRefused(CollectorError):
    """A file, name, kind or amount refused before anything was stored."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        #: Which check refused it.
        self.reason: RefusalReason = reason
