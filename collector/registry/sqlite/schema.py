"""The registry's SQLite schema and how a connection to it is opened.

Several collector processes on one machine (ingest replicas, the web app, the command line)
share one registry file: WAL lets readers run beside one writer, ``busy_timeout`` makes a
writer wait for another instead of failing, and every write transaction starts with
``BEGIN IMMEDIATE`` so it takes the write lock before reading (a deferred transaction that
reads and then writes can fail at once with SQLITE_BUSY, whatever the timeout).

Tables (docs/plan.md, "Registry tables", says what each column holds):

- ``plan_versions``: every loaded version of every plan; never updated or deleted.
- ``agents``: one row per agent id, its key, enterprise and devices; revocation is a date.
- ``audit``: every change (plan load, agent add, device change, revoke); append-only.
- ``quarantine``: rejected messages; ``agent_seqs``, ``seq_state``, ``seq_gaps``: per-agent
  sequence bookkeeping; ``agent_status``: what each agent last said about itself.
- ``users``, ``user_tokens``, ``web_sessions`` and ``review_decisions``: the web app's
  (version 2).
- ``evidence_slots`` and ``login_failures``: the web app's limits, shared by its replicas
  (version 3).

Each table is read and written by one repository of :mod:`collector.registry.sqlite`; the
PostgreSQL backend (issue 19) will have its own schema beside this one.

Append-only is enforced by triggers, not only by the code: an UPDATE or DELETE on
``plan_versions``, ``audit`` or ``review_decisions`` aborts, and so does a DELETE on ``users``
or ``user_tokens``.

Every statement is ``IF NOT EXISTS``. A file of an older version gets the base tables (a no-op
where they exist) and then each upgrade step above its version, in order, in one transaction
with the new ``user_version``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "connect"]

#: Bumped when a table changes; ``PRAGMA user_version`` holds the version of a file.
#: 2: users, tokens, sessions and review decisions (the web app).
#: 3: evidence-run slots and failed-login counters (the web app's limits, issue 14).
SCHEMA_VERSION = 3

_TABLES = """
CREATE TABLE IF NOT EXISTS plan_versions (
    plan_key     TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    digest       TEXT    NOT NULL,
    content      TEXT    NOT NULL,
    source_name  TEXT    NOT NULL,
    source_text  TEXT    NOT NULL,
    loaded_at    TEXT    NOT NULL,
    loaded_by    TEXT    NOT NULL,
    changes      TEXT    NOT NULL,
    PRIMARY KEY (plan_key, version)
);
CREATE TABLE IF NOT EXISTS agents (
    agent_id      TEXT PRIMARY KEY,
    plan_key      TEXT NOT NULL,
    platform      TEXT NOT NULL,
    enterprise    TEXT NOT NULL,
    public_key    TEXT NOT NULL UNIQUE,
    devices       TEXT NOT NULL,
    added_at      TEXT NOT NULL,
    added_by      TEXT NOT NULL,
    revoked_at    TEXT,
    revoked_by    TEXT,
    revoke_reason TEXT
);
CREATE INDEX IF NOT EXISTS agents_by_enterprise ON agents (platform, enterprise);
CREATE TABLE IF NOT EXISTS audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    subject  TEXT NOT NULL,
    detail   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at  TEXT    NOT NULL,
    topic        TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    agent_id     TEXT,
    raw          BLOB    NOT NULL,
    raw_length   INTEGER NOT NULL,
    raw_sha256   TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_time ON quarantine (received_at);
