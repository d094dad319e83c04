"""What the registry's parts share: the protocol its mixins type ``self`` with, the clock, the
check of who makes a change.

The mixins (users, decisions, views) add methods to :class:`~collector.registry.store.Registry`
and type their ``self`` with :class:`RegistryCore`: its file, its read and write transactions
and its audit log.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from contract.configfile.types import describe_value

__all__ = ["RegistryCore", "checked_actor", "utc_now"]


def utc_now() -> dt.datetime:
    """The time now, UTC (a change's time when the caller gives none)."""
    return dt.datetime.now(dt.UTC)


def checked_actor(by: str) -> str:
    """Who makes a change, stripped; ValueError when empty or longer than 200 characters."""
    by = by.strip()
    if not by or len(by) > 200:
        raise ValueError(f"got {describe_value(by)}, expected who makes the change (1-200 chars)")
    return by


class RegistryCore(Protocol):
    """The part of :class:`~collector.registry.store.Registry` a mixin's methods use."""

    path: Path

    def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...
    def _read(self) -> AbstractContextManager[sqlite3.Connection]: ...
    def _audit(
        self,
        conn: sqlite3.Connection,
        at: str,
        by: str,
        action: str,
        subject: str,
        **detail: object,
    ) -> None: ...
