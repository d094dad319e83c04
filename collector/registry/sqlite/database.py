"""One SQLite connection shared by every repository: its lock and its transactions.

A :class:`SqliteDatabase` (the :class:`~collector.registry.sql.Database` of a file) per
:class:`~collector.registry.Registry`; it is safe to share between threads (a lock serialises
the one connection: the ingest calls the registry from paho's network thread and from
``asyncio.to_thread`` workers) and between processes on one machine (WAL and a busy timeout, see
:mod:`collector.registry.sqlite.schema`). Every write is one ``BEGIN IMMEDIATE`` transaction, so
a repository's public call happens whole or not at all, and a read-check-write in it is atomic
across processes (the lock names a write passes are for PostgreSQL: this lock already serialises
every writer); every read is one deferred transaction, so its statements see one snapshot of the
file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from collector.errors import RegistryUnavailable
from collector.registry.sqlite.schema import connect

__all__ = ["SqliteDatabase", "unavailable"]


class SqliteDatabase:
    """The registry file's connection: :meth:`write`, :meth:`read`, :meth:`statement`.

    Raises RegistryUnavailable (``retryable`` when the cause is a lock held past the busy
    timeout) if the file cannot be opened or used.
    """

    def __init__(self, path: Path, *, busy_timeout_s: float) -> None:
        self.path = path
        try:
            self._conn = connect(path, busy_timeout_s=busy_timeout_s)
        except sqlite3.Error as exc:
            raise unavailable(path, exc) from exc
        self._lock = threading.RLock()

    @property
    def location(self) -> str:
        """The file, for messages."""
        return str(self.path)

    def close(self) -> None:
        """Close the connection; the database cannot be used afterwards."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def write(self, *locks: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed if the block ends, else rolled back.

        ``locks`` are ignored: the file's write lock already serialises every writer.
        """
        del locks
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise unavailable(self.path, exc) from exc
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise unavailable(self.path, exc) from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One deferred transaction: the reads in it see one snapshot of the file."""
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                try:
                    yield self._conn
                finally:
                    self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                raise unavailable(self.path, exc) from exc

    @contextmanager
    def statement(self) -> Iterator[sqlite3.Connection]:
        """The connection without a transaction, for one statement (its own snapshot).

        For the ingest's per-message lookups: a BEGIN and COMMIT around one indexed read would
        cost more than the read.
        """
        with self._lock:
            try:
                yield self._conn
            except sqlite3.OperationalError as exc:
                raise unavailable(self.path, exc) from exc


def unavailable(path: Path, exc: sqlite3.Error) -> RegistryUnavailable:
    """The error for a registry file SQLite could not use (retryable if it was locked)."""
    text = str(exc)
    locked = "locked" in text or "busy" in text
    then = "retry later" if locked else "check the file"
    return RegistryUnavailable(f"registry {path}: {text}; {then}", retryable=locked)
