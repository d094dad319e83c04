-- The registry's schema version 7 on SQLite, as the release before version 8 created it
-- (written out from collector/registry at commit 45dcb99). Never edit: the upgrade tests
-- open a database made by this file with the current code.

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

CREATE TABLE IF NOT EXISTS quarantine_pruned (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    pruned_at          TEXT    NOT NULL,
    topic              TEXT    NOT NULL,
    agent_id           TEXT,
    reason             TEXT    NOT NULL,
    first_received_at  TEXT    NOT NULL,
    last_received_at   TEXT    NOT NULL,
    messages           INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS user_passwords (
    user_id         TEXT PRIMARY KEY REFERENCES users (user_id),
    password_hash   TEXT    NOT NULL,
    must_change     INTEGER NOT NULL,
    set_at          TEXT    NOT NULL,
    set_by          TEXT    NOT NULL,
    totp_secret     TEXT,
    totp_since      TEXT,
    totp_last_step  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS login_delays (
    key       TEXT PRIMARY KEY,
    failures  INTEGER NOT NULL,
    last_at   TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS login_challenges (
    challenge_sha256  TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('totp', 'change')),
    expires_at        TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS day_seals (
    seal_sha256        TEXT PRIMARY KEY,
    agent_id           TEXT    NOT NULL,
    platform           TEXT    NOT NULL,
    enterprise         TEXT    NOT NULL,
    device             TEXT    NOT NULL,
    day                TEXT    NOT NULL,
    tz                 TEXT    NOT NULL,
    version            INTEGER NOT NULL,
    chain_index        INTEGER NOT NULL,
    prev_sha256        TEXT,
    supersedes_sha256  TEXT,
    seq                INTEGER NOT NULL,
    received_at        TEXT    NOT NULL,
    raw                BLOB    NOT NULL,
    UNIQUE (agent_id, device, chain_index)
);

CREATE INDEX IF NOT EXISTS day_seals_by_day ON day_seals (enterprise, device, day, version);

CREATE TABLE IF NOT EXISTS day_checks (
    agent_id      TEXT    NOT NULL,
    device        TEXT    NOT NULL,
    provenance    TEXT    NOT NULL,
    day           TEXT    NOT NULL,
    platform      TEXT    NOT NULL,
    enterprise    TEXT    NOT NULL,
    outcome       TEXT    NOT NULL
        CHECK (outcome IN ('sealed_equal', 'sealed_different', 'unsealed')),
    seal_sha256   TEXT,
    differences   TEXT    NOT NULL,
    root_checked  INTEGER NOT NULL,
    checked_at    TEXT    NOT NULL,
    checked_by    TEXT    NOT NULL CHECK (checked_by IN ('refresh', 'evidence')),
    PRIMARY KEY (agent_id, device, provenance, day)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS day_checks_by_outcome ON day_checks (enterprise, outcome, day);

CREATE TABLE IF NOT EXISTS attachment_blobs (
    sha256      TEXT    PRIMARY KEY,
    media_type  TEXT    NOT NULL
        CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    size_bytes  INTEGER NOT NULL,
    content     BLOB    NOT NULL,
    stored_at   TEXT    NOT NULL,
    stored_by   TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS attachments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    platform     TEXT    NOT NULL,
    enterprise   TEXT    NOT NULL,
    sha256       TEXT    NOT NULL REFERENCES attachment_blobs (sha256),
    kind         TEXT    NOT NULL
        CHECK (kind IN ('contract', 'invoice', 'payment_proof', 'summary_report')),
    name         TEXT    NOT NULL,
    amount_fen   INTEGER,
    attached_at  TEXT    NOT NULL,
    attached_by  TEXT    NOT NULL,
    CHECK ((kind = 'invoice') = (amount_fen IS NOT NULL))
);

CREATE INDEX IF NOT EXISTS attachments_by_enterprise ON attachments (enterprise, sha256);

CREATE TABLE IF NOT EXISTS attachment_withdrawals (
    attachment_id  INTEGER PRIMARY KEY REFERENCES attachments (id),
    reason         TEXT    NOT NULL,
    withdrawn_at   TEXT    NOT NULL,
    withdrawn_by   TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS decision_documents (
    decision_id  INTEGER NOT NULL REFERENCES review_decisions (id),
    sha256       TEXT    NOT NULL,
    PRIMARY KEY (decision_id, sha256)
) WITHOUT ROWID;

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

PRAGMA user_version = 7;
