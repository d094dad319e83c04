"""Enterprise files: ``attachment_blobs`` (bytes by SHA-256) and ``attachments`` (which
enterprise's file lists them), both append-only.

An attach is one write transaction holding ``attachments:<enterprise>``: look for the same
bytes among the file's documents in force (not withdrawn), store the bytes if no file holds
them yet, list them, and append the audit row (``attachment.add``, or
``attachment.duplicate`` when the file already lists them and nothing is stored). A
withdrawal (``attachment_withdrawals``) takes the same lock and appends
``attachment.withdraw``. A person's download reads the document and appends
``attachment.download`` (who, from where) in one write transaction. What a record holds is
:mod:`collector.registry.attachments`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from collector.attachments import Upload
from collector.errors import NotFoundError
from collector.registry.attachments import Attachment, AttachResult, Withdrawal
from collector.registry.core import checked_actor, stored_text, utc_now
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Connection, Database, audit

__all__ = ["SqlAttachments"]

log = logging.getLogger(__name__)

_SELECT = (
    "SELECT a.id, a.platform, a.enterprise, a.sha256, a.kind, a.name, b.media_type, "
    "b.size_bytes, a.amount_fen, a.attached_at, a.attached_by, w.reason, w.withdrawn_at, "
    "w.withdrawn_by "
    "FROM attachments a JOIN attachment_blobs b ON b.sha256 = a.sha256 "
    "LEFT JOIN attachment_withdrawals w ON w.attachment_id = a.id "
)
#: The reason a withdrawal keeps, at most, in characters.
MAX_REASON_CHARS = 1000


def _withdrawal(reason: object, at: object, by: object) -> Withdrawal | None:
    if reason is None:
        return None
    return Withdrawal(reason=str(reason), at=parse_time(str(at)), by=str(by))


def _attachment(row: Sequence[object]) -> Attachment:
    (row_id, platform, enterprise, sha256, kind, name, media, size, amount, at, by) = row[:11]
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
        withdrawn=_withdrawal(*row[11:14]),
    )


def _held(conn: Connection, enterprise: str, sha256: str) -> Attachment | None:
    """The record in force (not withdrawn) of these bytes in the enterprise's file."""
    row = conn.execute(
        _SELECT + "WHERE a.enterprise = ? AND a.sha256 = ? AND w.attachment_id IS NULL",
        (enterprise, sha256),
    ).fetchone()
    return None if row is None else _attachment(row)


def _by_id(conn: Connection, attachment_id: int) -> Attachment:
    return _attachment(conn.execute(_SELECT + "WHERE a.id = ?", (attachment_id,)).fetchone())


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

    def withdraw(
        self,
        platform: str,
        enterprise: str,
        sha256: str,
        *,
        reason: str,
        by: str,
        now: dt.datetime | None = None,
    ) -> Attachment:
        """Withdraw the record in force of ``sha256`` (see Registry.withdraw_attachment)."""
        actor = checked_actor(by)
        text = reason.strip()
        if not text or len(text) > MAX_REASON_CHARS:
            raise ValueError(f"expected why the document is withdrawn (1-{MAX_REASON_CHARS} chars)")
        text = stored_text(text, MAX_REASON_CHARS)
        at = format_time(now or utc_now())
        with self._db.write(f"attachments:{enterprise}") as conn:
            held = _held(conn, enterprise, sha256)
            if held is None or held.platform != platform:
                raise NotFoundError(
                    f"no document {sha256[:12]}... in force in the file of {platform}/{enterprise}"
                )
            conn.execute(
                "INSERT INTO attachment_withdrawals (attachment_id, reason, withdrawn_at, "
                "withdrawn_by) VALUES (?, ?, ?, ?)",
                (held.id, text, at, actor),
            )
            audit(
                conn, at, actor, "attachment.withdraw", f"{platform}/{enterprise}",
                attachment=held.id, sha256=sha256, kind=held.kind, name=held.name,
                amount_fen=held.amount_fen, reason=text,
            )  # fmt: skip
            withdrawn = _by_id(conn, held.id)
        log.info(
            "withdrew %s %s from %s/%s by %s", held.kind, sha256[:12], platform, enterprise, actor
        )
        return withdrawn

    def listing(self, platform: str, enterprise: str) -> list[Attachment]:
        """The enterprise's documents, withdrawn ones too (marked), oldest first, without
        their bytes."""
        with self._db.read() as conn:
            rows = conn.execute(
                _SELECT + "WHERE a.platform = ? AND a.enterprise = ? ORDER BY a.id",
                (platform, enterprise),
            ).fetchall()
        return [_attachment(row) for row in rows]

    def content(
        self, platform: str, enterprise: str, sha256: str
    ) -> tuple[Attachment, bytes] | None:
        """One document of the enterprise's file with its bytes (its latest record, withdrawn
        or not: a decision may have cited it), or None."""
        with self._db.read() as conn:
            return _content(conn, platform, enterprise, sha256)

    def download(
        self,
        platform: str,
        enterprise: str,
        sha256: str,
        *,
        by: str,
        source: str,
        now: dt.datetime | None = None,
    ) -> tuple[Attachment, bytes] | None:
        """:meth:`content`, and the ``attachment.download`` audit row in the same write
        transaction: no bytes leave without their row. Nothing is audited for None."""
        actor = checked_actor(by)
        at = format_time(now or utc_now())
        with self._db.write() as conn:
            held = _content(conn, platform, enterprise, sha256)
            if held is not None:
                item = held[0]
                audit(
                    conn, at, actor, "attachment.download", f"{platform}/{enterprise}",
                    attachment=item.id, sha256=sha256, kind=item.kind, name=item.name,
                    source=stored_text(source, 200),
                )  # fmt: skip
        return held


def _content(
    conn: Connection, platform: str, enterprise: str, sha256: str
) -> tuple[Attachment, bytes] | None:
    row = conn.execute(
        _SELECT + "WHERE a.platform = ? AND a.enterprise = ? AND a.sha256 = ? ORDER BY a.id DESC",
        (platform, enterprise, sha256),
    ).fetchone()
    if row is None:
        return None
    held = _attachment(row)
    row = conn.execute(
        "SELECT content FROM attachment_blobs WHERE sha256 = ?", (sha256,)
    ).fetchone()
    return held, bytes(row[0])
