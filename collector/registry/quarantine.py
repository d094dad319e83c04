"""Quarantine storage: every message the ingest rejects, kept with its reason.

A message is kept up to :data:`QUARANTINE_RAW_LIMIT` bytes, with the length and SHA-256 of
the whole of it, so an oversized hostile message costs at most that much disk and can still be
matched against a copy found elsewhere. Text is stored as UTF-8 whatever it held: lone
surrogates and other unencodable characters are written as backslash escapes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from typing import TextIO

from collector.registry.records import QuarantineEntry, parse_time

__all__ = [
    "MAX_DETAIL_CHARS",
    "MAX_TOPIC_CHARS",
    "QUARANTINE_RAW_LIMIT",
    "REASON_PATTERN",
    "add",
    "counts_by_agent",
    "entry_from_row",
    "export",
    "get",
    "listing",
    "reason_counts",
    "reason_counts_since",
]

#: Bytes of a rejected message kept: enough for any valid batch's opening and for forensics,
#: far below the wire's 512 KiB message limit.
QUARANTINE_RAW_LIMIT = 64 * 1024
#: Longest detail text kept (characters).
MAX_DETAIL_CHARS = 2000
#: Longest topic kept (characters); MQTT allows 65535 bytes.
MAX_TOPIC_CHARS = 1024
#: Reason codes: the wire contract's error codes (``bad_signature``, ``not_json``, ...) and the
#: ingest's own (``unknown_agent``, ``revoked_key``, ``identity_mismatch``, ``replay``, ...).
REASON_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
_REASON_RE = re.compile(REASON_PATTERN)
_COLUMNS = "id, received_at, topic, reason, detail, agent_id, raw_length, raw_sha256"


def _text(value: str, limit: int) -> str:
    return value[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def add(
    conn: sqlite3.Connection,
    raw: bytes,
    *,
    topic: str,
    received_at: str,
    reason_code: str,
    detail: str,
    agent_id: str | None,
) -> int:
    """Insert one rejected message; return its id. Raises ValueError for a bad reason code."""
    if not _REASON_RE.fullmatch(reason_code):
        raise ValueError(f"reason code {reason_code[:60]!r} does not match {REASON_PATTERN}")
    cursor = conn.execute(
        "INSERT INTO quarantine (received_at, topic, reason, detail, agent_id, raw, raw_length, "
        "raw_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            received_at,
            _text(topic, MAX_TOPIC_CHARS),
            reason_code,
            _text(detail, MAX_DETAIL_CHARS),
            None if agent_id is None else _text(agent_id, 200),
            bytes(raw[:QUARANTINE_RAW_LIMIT]),
            len(raw),
            hashlib.sha256(raw).hexdigest(),
        ),
    )
    return int(cursor.lastrowid or 0)


def entry_from_row(row: tuple[object, ...], raw: bytes = b"") -> QuarantineEntry:
    """An entry from a row of the listing columns (and its stored bytes, if read)."""
    entry_id, received_at, topic, reason, detail, agent_id, raw_length, raw_sha256 = row
    return QuarantineEntry(
        id=int(str(entry_id)),
        received_at=parse_time(str(received_at)),
        topic=str(topic),
        reason=str(reason),
        detail=str(detail),
        agent_id=None if agent_id is None else str(agent_id),
        raw_length=int(str(raw_length)),
        raw_sha256=str(raw_sha256),
        raw=raw,
    )


def _where(reason: str | None, since: str | None) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if reason is not None:
        clauses.append("reason = ?")
        params.append(reason)
    if since is not None:
        clauses.append("received_at >= ?")
        params.append(since)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def listing(
    conn: sqlite3.Connection, *, reason: str | None, since: str | None, limit: int
) -> list[QuarantineEntry]:
    """Entries without their bytes, newest first."""
    where, params = _where(reason, since)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM quarantine{where} ORDER BY id DESC LIMIT ?",  # noqa: S608 - literals
        (*params, limit),
    ).fetchall()
    return [entry_from_row(row) for row in rows]


def reason_counts_since(conn: sqlite3.Connection, since: str) -> dict[str, int]:
    """Entries per reason code received at or after ``since`` (stored form; uses the index)."""
    rows = conn.execute(
        "SELECT reason, count(*) FROM quarantine WHERE received_at >= ? GROUP BY reason", (since,)
    ).fetchall()
    return {str(reason): int(count) for reason, count in rows}


def get(conn: sqlite3.Connection, entry_id: int) -> QuarantineEntry | None:
    """One entry with its stored bytes, or None."""
    row = conn.execute(
        f"SELECT {_COLUMNS}, raw FROM quarantine WHERE id = ?",  # noqa: S608 - literal
        (entry_id,),
    ).fetchone()
    return None if row is None else entry_from_row(row[:-1], bytes(row[-1]))


def _rows(
    conn: sqlite3.Connection, reason: str | None, since: str | None
) -> Iterator[QuarantineEntry]:
    where, params = _where(reason, since)
    cursor = conn.execute(
        f"SELECT {_COLUMNS}, raw FROM quarantine{where} ORDER BY id",  # noqa: S608 - literals
        params,
    )
    for row in cursor:
        yield entry_from_row(row[:-1], bytes(row[-1]))


def export_line(entry: QuarantineEntry) -> str:
    """One entry as a JSON line: bytes in base64, and as text when they are UTF-8."""
    try:
        text: str | None = entry.raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return json.dumps(
        {
            "id": entry.id,
            "received_at": entry.received_at.isoformat().replace("+00:00", "Z"),
            "topic": entry.topic,
            "reason": entry.reason,
            "detail": entry.detail,
            "agent": entry.agent_id,
            "raw_length": entry.raw_length,
            "raw_sha256": entry.raw_sha256,
            "raw_truncated": entry.truncated,
            "raw_base64": base64.b64encode(entry.raw).decode("ascii"),
            "raw_utf8": text,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def export(conn: sqlite3.Connection, out: TextIO, *, reason: str | None, since: str | None) -> int:
    """Write matching entries to ``out`` as JSON lines, oldest first; return how many."""
    count = 0
    for entry in _rows(conn, reason, since):
        out.write(export_line(entry) + "\n")
        count += 1
    return count


def reason_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Entries per reason code."""
    rows = conn.execute("SELECT reason, count(*) FROM quarantine GROUP BY reason").fetchall()
    return {str(reason): int(count) for reason, count in rows}


