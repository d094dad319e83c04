"""The registry's tables, written once for both engines: each column's type is the dialect's.

Tables (docs/plan.md, "Registry tables", says what each column holds):

- ``plan_versions``: every loaded version of every plan; never updated or deleted.
- ``agents``: one row per agent id, its key, enterprise and devices; revocation is a date.
- ``audit``: every change (plan load, agent add, device change, revoke); append-only.
- ``quarantine``: rejected messages; ``agent_seqs``, ``seq_state``, ``seq_gaps``: per-agent
  sequence bookkeeping; ``agent_status``: what each agent last said about itself;
  ``rollup_dirty``: the days whose daily rollup must be recomputed.
- ``users``, ``user_tokens``, ``web_sessions`` and ``review_decisions``: the web app's
  (version 2).
- ``evidence_slots`` and ``login_failures``: the web app's limits, shared by its replicas
  (version 3).
- ``quarantine_pruned``: what the quarantine's retention deleted, counted per topic, agent and
  reason, so the evidence's quarantine counts stay whole (version 4); append-only.
- ``user_passwords``, ``login_delays`` and ``login_challenges``: people's logins, passwords,
  TOTP, the growing delay after failures (version 5, :mod:`collector.registry.sql.accounts`).
- ``day_seals``: every day seal an agent sent, exactly as received, append-only; and
  ``day_checks``: each daily row's outcome against its seal (version 6,
  :mod:`collector.registry.sql.day_seals`).
- ``attachment_blobs``, ``attachments`` and ``decision_documents``: one file per enterprise
  (一企一档): each document's bytes once by SHA-256, which enterprise's file lists it (kind,
  name, invoiced amount, who, when), and which documents a review decision saw (version 7,
  :mod:`collector.registry.sql.attachments`); all three append-only.
- ``rollup_dirty.earliest_end_ms``: the earliest window end marked since the day's last
  refresh (version 8, :mod:`collector.registry.sql.rollup_queue`); the one step that alters
  a table, so each engine runs only the steps above its file's version.

Times are stored as text (:func:`collector.registry.records.format_time`: fixed width, UTC), so
they order and compare as text; on PostgreSQL every text column is ``COLLATE "C"`` so that
comparison is byte-wise as in SQLite, whatever locale the database was created with.
Append-only (``plan_versions``, ``audit``, ``review_decisions``, ``quarantine_pruned``,
``day_seals``; no
DELETE on ``users`` and ``user_tokens``) is enforced by each engine's triggers
(:mod:`collector.registry.sqlite.schema`, :mod:`collector.registry.postgres.schema`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["SCHEMA_VERSION", "Dialect", "tables", "upgrade_statements"]

#: Bumped when a table changes (SQLite: ``PRAGMA user_version``; PostgreSQL: ``schema_version``).
#: 2: users, tokens, sessions and review decisions (the web app).
#: 3: evidence-run slots and failed-login counters (the web app's limits, issue 14).
#: 4: the quarantine's pruned counts (its retention, issue 19).
#: 5: passwords, TOTP, login delays and login challenges (people's logins, issue 21).
#: 6: day seals and their checks (sealed evidence, issue 17).
#: 7: enterprise files: documents by SHA-256, and the documents a decision saw (issue 21).
#: 8: the earliest window end marked per dirty day, for incremental rollups (issues 19, 20).
SCHEMA_VERSION = 8


@dataclass(frozen=True)
class Dialect:
    """An engine's names for the column types the tables use."""

    text: str
    integer: str
    #: An integer primary key the database numbers itself.
    identity: str
    blob: str
    #: Appended to a table with a composite primary key and no other use for a row id.
    without_rowid: str


