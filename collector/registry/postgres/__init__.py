"""The registry's PostgreSQL backend: a connection pool, the shared repositories over it.

:class:`PostgresDatabase` holds the pool, its transactions and their advisory locks
(:mod:`~collector.registry.postgres.database`); the schema, its append-only triggers and its
version row are :mod:`~collector.registry.postgres.schema`. The repositories are
:mod:`collector.registry.sql`'s, the same as SQLite's. docs/scaling.md says when to use it.
"""

from __future__ import annotations

from collector.registry.postgres.database import DEFAULT_POOL_SIZE, PostgresDatabase, display_url
from collector.registry.postgres.schema import POSTGRES, SchemaNeedsOwner, SchemaTooNew

__all__ = [
    "DEFAULT_POOL_SIZE",
    "POSTGRES",
    "PostgresDatabase",
    "SchemaNeedsOwner",
    "SchemaTooNew",
    "display_url",
]
