"""Enterprise files: ``attachment_blobs`` (bytes by SHA-256) and ``attachments`` (which
enterprise's file lists them), both append-only.

An attach is one write transaction holding ``attachments:<enterprise>``: look for the same
bytes in the enterprise's file, store the bytes if no file holds them yet, list them, and
append the audit row (``attachment.add``, or ``attachment.duplicate`` when the file already
lists them and nothing is stored). What a record holds is
:mod:`collector.registry.attachments`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from collector.attachments import Upload
from collector.registry.attachments import Attachment, AttachResult
from collector.registry.core import checked_actor, utc_now
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Connection, Database, audit

__all__ = ["SqlAttachments"]

log = logging.getLogger(__name__)

_SELECT = (
    "SELECT a.id, a.platform, a.enterprise, a.sha256, a.kind, a.name, b.media_type, "
    "b.size_bytes, a.amount_fen, a.attached_at, a.attached_by "
    "FROM attachments a JOIN attachment_blobs b ON b.sha256 = a.sha256 "
)


def _attachment(row: Sequence[object]) -> Attachment:
    (row_id, platform, enterprise, sha256, kind, name, media, size, amount, at, by) = row
    return Attachment(
        id=int(str(row_id)),
        platform=str(platform),
        enterprise=str(enterprise),
        sha256=str(sha256),
        kind=kind,  # type: ignore[arg-type]  # the CHECK constraint keeps it one of KINDS
        name=str(name),
        media_type=media,  # type: ignore[arg-type]  # the CHECK constraint: one of MEDIA_TYPES
        size=int(str(size)),
        amount_fen=None if amount is None else int(str(amount)),
        attached_at=parse_time(str(at)),
        attached_by=str(by),
    )


def _held(conn: Connection, enterprise: str, sha256: str) -> Attachment | None:
    row = conn.execute(
        _SELECT + "WHERE a.enterprise = ? AND a.sha256 = ?", (enterprise, sha256)
    ).fetchone()
    return None if row is None else _attachment(row)


class SqlAttachments:
    """Enterprise files: attach (deduplicated), list, read one document's bytes."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def attach(
        self,
        upload: Upload,
        *,
        platform: str,
        enterprise: str,
        by: str,
        now: dt.datetime | None = None,
    ) -> AttachResult:
        """List ``upload`` in the enterprise's file (see Registry.attach)."""
        actor = checked_actor(by)
        at = format_time(now or utc_now())
        subject = f"{platform}/{enterprise}"
        with self._db.write(f"attachments:{enterprise}") as conn:
            held = _held(conn, enterprise, upload.sha256)
            if held is not None:
                audit(
                    conn, at, actor, "attachment.duplicate", subject, sha256=upload.sha256,
                    name=upload.name, kind=upload.kind, kept=held.id,
                )  # fmt: skip
                return AttachResult(held, created=False)
            conn.execute(
                "INSERT INTO attachment_blobs (sha256, media_type, size_bytes, content, "
                "stored_at, stored_by) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                (upload.sha256, upload.media_type, upload.size, upload.content, at, actor),
            )
            conn.execute(
                "INSERT INTO attachments (platform, enterprise, sha256, kind, name, amount_fen, "
                "attached_at, attached_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (platform, enterprise, upload.sha256, upload.kind, upload.name,
                 upload.amount_fen, at, actor),
            )  # fmt: skip
            stored = _held(conn, enterprise, upload.sha256)
            if stored is None:  # pragma: no cover - inserted just above, in this transaction
                raise RuntimeError(f"attachment {upload.sha256} vanished inside its transaction")
            audit(
                conn, at, actor, "attachment.add", subject, attachment=stored.id,
                sha256=upload.sha256, kind=upload.kind, name=upload.name,
                media_type=upload.media_type, size=upload.size, amount_fen=upload.amount_fen,
            )  # fmt: skip
        log.info(
            "attached %s %s (%s, %d bytes) to %s by %s",
            upload.kind, upload.sha256[:12], upload.media_type, upload.size, subject, actor,
        )  # fmt: skip
        return AttachResult(stored, created=True)

    def listing(self, platform: str, enterprise: str) -> list[Attachment]:
        """The enterprise's documents, oldest first, without their bytes."""
        with self._db.read() as conn:
            rows = conn.execute(
                _SELECT + "WHERE a.platform = ? AND a.enterprise = ? ORDER BY a.id",
                (platform, enterprise),
            ).fetchall()
        return [_attachment(row) for row in rows]

    def content(
        self, platform: str, enterprise: str, sha256: str
    ) -> tuple[Attachment, bytes] | None:
        """One document of the enterprise's file with its bytes, or None."""
        with self._db.read() as conn:
            held = _held(conn, enterprise, sha256)
            if held is None or held.platform != platform:
                return None
            row = conn.execute(
                "SELECT content FROM attachment_blobs WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return held, bytes(row[0])