def counts_by_agent(
    conn: sqlite3.Connection, topic_prefix: str, agent_ids: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Entries per agent and reason: those on topics under ``topic_prefix`` or naming one of
    ``agent_ids``.

    The agent is the topic's fourth level (``rv/v1/{platform}/{enterprise}/{agent}/...``), so a
    message claiming an unregistered agent under the enterprise's topics is counted under the
    id it claimed; an entry whose topic has no such level is counted under its ``agent_id``.
    """
    marks = ", ".join("?" for _ in agent_ids) or "NULL"
    rows = conn.execute(
        "SELECT topic, agent_id, reason, count(*) FROM quarantine "  # noqa: S608 - marks are ?s
        f"WHERE substr(topic, 1, ?) = ? OR agent_id IN ({marks}) GROUP BY topic, agent_id, reason",
        (len(topic_prefix), topic_prefix, *agent_ids),
    ).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for topic, agent_id, reason, count in rows:
        levels = str(topic).split("/")
        claimed = levels[4] if str(topic).startswith(topic_prefix) and len(levels) > 4 else None
        agent = claimed or (str(agent_id) if agent_id is not None else "?")
        per_reason = counts.setdefault(agent, {})
        per_reason[str(reason)] = per_reason.get(str(reason), 0) + int(count)
    return counts