#: Version → the tables it added (every statement IF NOT EXISTS), with ``{type}`` fields.
_STEPS: dict[int, str] = {
    1: """
CREATE TABLE IF NOT EXISTS plan_versions (
    plan_key     {text}    NOT NULL,
    version      {integer} NOT NULL,
    digest       {text}    NOT NULL,
    content      {text}    NOT NULL,
    source_name  {text}    NOT NULL,
    source_text  {text}    NOT NULL,
    loaded_at    {text}    NOT NULL,
    loaded_by    {text}    NOT NULL,
    changes      {text}    NOT NULL,
    PRIMARY KEY (plan_key, version)
);
CREATE TABLE IF NOT EXISTS agents (
    agent_id      {text} PRIMARY KEY,
    plan_key      {text} NOT NULL,
    platform      {text} NOT NULL,
    enterprise    {text} NOT NULL,
    public_key    {text} NOT NULL UNIQUE,
    devices       {text} NOT NULL,
    added_at      {text} NOT NULL,
    added_by      {text} NOT NULL,
    revoked_at    {text},
    revoked_by    {text},
    revoke_reason {text}
);
CREATE INDEX IF NOT EXISTS agents_by_enterprise ON agents (platform, enterprise);
CREATE TABLE IF NOT EXISTS audit (
    id       {identity},
    at       {text} NOT NULL,
    actor    {text} NOT NULL,
    action   {text} NOT NULL,
    subject  {text} NOT NULL,
    detail   {text} NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id           {identity},
    received_at  {text}    NOT NULL,
    topic        {text}    NOT NULL,
    reason       {text}    NOT NULL,
    detail       {text}    NOT NULL,
    agent_id     {text},
    raw          {blob}    NOT NULL,
    raw_length   {integer} NOT NULL,
    raw_sha256   {text}    NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_time ON quarantine (received_at);
CREATE INDEX IF NOT EXISTS quarantine_by_reason ON quarantine (reason, received_at);
CREATE TABLE IF NOT EXISTS agent_seqs (
    agent_id     {text}    NOT NULL,
    seq          {integer} NOT NULL,
    sha256       {text}    NOT NULL,
    first_at     {text}    NOT NULL,
    duplicates   {integer} NOT NULL DEFAULT 0,
    replays      {integer} NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, seq)
){without_rowid};
CREATE TABLE IF NOT EXISTS seq_state (
    agent_id     {text} PRIMARY KEY,
    highest_seq  {integer} NOT NULL
);
CREATE TABLE IF NOT EXISTS seq_gaps (
    id         {identity},
    agent_id   {text}    NOT NULL,
    first_seq  {integer} NOT NULL,
    last_seq   {integer} NOT NULL,
    opened_at  {text}    NOT NULL,
    closed_at  {text}
);
CREATE INDEX IF NOT EXISTS seq_gaps_open ON seq_gaps (agent_id, closed_at, first_seq);
CREATE TABLE IF NOT EXISTS agent_status (
    agent_id       {text} PRIMARY KEY,
    last_seen      {text}    NOT NULL,
    agent_version  {text}    NOT NULL,
    config_digest  {text}    NOT NULL,
    outbox_depth   {integer} NOT NULL,
    state          {text}    NOT NULL,
    updated_at     {text}    NOT NULL
);
CREATE TABLE IF NOT EXISTS rollup_dirty (
    enterprise {text}    NOT NULL,
    device     {text}    NOT NULL,
    day        {text}    NOT NULL,
    tz         {text}    NOT NULL,
    generation {integer} NOT NULL DEFAULT 1,
    PRIMARY KEY (enterprise, device, day)
);
""",
    2: """
CREATE TABLE IF NOT EXISTS users (
    user_id       {text} PRIMARY KEY,
    display_name  {text} NOT NULL,
    role          {text} NOT NULL CHECK (role IN ('admin', 'platform', 'reviewer', 'observer')),
    platform      {text},
    province      {text},
    created_at    {text} NOT NULL,
    created_by    {text} NOT NULL,
    disabled_at   {text},
    disabled_by   {text}
);
CREATE TABLE IF NOT EXISTS user_tokens (
    token_id       {text} PRIMARY KEY,
    user_id        {text} NOT NULL REFERENCES users (user_id),
    secret_sha256  {text} NOT NULL,
    label          {text} NOT NULL,
    created_at     {text} NOT NULL,
    created_by     {text} NOT NULL,
    expires_at     {text},
    revoked_at     {text},
    revoked_by     {text}
);
CREATE INDEX IF NOT EXISTS user_tokens_by_user ON user_tokens (user_id);
CREATE TABLE IF NOT EXISTS web_sessions (
    session_sha256  {text} PRIMARY KEY,
    token_id        {text} NOT NULL,
    csrf            {text} NOT NULL,
    created_at      {text} NOT NULL,
    expires_at      {text} NOT NULL
);
CREATE TABLE IF NOT EXISTS review_decisions (
    id               {identity},
    platform         {text} NOT NULL,
    enterprise       {text} NOT NULL,
    bundle_sha256    {text} NOT NULL,
    evidence_status  {text} NOT NULL,
    outcome          {text} NOT NULL CHECK (outcome IN ('pass', 'fail', 'rectify')),
    comment          {text} NOT NULL,
    decided_at       {text} NOT NULL,
    decided_by       {text} NOT NULL,
    supersedes       {integer} REFERENCES review_decisions (id)
);
CREATE INDEX IF NOT EXISTS review_decisions_by_enterprise
    ON review_decisions (enterprise, id);
""",
    3: """
CREATE TABLE IF NOT EXISTS evidence_slots (
    slot_id      {text} PRIMARY KEY,
    user_id      {text} NOT NULL,
    platform     {text} NOT NULL,
    enterprise   {text} NOT NULL,
    holder       {text} NOT NULL,
    state        {text} NOT NULL CHECK (state IN ('waiting', 'running')),
    claimed_at   {text} NOT NULL,
    lease_until  {text} NOT NULL
);
CREATE INDEX IF NOT EXISTS evidence_slots_by_lease ON evidence_slots (lease_until);
CREATE TABLE IF NOT EXISTS login_failures (
    key           {text} PRIMARY KEY,
    window_start  {text}    NOT NULL,
    failures      {integer} NOT NULL,
    locked_until  {text}
);
""",
    4: """
CREATE TABLE IF NOT EXISTS quarantine_pruned (
    id                 {identity},
    pruned_at          {text}    NOT NULL,
    topic              {text}    NOT NULL,
    agent_id           {text},
    reason             {text}    NOT NULL,
    first_received_at  {text}    NOT NULL,
    last_received_at   {text}    NOT NULL,
    messages           {integer} NOT NULL
);
""",
    5: """
CREATE TABLE IF NOT EXISTS user_passwords (
    user_id         {text} PRIMARY KEY REFERENCES users (user_id),
    password_hash   {text}    NOT NULL,
    must_change     {integer} NOT NULL,
    set_at          {text}    NOT NULL,
    set_by          {text}    NOT NULL,
    totp_secret     {text},
    totp_since      {text},
    totp_last_step  {integer} NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS login_delays (
    key       {text} PRIMARY KEY,
    failures  {integer} NOT NULL,
    last_at   {text}    NOT NULL
);
CREATE TABLE IF NOT EXISTS login_challenges (
    challenge_sha256  {text} PRIMARY KEY,
    user_id           {text} NOT NULL,
    kind              {text} NOT NULL CHECK (kind IN ('totp', 'change')),
    expires_at        {text} NOT NULL
);
""",
    6: """
CREATE TABLE IF NOT EXISTS day_seals (
    seal_sha256        {text} PRIMARY KEY,
    agent_id           {text}    NOT NULL,
    platform           {text}    NOT NULL,
    enterprise         {text}    NOT NULL,
    device             {text}    NOT NULL,
    day                {text}    NOT NULL,
    tz                 {text}    NOT NULL,
    version            {integer} NOT NULL,
    chain_index        {integer} NOT NULL,
    prev_sha256        {text},
    supersedes_sha256  {text},
    seq                {integer} NOT NULL,
    received_at        {text}    NOT NULL,
    raw                {blob}    NOT NULL,
    UNIQUE (agent_id, device, chain_index)
);
CREATE INDEX IF NOT EXISTS day_seals_by_day ON day_seals (enterprise, device, day, version);
CREATE TABLE IF NOT EXISTS day_checks (
    agent_id      {text}    NOT NULL,
    device        {text}    NOT NULL,
    provenance    {text}    NOT NULL,
    day           {text}    NOT NULL,
    platform      {text}    NOT NULL,
    enterprise    {text}    NOT NULL,
    outcome       {text}    NOT NULL
        CHECK (outcome IN ('sealed_equal', 'sealed_different', 'unsealed')),
    seal_sha256   {text},
    differences   {text}    NOT NULL,
    root_checked  {integer} NOT NULL,
    checked_at    {text}    NOT NULL,
    checked_by    {text}    NOT NULL CHECK (checked_by IN ('refresh', 'evidence')),
    PRIMARY KEY (agent_id, device, provenance, day)
){without_rowid};
CREATE INDEX IF NOT EXISTS day_checks_by_outcome ON day_checks (enterprise, outcome, day);
""",
    # Self-contained: new tables only, nothing of an earlier step altered.
    7: """
CREATE TABLE IF NOT EXISTS attachment_blobs (
    sha256      {text}    PRIMARY KEY,
    media_type  {text}    NOT NULL
        CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    size_bytes  {integer} NOT NULL,
    content     {blob}    NOT NULL,
    stored_at   {text}    NOT NULL,
    stored_by   {text}    NOT NULL
);
CREATE TABLE IF NOT EXISTS attachments (
    id           {identity},
    platform     {text}    NOT NULL,
    enterprise   {text}    NOT NULL,
    sha256       {text}    NOT NULL REFERENCES attachment_blobs (sha256),
    kind         {text}    NOT NULL
        CHECK (kind IN ('contract', 'invoice', 'payment_proof', 'summary_report')),
    name         {text}    NOT NULL,
    amount_fen   {integer},
    attached_at  {text}    NOT NULL,
    attached_by  {text}    NOT NULL,
    CHECK ((kind = 'invoice') = (amount_fen IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS attachments_by_enterprise ON attachments (enterprise, sha256);
CREATE TABLE IF NOT EXISTS attachment_withdrawals (
    attachment_id  {integer} PRIMARY KEY REFERENCES attachments (id),
    reason         {text}    NOT NULL,
    withdrawn_at   {text}    NOT NULL,
    withdrawn_by   {text}    NOT NULL
);
CREATE TABLE IF NOT EXISTS decision_documents (
    decision_id  {integer} NOT NULL REFERENCES review_decisions (id),
    sha256       {text}    NOT NULL,
    PRIMARY KEY (decision_id, sha256)
){without_rowid};
""",
    # A column, not a table: run once, on a database of version 7 or less (no IF NOT EXISTS
    # for columns on SQLite), after step 1 made the table.
    8: """
ALTER TABLE rollup_dirty ADD COLUMN earliest_end_ms {integer};
""",
}


#: The steps that alter a table rather than create one: not idempotent (SQLite has no ``ADD
#: COLUMN IF NOT EXISTS``), so run only on a database older than the step.
_ALTER_STEPS = frozenset({8})


def upgrade_statements(dialect: Dialect, version: int) -> list[str]:
    """What a database of ``version`` runs to reach SCHEMA_VERSION: every CREATE step (each IF
    NOT EXISTS, a no-op where the table is, and whatever a file of its version lacks) and the
    ALTER steps above ``version``, in step order (a table is created before it is altered)."""
    return _statements(dialect, [s for s in _STEPS if s not in _ALTER_STEPS or s > version])


def tables(dialect: Dialect, *, above: int = 0, upto: int = SCHEMA_VERSION) -> list[str]:
    """The CREATE statements of the versions above ``above`` up to ``upto``, in order, in
    ``dialect``."""
    return _statements(dialect, [step for step in _STEPS if above < step <= upto])


def _statements(dialect: Dialect, steps: list[int]) -> list[str]:
    """The statements of ``steps``, in step order, in ``dialect``'s types."""
    script = "".join(_STEPS[step] for step in sorted(steps))
    return [
        part.strip() + ";" for part in script.format(**asdict(dialect)).split(";") if part.strip()
    ]
