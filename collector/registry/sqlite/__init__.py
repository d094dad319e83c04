"""The registry's SQLite backend: one file, one connection, the shared repositories over it.

:class:`SqliteDatabase` holds the connection, its lock and its transactions
(:mod:`~collector.registry.sqlite.database`); the schema, its triggers and its upgrades are
:mod:`~collector.registry.sqlite.schema`. The repositories are :mod:`collector.registry.sql`'s.
"""

from __future__ import annotations

from collector.registry.sqlite.database import SqliteDatabase
from collector.registry.sqlite.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SqliteDatabase"]
