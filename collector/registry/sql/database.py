"""The seam between the registry's repositories and a database engine.

The repositories (every other module of :mod:`collector.registry.sql`) are written once, in the
SQL that SQLite and PostgreSQL share (``INSERT ... ON CONFLICT``, ``RETURNING``, plain
``SELECT``\\s, ``?`` placeholders), against a :class:`Database`: a connection per transaction
(:meth:`Database.write`, :meth:`Database.read`, :meth:`Database.statement`). What differs per
engine stays behind it (:mod:`collector.registry.sqlite`, :mod:`collector.registry.postgres`):
the driver, the placeholder style, the schema's types and triggers, and the locking.

Locking: a repository whose write reads, checks and then writes names what it must hold
alone, ``write("plans", "agents")`` or ``write(*(f"seq:{agent}" ...))``. SQLite ignores the
names (its ``BEGIN IMMEDIATE`` already serialises every writer of the file); PostgreSQL takes a
transaction-scoped advisory lock on each, in sorted order, so two hosts recording the same
agent's seqs wait for each other while other agents' seqs go on. A write whose one statement is
atomic on its own (an upsert, an insert) names nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["Connection", "Cursor", "Database", "audit"]


class Cursor(Protocol):
    """What the repositories use of a cursor (sqlite3's and psycopg's both have it)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...  # a row (a tuple) or None: Any as in both drivers

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection inside one transaction, with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Sequence[Sequence[Any]], /) -> Cursor: ...


class Database(Protocol):
    """A registry database: its transactions, and where it is (for messages).

    Each method raises RegistryUnavailable (``retryable`` when waiting may help: a lock held
    too long, a server restarting) when the database cannot be used.
    """

    #: The SQLite file, or the PostgreSQL URL without its password: for messages.
    @property
    def location(self) -> str: ...

    def write(self, *locks: str) -> AbstractContextManager[Connection]:
        """One write transaction holding ``locks``: committed if the block ends, else rolled
        back."""
        ...

    def read(self) -> AbstractContextManager[Connection]:
        """One read-only transaction: its statements see one snapshot."""
        ...

    def statement(self) -> AbstractContextManager[Connection]:
        """A connection for one statement (its own snapshot), no transaction around it: for
        the ingest's per-message lookups."""
        ...

    def close(self) -> None:
        """Close every connection; the database cannot be used afterwards."""
        ...


def audit(
    conn: Connection,
    at: str,
    by: str,
    action: str,
    subject: str,
    **detail: object,
) -> None:
    """Append one audit row in the caller's write transaction (the log is append-only)."""
    conn.execute(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (at, by, action, subject, json.dumps(detail, ensure_ascii=False, sort_keys=True)),
    )
