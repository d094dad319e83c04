"""What the registry's mixins (users, decisions, views) need of :class:`Registry`.

The mixins add methods to :class:`~collector.registry.store.Registry` and type their ``self``
with :class:`RegistryCore`: its file, its read and write transactions and its audit log.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

__all__ = ["RegistryCore"]


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
