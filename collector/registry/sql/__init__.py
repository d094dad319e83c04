"""The registry's repositories, written once over the :class:`Database` seam.

Each module is one repository of :mod:`collector.registry.ports` and owns its tables; the SQL
is what SQLite and PostgreSQL share, and what differs per engine (driver, placeholders, schema
types, triggers, locking) is the :class:`Database`'s (:mod:`~collector.registry.sql.database`):
:mod:`collector.registry.sqlite` or :mod:`collector.registry.postgres`. The tables are
:mod:`~collector.registry.sql.tables`. The repositories import the registry's records and
checks (:mod:`collector.registry.records`, ``core``, ``users``, ``decisions``, ``runs``,
``throttle``, ``quarantine``, ``ownership``, ``enterprises``, ``day_seals``, ``attachments``)
and nothing of the collector beyond ``collector.errors``, ``collector.plan`` and
``collector.attachments``.
"""

from __future__ import annotations

from collector.registry.ports import Repositories
from collector.registry.sql.accounts import SqlAccounts
from collector.registry.sql.agents import SqlAgentRepository
from collector.registry.sql.attachments import SqlAttachments
from collector.registry.sql.audit import SqlAuditLog
from collector.registry.sql.database import Connection, Cursor, Database, audit
from collector.registry.sql.day_seals import SqlDaySeals
from collector.registry.sql.decisions import SqlDecisionRepository
from collector.registry.sql.login_failures import SqlLoginFailures
from collector.registry.sql.plans import SqlPlanRepository
from collector.registry.sql.quarantine import SqlQuarantine
from collector.registry.sql.rollup_queue import SqlRollupQueue
from collector.registry.sql.run_slots import SqlRunSlots
from collector.registry.sql.seqs import SqlSeqRepository
from collector.registry.sql.sessions import SqlSessionRepository
from collector.registry.sql.status import SqlStatusRepository
from collector.registry.sql.tables import SCHEMA_VERSION, Dialect, tables
from collector.registry.sql.users import SqlUserRepository

__all__ = [
    "SCHEMA_VERSION",
    "Connection",
    "Cursor",
    "Database",
    "Dialect",
    "audit",
    "repositories",
    "tables",
]


def repositories(database: Database) -> Repositories:
    """Every repository over ``database``."""
    plans = SqlPlanRepository(database)
    return Repositories(
        plans=plans,
        agents=SqlAgentRepository(database, plans),
        status=SqlStatusRepository(database),
        seqs=SqlSeqRepository(database),
        quarantine=SqlQuarantine(database),
        rollup_queue=SqlRollupQueue(database),
        audit=SqlAuditLog(database),
        users=SqlUserRepository(database),
        sessions=SqlSessionRepository(database),
        decisions=SqlDecisionRepository(database),
        run_slots=SqlRunSlots(database),
        login_failures=SqlLoginFailures(database),
        accounts=SqlAccounts(database),
        attachments=SqlAttachments(database),
        day_seals=SqlDaySeals(database),
    )
