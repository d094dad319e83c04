"""The registry's SQLite schema and how a connection to it is opened.

Several collector processes on one machine (ingest replicas, the web app, the command line)
share one registry file: WAL lets readers run beside one writer, ``busy_timeout`` makes a
writer wait for another instead of failing, and every write transaction starts with
``BEGIN IMMEDIATE`` so it takes the write lock before reading (a deferred transaction that
reads and then writes can fail at once with SQLITE_BUSY, whatever the timeout).

The tables are :mod:`collector.registry.sql.tables`' (shared with PostgreSQL), in SQLite's
types; the triggers below are SQLite's.

Append-only is enforced by triggers, not only by the code: an UPDATE or DELETE on
``plan_versions``, ``audit``, ``review_decisions``, ``quarantine_pruned``, ``day_seals``,
``attachment_blobs``, ``attachments``, ``attachment_withdrawals`` or ``decision_documents``
aborts, and so does a DELETE on ``users`` or ``user_tokens``.

A file of an older version gets every table statement (each ``IF NOT EXISTS``: what the file
lacks is created, whatever its version says), the column steps above its version (version 8
adds a column; an ALTER runs once) and every trigger (a no-op where they exist), in one
transaction with the new ``user_version``.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from collector.registry.sql.tables import SCHEMA_VERSION, Dialect, upgrade_statements

__all__ = ["SCHEMA_VERSION", "SQLITE", "connect"]

#: How long to wait between tries of the switch to WAL while another connection holds the file.
_WAL_RETRY_S = 0.02

#: SQLite's names for the tables' column types.
SQLITE = Dialect(
    text="TEXT",
    integer="INTEGER",
    identity="INTEGER PRIMARY KEY AUTOINCREMENT",
    blob="BLOB",
    without_rowid=" WITHOUT ROWID",
)

#: Append-only, enforced in the file (triggers of versions 1, 2, 4, 6 and 7).
_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS plan_versions_no_update BEFORE UPDATE ON plan_versions
BEGIN SELECT RAISE(ABORT, 'plan_versions is append-only: load a new version instead'); END;
CREATE TRIGGER IF NOT EXISTS plan_versions_no_delete BEFORE DELETE ON plan_versions
BEGIN SELECT RAISE(ABORT, 'plan_versions is append-only: versions are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS users_no_delete BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'users are disabled, never deleted'); END;
CREATE TRIGGER IF NOT EXISTS user_tokens_no_delete BEFORE DELETE ON user_tokens
BEGIN SELECT RAISE(ABORT, 'tokens are revoked, never deleted'); END;
CREATE TRIGGER IF NOT EXISTS review_decisions_no_update BEFORE UPDATE ON review_decisions
BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only: record a new decision'); END;
CREATE TRIGGER IF NOT EXISTS review_decisions_no_delete BEFORE DELETE ON review_decisions
BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only'); END;
CREATE TRIGGER IF NOT EXISTS quarantine_pruned_no_update BEFORE UPDATE ON quarantine_pruned
BEGIN SELECT RAISE(ABORT, 'quarantine_pruned is append-only'); END;
CREATE TRIGGER IF NOT EXISTS quarantine_pruned_no_delete BEFORE DELETE ON quarantine_pruned
BEGIN SELECT RAISE(ABORT, 'quarantine_pruned is append-only'); END;
CREATE TRIGGER IF NOT EXISTS day_seals_no_update BEFORE UPDATE ON day_seals
BEGIN SELECT RAISE(ABORT, 'day_seals is append-only: a day changes by a new seal version'); END;
CREATE TRIGGER IF NOT EXISTS day_seals_no_delete BEFORE DELETE ON day_seals
BEGIN SELECT RAISE(ABORT, 'day_seals is append-only: a day changes by a new seal version'); END;
CREATE TRIGGER IF NOT EXISTS attachment_blobs_no_update BEFORE UPDATE ON attachment_blobs
BEGIN SELECT RAISE(ABORT, 'attachment_blobs is append-only'); END;
CREATE TRIGGER IF NOT EXISTS attachment_blobs_no_delete BEFORE DELETE ON attachment_blobs
BEGIN SELECT RAISE(ABORT, 'attachment_blobs is append-only'); END;
CREATE TRIGGER IF NOT EXISTS attachments_no_update BEFORE UPDATE ON attachments
BEGIN SELECT RAISE(ABORT, 'attachments is append-only'); END;
CREATE TRIGGER IF NOT EXISTS attachments_no_delete BEFORE DELETE ON attachments
BEGIN SELECT RAISE(ABORT, 'attachments is append-only'); END;
CREATE TRIGGER IF NOT EXISTS attachment_withdrawals_no_update
BEFORE UPDATE ON attachment_withdrawals
BEGIN SELECT RAISE(ABORT, 'attachment_withdrawals is append-only'); END;
CREATE TRIGGER IF NOT EXISTS attachment_withdrawals_no_delete
BEFORE DELETE ON attachment_withdrawals
BEGIN SELECT RAISE(ABORT, 'attachment_withdrawals is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decision_documents_no_update BEFORE UPDATE ON decision_documents
BEGIN SELECT RAISE(ABORT, 'decision_documents is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decision_documents_no_delete BEFORE DELETE ON decision_documents
BEGIN SELECT RAISE(ABORT, 'decision_documents is append-only'); END;
"""


def connect(path: Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (creating if needed) the registry at ``path`` in WAL mode with a busy timeout.

    The connection is in autocommit mode (``isolation_level=None``): callers open their own
    ``BEGIN IMMEDIATE`` transactions. ``check_same_thread`` is off because the ingest calls the
    registry from paho's network thread and from ``asyncio.to_thread`` workers; the
    :class:`~collector.registry.sqlite.database.SqliteDatabase` serialises access with a lock.
    Raises sqlite3.Error if the file cannot be opened or is not a registry.
    """
    conn = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        _enable_wal(conn, busy_timeout_s)
        # FULL: a quarantined message or a recorded seq survives a power cut once its call
        # returns (the ingest acks the MQTT message after it); NORMAL could lose the last ones.
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    """Switch the file to WAL, waiting up to the busy timeout for another connection.

    SQLite does not call the busy handler for this switch: on a new file that another process
    is opening at the same moment (two ingest replicas started together), the pragma fails at
    once with "database is locked". So it is retried here, within the same timeout a write
    waits. A file already in WAL answers at once and takes no lock.
    """
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_S)
            continue
        if str(mode).lower() != "wal":
            raise sqlite3.DatabaseError(f"the file refused WAL mode (it stayed {mode!r})")
        return


def _migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"registry schema version {version} is newer than this collector's "
            f"{SCHEMA_VERSION}: upgrade retrofit-verify"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again under the write lock: another process opening the file at the same moment
        # may have upgraded it meanwhile, and version 8's ALTER must not run twice.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            conn.execute("COMMIT")
            return
        for statement in _upgrade_script(version):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _upgrade_script(version: int) -> list[str]:
    # Every table and trigger, each IF NOT EXISTS (a no-op where it exists): a file of any
    # older version gets what it lacks; and the ALTER steps above its version (they run once).
    return [*upgrade_statements(SQLITE, version), *_statements(_TRIGGERS)]


def _statements(script: str) -> list[str]:
    # Triggers contain ';' inside BEGIN ... END, so split on the statement ends only.
    parts: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            parts.append(current.strip())
            current = ""
    return parts
