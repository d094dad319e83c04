"""The registry's SQLite backend: one file, one connection, every repository of
:mod:`collector.registry.ports` over it.

:class:`Database` holds the connection, its lock and its transactions
(:mod:`~collector.registry.sqlite.database`); the schema and its upgrades are
:mod:`~collector.registry.sqlite.schema`; each other module is one repository and owns its
tables. They import the registry's records and checks (:mod:`collector.registry.records`,
``core``, ``users``, ``decisions``, ``runs``, ``throttle``, ``quarantine``, ``ownership``,
``enterprises``) and nothing of the collector beyond ``collector.errors`` and
``collector.plan``.
"""

from __future__ import annotations

from collector.registry.ports import Repositories
from collector.registry.sqlite.agents import SqliteAgentRepository
from collector.registry.sqlite.audit import SqliteAuditLog
from collector.registry.sqlite.database import Database
from collector.registry.sqlite.decisions import SqliteDecisionRepository
from collector.registry.sqlite.login_failures import SqliteLoginFailures
from collector.registry.sqlite.plans import SqlitePlanRepository
from collector.registry.sqlite.quarantine import SqliteQuarantine
from collector.registry.sqlite.rollup_queue import SqliteRollupQueue
from collector.registry.sqlite.run_slots import SqliteRunSlots
from collector.registry.sqlite.schema import SCHEMA_VERSION
from collector.registry.sqlite.seqs import SqliteSeqRepository
from collector.registry.sqlite.sessions import SqliteSessionRepository
from collector.registry.sqlite.status import SqliteStatusRepository
from collector.registry.sqlite.users import SqliteUserRepository

__all__ = ["SCHEMA_VERSION", "Database", "repositories"]


def repositories(database: Database) -> Repositories:
    """Every repository over ``database``'s one connection."""
    plans = SqlitePlanRepository(database)
    return Repositories(
        plans=plans,
        agents=SqliteAgentRepository(database, plans),
        status=SqliteStatusRepository(database),
        seqs=SqliteSeqRepository(database),
        quarantine=SqliteQuarantine(database),
        rollup_queue=SqliteRollupQueue(database),
        audit=SqliteAuditLog(database),
        users=SqliteUserRepository(database),
        sessions=SqliteSessionRepository(database),
        decisions=SqliteDecisionRepository(database),
        run_slots=SqliteRunSlots(database),
        login_failures=SqliteLoginFailures(database),
    )
