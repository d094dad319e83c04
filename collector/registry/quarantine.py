"""Quarantine: every message the ingest rejects, kept with its reason; what is kept of it.

A message is kept up to :data:`QUARANTINE_RAW_LIMIT` bytes, with the length and SHA-256 of
the whole of it, so an oversized hostile message costs at most that much disk and can still be
matched against a copy found elsewhere. Text is stored as UTF-8 whatever it held: lone
surrogates and other unencodable characters, and NUL (which PostgreSQL's text cannot hold), are
written as backslash escapes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass

from collector.registry.core import stored_text
from collector.registry.records import QuarantineEntry

__all__ = [
    "MAX_DETAIL_CHARS",
    "MAX_TOPIC_CHARS",
    "QUARANTINE_RAW_LIMIT",
    "REASON_PATTERN",
    "Kept",
    "claimed_agent",
    "export_line",
    "kept",
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


@dataclass(frozen=True, slots=True)
class Kept:
    """What is stored of a rejected message: clipped texts, the first bytes, length and hash."""

    topic: str
    reason: str
    detail: str
    agent_id: str | None
    raw: bytes
    raw_length: int
    raw_sha256: str


def kept(raw: bytes, *, topic: str, reason_code: str, detail: str, agent_id: str | None) -> Kept:
    """What to store of one rejected message. Raises ValueError for a bad reason code."""
    if not _REASON_RE.fullmatch(reason_code):
        raise ValueError(f"reason code {reason_code[:60]!r} does not match {REASON_PATTERN}")
    return Kept(
        topic=stored_text(topic, MAX_TOPIC_CHARS),
        reason=reason_code,
        detail=stored_text(detail, MAX_DETAIL_CHARS),
        agent_id=None if agent_id is None else stored_text(agent_id, 200),
        raw=bytes(raw[:QUARANTINE_RAW_LIMIT]),
        raw_length=len(raw),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
    )


def claimed_agent(topic: str, agent_id: str | None, topic_prefix: str) -> str:
    """Whom an entry is counted under: the agent its topic claims under ``topic_prefix``
    (``rv/v1/{platform}/{enterprise}/{agent}/...``), else its recorded agent id, else ``?``."""
    levels = topic.split("/")
    claimed = levels[4] if topic.startswith(topic_prefix) and len(levels) > 4 else None
    return claimed or (agent_id if agent_id is not None else "?")


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
