"""What every registry backend checks and stamps before it writes: who, when, which seq.

The checks run before a transaction opens, so a malformed call costs no lock and writes
nothing, whatever the backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from contract import wire
from contract.configfile.types import describe_value

__all__ = ["check_seq_items", "checked_actor", "stored_text", "utc_now"]

_SHA256_LEN = 64


def utc_now() -> dt.datetime:
    """The time now, UTC (a change's time when the caller gives none)."""
    return dt.datetime.now(dt.UTC)


def stored_text(value: str, limit: int) -> str:
    """``value`` clipped to ``limit`` characters as every backend can store it: NUL (which
    PostgreSQL's text cannot hold) and unencodable characters (lone surrogates) as backslash
    escapes, the same on SQLite and PostgreSQL."""
    clipped = value[:limit].replace("\x00", "\\x00")[:limit]
    return clipped.encode("utf-8", "backslashreplace").decode("utf-8")


def checked_actor(by: str) -> str:
    """Who makes a change, stripped; ValueError when empty or longer than 200 characters."""
    by = by.strip()
    if not by or len(by) > 200:
        raise ValueError(f"got {describe_value(by)}, expected who makes the change (1-200 chars)")
    return by


def check_seq_items(items: Sequence[tuple[str, int, str]]) -> None:
    """ValueError for a seq outside 1..MAX_SEQ or a sha256 not 64 lowercase hex digits."""
    for _, seq, sha256 in items:
        if not 1 <= seq <= wire.MAX_SEQ:
            raise ValueError(f"got seq {seq}, expected 1..{wire.MAX_SEQ}")
        if len(sha256) != _SHA256_LEN or sha256.strip("0123456789abcdef"):
            raise ValueError(f"got sha256 {sha256[:80]!r}, expected 64 lowercase hex digits")
