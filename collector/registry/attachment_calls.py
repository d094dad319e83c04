"""The registry calls of enterprise files (一企一档): attach, list, read or download one document.

:class:`AttachmentCalls` is a base of :class:`~collector.registry.Registry`: delegates to its
repositories, kept apart so each file stays readable. What a record holds is
:mod:`collector.registry.attachments`; the checks on a document are :mod:`collector.attachments`.
"""

from __future__ import annotations

import datetime as dt

from collector.attachments import Upload
from collector.errors import NotFoundError
from collector.registry.attachments import Attachment, AttachResult
from collector.registry.ports import Repositories

__all__ = ["AttachmentCalls"]


class AttachmentCalls:
    """Enterprise files over ``repositories``."""

    repositories: Repositories

    def attach(
        self, enterprise_id: str, upload: Upload, *, by: str, now: dt.datetime | None = None
    ) -> AttachResult:
        """List a checked document (:func:`collector.attachments.checked_upload`) in the file
        of the enterprise that a loaded plan lists, with who and when (audited).

        The same bytes already in that enterprise's file: nothing is stored, the first record
        is returned with ``created`` False (audited as ``attachment.duplicate``). Raises
        NotFoundError if no loaded plan lists the enterprise, ValueError without who.
        """
        found = self.repositories.plans.find_enterprise(None, enterprise_id)
        if found is None:
            raise NotFoundError(f"no loaded plan lists enterprise {enterprise_id}")
        _, platform, enterprise = found
        return self.repositories.attachments.attach(
            upload, platform=platform.id, enterprise=enterprise.id, by=by, now=now
        )

    def withdraw_attachment(
        self,
        platform: str,
        enterprise: str,
        sha256: str,
        *,
        reason: str,
        by: str,
        now: dt.datetime | None = None,
    ) -> Attachment:
        """Withdraw a document from the enterprise's file, saying why (audited): it stays
        listed and downloadable, marked, and no longer counts (invoiced total, evidence, what a
        decision may cite); the same bytes may then be attached again (a corrected amount).

        Raises NotFoundError if the file holds no such document in force, ValueError without a
        reason (at most 1000 characters) or without who.
        """
        return self.repositories.attachments.withdraw(
            platform, enterprise, sha256, reason=reason, by=by, now=now
        )

    def attachments(self, platform: str, enterprise: str) -> list[Attachment]:
        """The enterprise's documents, withdrawn ones too (``withdrawn`` set), oldest first,
        without their bytes."""
        return self.repositories.attachments.listing(platform, enterprise)

    def attachment(
        self, platform: str, enterprise: str, sha256: str
    ) -> tuple[Attachment, bytes] | None:
        """One document of the enterprise's file with its bytes, or None if it lists none
        with that SHA-256."""
        return self.repositories.attachments.content(platform, enterprise, sha256)

    def download_attachment(
        self,
        platform: str,
        enterprise: str,
        sha256: str,
        *,
        by: str,
        source: str,
        now: dt.datetime | None = None,
    ) -> tuple[Attachment, bytes] | None:
        """:meth:`attachment` for a person, audited as ``attachment.download`` (who, the
        SHA-256, ``source``: from where) in the transaction that reads the bytes; None (and
        nothing audited) if the file lists no such document. ValueError without who."""
        return self.repositories.attachments.download(
            platform, enterprise, sha256, by=by, source=source, now=now
        )
