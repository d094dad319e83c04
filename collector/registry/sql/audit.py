"""The audit log: ``audit``, every change to the registry; append-only.

Rows are appended by the writes themselves, in their own transactions
(:meth:`~collector.registry.sql.database.Database.audit`); triggers abort any UPDATE or
DELETE. This repository reads the log and appends the entries no other write carries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from collector.registry.core import utc_now
from collector.registry.records import AuditEntry, format_time, parse_time
from collector.registry.sql.database import Database, audit
from collector.registry.sql.filters import in_values, where

__all__ = ["SqlAuditLog"]

_COLUMNS = "id, at, actor, action, subject, detail"


def _entry(row: Sequence[object]) -> AuditEntry:
    entry_id, at, actor, action, subject, detail = row
    return AuditEntry(
        int(str(entry_id)), parse_time(str(at)), str(actor), str(action), str(subject), str(detail)
    )


class SqlAuditLog:
    """Reads of the audit log, and entries that record an event rather than a change."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def append(
        self,
        *,
        by: str,
        action: str,
        subject: str,
        detail: Mapping[str, object],
        now: dt.datetime | None = None,
    ) -> None:
        """Append one entry in its own write transaction."""
        at = format_time(now or utc_now())
        with self._db.write() as conn:
            audit(conn, at, by, action, subject, **detail)

    def latest(self, *, subject: str | None = None, limit: int = 1000) -> list[AuditEntry]:
        """The latest entries (about one subject if given), oldest first."""
        clause, params = ("", ()) if subject is None else (" WHERE subject = ?", (subject,))
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit{clause} ORDER BY id DESC LIMIT ?",  # noqa: S608 - literal
                (*params, limit),
            ).fetchall()
        return [_entry(row) for row in reversed(rows)]

    def page(
        self,
        *,
        subjects: Sequence[str] | None,
        action: str | None = None,
        subject: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[AuditEntry], int]:
        """Entries newest first, within ``subjects`` (None: all); and how many match."""
        clause, params = where(
            [
                in_values("subject", subjects),
                ("action = ?" if action else "", [action] if action else []),
                ("subject = ?" if subject else "", [subject] if subject else []),
            ]
        )
        with self._db.read() as conn:
            total = int(conn.execute(f"SELECT count(*) FROM audit{clause}", params).fetchone()[0])  # noqa: S608 - built from literals
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit{clause} ORDER BY id DESC LIMIT ? OFFSET ?",  # noqa: S608 - built from literals
                (*params, limit, offset),
            ).fetchall()
        return [_entry(row) for row in rows], total