CREATE INDEX IF NOT EXISTS quarantine_by_reason ON quarantine (reason, received_at);
CREATE TABLE IF NOT EXISTS agent_seqs (
    agent_id     TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    sha256       TEXT    NOT NULL,
    first_at     TEXT    NOT NULL,
    duplicates   INTEGER NOT NULL DEFAULT 0,
    replays      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seq_state (
    agent_id     TEXT PRIMARY KEY,
    highest_seq  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_gaps (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id   TEXT    NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    opened_at  TEXT    NOT NULL,
    closed_at  TEXT
);
CREATE INDEX IF NOT EXISTS seq_gaps_open ON seq_gaps (agent_id, closed_at, first_seq);
CREATE TABLE IF NOT EXISTS agent_status (
    agent_id       TEXT PRIMARY KEY,
    last_seen      TEXT    NOT NULL,
    agent_version  TEXT    NOT NULL,
    config_digest  TEXT    NOT NULL,
    outbox_depth   INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS rollup_dirty (
    enterprise TEXT    NOT NULL,
    device     TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    tz         TEXT    NOT NULL,
    generation INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (enterprise, device, day)
);
CREATE TRIGGER IF NOT EXISTS plan_versions_no_update BEFORE UPDATE ON plan_versions
BEGIN SELECT RAISE(ABORT, 'plan_versions is append-only: load a new version instead'); END;
CREATE TRIGGER IF NOT EXISTS plan_versions_no_delete BEFORE DELETE ON plan_versions
BEGIN SELECT RAISE(ABORT, 'plan_versions is append-only: versions are never deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""


#: The web app's users, tokens and sessions (:mod:`~collector.registry.sqlite.users`,
#: :mod:`~collector.registry.sqlite.sessions`) and review decisions
#: (:mod:`~collector.registry.sqlite.decisions`): version 2.
_WEB_TABLES = """
CREATE TABLE IF NOT EXISTS users (
    user_id       TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'platform', 'reviewer', 'observer')),
    platform      TEXT,
    province      TEXT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    disabled_at   TEXT,
    disabled_by   TEXT
);
CREATE TABLE IF NOT EXISTS user_tokens (
    token_id       TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users (user_id),
    secret_sha256  TEXT NOT NULL,
    label          TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    expires_at     TEXT,
    revoked_at     TEXT,
    revoked_by     TEXT
);
CREATE INDEX IF NOT EXISTS user_tokens_by_user ON user_tokens (user_id);
CREATE TABLE IF NOT EXISTS web_sessions (
    session_sha256  TEXT PRIMARY KEY,
    token_id        TEXT NOT NULL,
    csrf            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS users_no_delete BEFORE DELETE ON users
BEGIN SELECT RAISE(ABORT, 'users are disabled, never deleted'); END;
CREATE TRIGGER IF NOT EXISTS user_tokens_no_delete BEFORE DELETE ON user_tokens
BEGIN SELECT RAISE(ABORT, 'tokens are revoked, never deleted'); END;
CREATE TABLE IF NOT EXISTS review_decisions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    platform         TEXT NOT NULL,
    enterprise       TEXT NOT NULL,
    bundle_sha256    TEXT NOT NULL,
    evidence_status  TEXT NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'rectify')),
    comment          TEXT NOT NULL,
    decided_at       TEXT NOT NULL,
    decided_by       TEXT NOT NULL,
    supersedes       INTEGER REFERENCES review_decisions (id)
);
CREATE INDEX IF NOT EXISTS review_decisions_by_enterprise
    ON review_decisions (enterprise, id);
CREATE TRIGGER IF NOT EXISTS review_decisions_no_update BEFORE UPDATE ON review_decisions
BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only: record a new decision'); END;
CREATE TRIGGER IF NOT EXISTS review_decisions_no_delete BEFORE DELETE ON review_decisions
BEGIN SELECT RAISE(ABORT, 'review_decisions is append-only'); END;
"""

#: The web app's limits shared by its replicas (:mod:`~collector.registry.sqlite.run_slots`,
#: :mod:`~collector.registry.sqlite.login_failures`): version 3.
_LIMIT_TABLES = """
CREATE TABLE IF NOT EXISTS evidence_slots (
    slot_id      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    platform     TEXT NOT NULL,
    enterprise   TEXT NOT NULL,
    holder       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('waiting', 'running')),
    claimed_at   TEXT NOT NULL,
    lease_until  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_slots_by_lease ON evidence_slots (lease_until);
CREATE TABLE IF NOT EXISTS login_failures (
    key           TEXT PRIMARY KEY,
    window_start  TEXT    NOT NULL,
    failures      INTEGER NOT NULL,
    locked_until  TEXT
);
"""

#: Version → what moves a file of the version below to it (each step IF NOT EXISTS).
_UPGRADES: dict[int, str] = {3: _LIMIT_TABLES}


def connect(path: Path, *, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (creating if needed) the registry at ``path`` in WAL mode with a busy timeout.

    The connection is in autocommit mode (``isolation_level=None``): callers open their own
    ``BEGIN IMMEDIATE`` transactions. ``check_same_thread`` is off because the ingest calls the
    registry from paho's network thread and from ``asyncio.to_thread`` workers; the
    :class:`~collector.registry.sqlite.database.Database` serialises access with a lock.
    Raises sqlite3.Error if the file cannot be opened or is not a registry.
    """
    conn = sqlite3.connect(
        path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a quarantined message or a recorded seq survives a power cut once its call
        # returns (the ingest acks the MQTT message after it); NORMAL could lose the last ones.
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


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
        for statement in _statements(_upgrade_script(version)):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _upgrade_script(version: int) -> str:
    # Version 2's tables are the base: every file below 3 gets them (IF NOT EXISTS), then the
    # steps after its version.
    steps = [_UPGRADES[step] for step in sorted(_UPGRADES) if step > version]
    return "".join([_TABLES, _WEB_TABLES, *steps])


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT first; split instead so the schema is one transaction.
    # Triggers contain ';' inside BEGIN ... END, so split on the statement ends only.
    parts: list[str] = []
    current = ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            parts.append(current.strip())
            current = ""
    return parts
