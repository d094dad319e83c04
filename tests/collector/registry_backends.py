"""The registry's two backends for its tests: a SQLite file, or a fresh PostgreSQL database.

The ``registry_location`` fixture (tests/collector/conftest.py) is parametrised over both, so
every registry test that takes it runs on each. PostgreSQL is one real cluster per session
(:class:`stack.PostgresServer`, a child process on a free loopback port); each test gets its
own database, copied from a template that already holds the schema (``CREATE DATABASE ...
TEMPLATE``: a file copy, much cheaper than a cluster or the schema's DDL).

:func:`raw_execute` runs SQL on the database behind the registry's back, the way an intruder
or a careless operator would, for the tests that check what the database itself refuses.
"""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg

from collector.registry import Registry
from stack import PostgresServer, postgres_bindir

__all__ = [
    "BACKENDS",
    "RAW_ERRORS",
    "RegistryCluster",
    "database_bytes",
    "is_postgres",
    "raw_execute",
    "raw_rows",
    "writes_held",
]

#: The registry's backends, as the tests' parameters name them.
BACKENDS = ("sqlite", "postgresql")

#: What a refused raw statement raises, on either backend.
RAW_ERRORS = (sqlite3.DatabaseError, psycopg.Error)

_TEMPLATE = "registry_template"


def is_postgres(location: Path | str) -> bool:
    """Whether a registry location is a PostgreSQL URL."""
    return isinstance(location, str) and location.startswith("postgresql://")


def raw_execute(
    location: Path | str, *statements: str, params: Sequence[object] | None = None
) -> None:
    """Run ``statements`` on the registry's database directly, each committed on its own;
    ``params`` fill the ``?`` marks of each (statements without params may be scripts)."""
    if is_postgres(location):
        with psycopg.connect(str(location), autocommit=True) as conn:
            for statement in statements:
                if params is None:
                    conn.execute(statement.encode())
                else:
                    conn.execute(statement.replace("?", "%s").encode(), tuple(params))
        return
    file = sqlite3.connect(location, isolation_level=None)
    try:
        for statement in statements:
            if params is None:
                file.executescript(statement)
            else:
                file.execute(statement, tuple(params))
    finally:
        file.close()


def raw_rows(location: Path | str, query: str) -> list[tuple[object, ...]]:
    """The rows of one query run on the registry's database directly."""
    if is_postgres(location):
        with psycopg.connect(str(location), autocommit=True) as conn:
            return [tuple(row) for row in conn.execute(query.encode()).fetchall()]
    file = sqlite3.connect(location)
    try:
        return [tuple(row) for row in file.execute(query).fetchall()]
    finally:
        file.close()


@contextmanager
def writes_held(location: Path | str) -> Iterator[None]:
    """Hold the registry's writes from outside while the block runs, as another process's long
    transaction would: SQLite's write lock (``BEGIN IMMEDIATE``), or on PostgreSQL a SHARE lock
    on ``audit`` (every write the web app makes appends to it). Reads go on meanwhile."""
    if is_postgres(location):
        with psycopg.connect(str(location)) as holder:  # one transaction, rolled back at exit
            holder.execute(b"LOCK TABLE audit IN SHARE MODE")
            yield
            holder.rollback()
        return
    file = sqlite3.connect(location, isolation_level=None)
    try:
        file.execute("BEGIN IMMEDIATE")
        yield
        file.execute("ROLLBACK")
    finally:
        file.close()


def database_bytes(location: Path | str) -> bytes:
    """Everything the database holds as bytes: the SQLite file and its WAL, or a PostgreSQL
    dump (``pg_dump``: every row of every table) - what a stolen copy would give."""
    if is_postgres(location):
        dump = subprocess.run(
            [str(postgres_bindir() / "pg_dump"), "--data-only", str(location)],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return dump.stdout
    path = Path(location)
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


class RegistryCluster:
    """One PostgreSQL cluster for a test session; :meth:`fresh` makes a registry database."""

    def __init__(self, workdir: Path) -> None:
        self.server = PostgresServer(workdir)
        self._serial = itertools.count()

    def start(self) -> None:
        """Start the cluster and make the template: a database holding the registry schema."""
        self.server.start()
        self.server.create_database(_TEMPLATE)
        Registry(self.server.url(_TEMPLATE)).close()

    def stop(self) -> None:
        """Stop the cluster and delete its data."""
        self.server.stop()
        self.server.remove_data()

    def fresh(self) -> str:
        """The URL of a new database with the registry schema and nothing in it."""
        name = f"registry_{next(self._serial)}"
        with psycopg.connect(self.server.url(), autocommit=True) as conn:
            for attempt in itertools.count():
                try:
                    conn.execute(f"CREATE DATABASE {name} TEMPLATE {_TEMPLATE}".encode())
                    break
                except psycopg.errors.ObjectInUse:
                    # A backend of the template's last client may still be exiting.
                    if attempt >= 50:
                        raise
                    time.sleep(0.1)
        return self.server.url(name)
