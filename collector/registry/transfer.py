"""Copy a SQLite registry into an empty PostgreSQL registry, and check the copy.

``retrofit-collector registry migrate --to URL`` (docs/operations.md, "Moving a registry to
PostgreSQL") runs :func:`transfer_registry`:

1. The source file is brought to this collector's schema (as any collector opening it would)
   and read in one snapshot; the target's schema is created or upgraded, with its append-only
   triggers, before anything is copied.
2. The tables are copied in :data:`TABLE_GROUPS`, one PostgreSQL transaction per group (rows
   that refer to each other travel together), each in primary-key order with ``COPY``. The
   append-only triggers stay in force: they refuse UPDATE, DELETE and TRUNCATE, and the copy
   only inserts, oldest row first, keeping every id; the identity sequences are then moved past
   the highest id copied.
3. A group whose tables are all empty in the target is copied. A group the target already
   holds exactly (same rows, same digest: a run that was killed after that group committed) is
   skipped. Anything else in the target is refused, nothing written: the copy goes only into an
   empty registry. So a killed run is **resumable**: run the same command again and it copies
   what is missing.
4. Afterwards every table is counted and digested on both sides, the source in a new snapshot
   (a collector still writing to the file during the copy shows up as a difference); only if
   every table is equal is an audit row ``registry.migrate`` written in the target, with the
   counts and digests. A second run finds that row and refuses.

The digest of a table is order-independent: the SHA-256 of the sorted SHA-256s of its rows,
each row's values encoded with their type (integer, text, bytes, null) and length. A text value
is digested in its PostgreSQL form: PostgreSQL's text cannot hold NUL, so NUL is stored as the
four characters ``\\x00`` (:mod:`collector.registry.postgres.database`), here as there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from collector.errors import ConflictError, RegistryUnavailable
from collector.registry.postgres import PostgresDatabase, display_url
from collector.registry.records import format_time
from collector.registry.sqlite import SqliteDatabase

__all__ = ["TABLE_GROUPS", "GroupCopy", "TableCheck", "TransferReport", "transfer_registry"]

#: Every registry table, in the groups copied one transaction each, in this order. Rows that
#: refer to each other (a token to its user, a decision to the one it supersedes, a seq to its
#: agent's state) are in one group. tests/collector/test_registry_transfer.py checks that the
#: groups hold every table of the schema, once.
TABLE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("plans and agents", ("plan_versions", "agents")),
    (
        "users and decisions",
        (
            "users",
            "user_tokens",
            "user_passwords",
            "web_sessions",
            "login_challenges",
            "review_decisions",
            "decision_documents",
        ),
    ),
    ("enterprise files", ("attachment_blobs", "attachments", "attachment_withdrawals")),
    ("seqs and status", ("seq_state", "agent_seqs", "seq_gaps", "agent_status", "rollup_dirty")),
    ("web app limits", ("evidence_slots", "login_failures", "login_delays")),
    ("quarantine", ("quarantine", "quarantine_pruned")),
    ("day seals", ("day_seals", "day_checks")),
    ("audit", ("audit",)),
)

#: The audit action of a finished migration: found in the target, a second run refuses.
MIGRATE_ACTION = "registry.migrate"
#: Held (advisory, per transaction) by every transaction of a migration into the target.
_LOCK = "rv-registry-migrate"
#: Rows sent per COPY buffer flush and fetched per round trip when digesting.
_BATCH_ROWS = 1000


@dataclass(frozen=True, slots=True)
class GroupCopy:
    """What happened to one group: ``copied`` (rows per table) or ``skipped`` (already there)."""

    group: str
    action: str
    rows: dict[str, int]


@dataclass(frozen=True, slots=True)
class TableCheck:
    """One table's rows and digest on each side, after the copy."""

    table: str
    source_rows: int
    target_rows: int
    source_sha256: str
    target_sha256: str

    @property
    def equal(self) -> bool:
        """Whether the target holds exactly the source's rows."""
        return (self.source_rows, self.source_sha256) == (self.target_rows, self.target_sha256)


@dataclass(frozen=True, slots=True)
class TransferReport:
    """A migration's groups and its check; ``ok`` only if every table is equal."""

    source: str
    target: str
    groups: list[GroupCopy] = field(default_factory=list)
    checks: list[TableCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every table of the target equals the source's."""
        return bool(self.checks) and all(check.equal for check in self.checks)


def transfer_registry(
    source: Path,
    target_url: str,
    *,
    password: str | None,
    by: str,
    now: dt.datetime | None = None,
    on_group: Callable[[GroupCopy], None] | None = None,
) -> TransferReport:
    """Copy the SQLite registry ``source`` into the PostgreSQL registry at ``target_url`` and
    check the copy (see the module's docstring); ``on_group`` hears of each group as it ends.

    Raises ConflictError (nothing more written) if the target holds rows the source does not
    or was migrated already, RegistryUnavailable if either database cannot be used.
    """
    if not source.is_file():
        raise RegistryUnavailable(
            f"registry {source}: no such file; give the SQLite registry to copy", retryable=False
        )
    SqliteDatabase(source, busy_timeout_s=30.0).close()  # brings the file to this schema
    PostgresDatabase(target_url, password=password, lock_timeout_s=30.0).close()  # and target
    report = TransferReport(source=str(source), target=display_url(target_url))
    at = format_time(now or dt.datetime.now(dt.UTC))
    with _source(source) as reader, _target(target_url, password) as writer:
        _refuse_if_migrated(writer, report.target)
        _refuse_foreign(reader, writer)
        for group, tables in TABLE_GROUPS:
            copied = _copy_group(reader, writer, group, tables)
            report.groups.append(copied)
            if on_group is not None:
                on_group(copied)
        reader.rollback()
        report.checks.extend(_check(reader, writer))
        if report.ok:
            _audit(writer, report, at=at, by=by)
    return report


# --- connections ------------------------------------------------------------------------------


def _failure(where: str, exc: Exception) -> RegistryUnavailable:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return RegistryUnavailable(
        f"registry {where}: {text}; run the same command again to go on from there",
        retryable=isinstance(exc, psycopg.OperationalError),
    )


@contextmanager
def _source(path: Path) -> Iterator[sqlite3.Connection]:
    """The SQLite file, read-only, in one snapshot (a deferred transaction kept open)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the snapshot
            yield conn
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise _failure(str(path), exc) from exc


@contextmanager
def _target(url: str, password: str | None) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """One psycopg connection to the target; each group's transaction is opened on it."""
    extra: dict[str, Any] = {"options": "-c TimeZone=UTC -c lock_timeout=30000"}
    if password is not None:
        extra["password"] = password
    try:
        with psycopg.connect(url, autocommit=True, **extra) as conn:
            yield conn
    except psycopg.Error as exc:
        raise _failure(display_url(url), exc) from exc


# --- copying ----------------------------------------------------------------------------------


def _columns(reader: sqlite3.Connection, table: str) -> tuple[list[str], list[str]]:
    # (every column in order, the primary key's columns in key order): the copy's column list
    # and its row order.
    info = reader.execute(f"PRAGMA table_info({table})").fetchall()
    columns = [str(row[1]) for row in info]
    key = [str(row[1]) for row in sorted((r for r in info if r[5]), key=lambda r: int(r[5]))]
    return columns, key or ["rowid"]


def _source_rows(reader: sqlite3.Connection, table: str) -> Iterator[tuple[Any, ...]]:
    columns, key = _columns(reader, table)
    yield from reader.execute(
        f"SELECT {', '.join(columns)} FROM {table} ORDER BY {', '.join(key)}"  # noqa: S608 - schema names
    )


def _target_columns(writer: psycopg.Connection[tuple[Any, ...]], table: str) -> list[str]:
    rows = writer.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(row[0]) for row in rows]


def _count(writer: psycopg.Connection[tuple[Any, ...]], table: str) -> int:
    row = writer.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    found = row.fetchone()
    return 0 if found is None else int(found[0])


def _differing(
    reader: sqlite3.Connection,
    writer: psycopg.Connection[tuple[Any, ...]],
    tables: Sequence[str],
) -> tuple[dict[str, int], list[str]]:
    # (rows per table in the target, the tables whose rows are not the source's) of a group
    # the target holds something of; ({...}, []) for a group it holds nothing of.
    held = {table: _count(writer, table) for table in tables}
    if not any(held.values()):
        return held, []
    return held, [
        f"{table} {held[table]} rows"
        for table in tables
        if _digest_source(reader, table) != _digest_target(writer, reader, table)
    ]


def _refuse_foreign(
    reader: sqlite3.Connection, writer: psycopg.Connection[tuple[Any, ...]]
) -> None:
    # Before anything is written: every group must be empty in the target, or the source's
    # exactly (an earlier run's, killed after it committed).
    differing = [d for _, tables in TABLE_GROUPS for d in _differing(reader, writer, tables)[1]]
    if differing:
        raise ConflictError(
            f"target registry is not empty and differs from the source ({', '.join(differing)}): "
            "migrate copies only into an empty registry database; nothing was written"
        )


def _copy_group(
    reader: sqlite3.Connection,
    writer: psycopg.Connection[tuple[Any, ...]],
    group: str,
    tables: Sequence[str],
) -> GroupCopy:
    with writer.transaction():
        writer.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_LOCK,))
        held, differing = _differing(reader, writer, tables)  # again, under the lock
        if differing:
            raise ConflictError(
                f"target registry changed during the migration ({', '.join(differing)}): is "
                "a collector writing to it? Nothing more was written"
            )
        if any(held.values()):
            return GroupCopy(group, "skipped", held)
        return GroupCopy(group, "copied", {t: _copy_table(reader, writer, t) for t in tables})


def _copy_table(
    reader: sqlite3.Connection, writer: psycopg.Connection[tuple[Any, ...]], table: str
) -> int:
    columns, _ = _columns(reader, table)
    if set(columns) != set(_target_columns(writer, table)):
        raise ConflictError(
            f"table {table}: the source's columns {sorted(columns)} are not the target's "
            f"{sorted(_target_columns(writer, table))}; both must be at this collector's schema"
        )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    copied = 0
    with writer.cursor() as cursor, cursor.copy(statement) as copy:
        for row in _source_rows(reader, table):
            copy.write_row(_stored(row))
            copied += 1
    if "id" in columns and copied:
        # Ids are kept; the identity's sequence must go past them, or the next insert collides.
        writer.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), max(id)) FROM {}").format(
                sql.Identifier(table)
            ),
            (table,),
        )
    return copied


def _stored(row: Iterable[Any]) -> tuple[Any, ...]:
    # PostgreSQL's text cannot hold NUL: the registry writes it as the four characters \x00.
    return tuple(
        value.replace("\x00", "\\x00") if isinstance(value, str) and "\x00" in value else value
        for value in row
    )


# --- checking ---------------------------------------------------------------------------------


def _row_sha256(row: Iterable[Any]) -> bytes:
    digest = hashlib.sha256()
    for value in _stored(row):
        if value is None:
            digest.update(b"n")
            continue
        if isinstance(value, bool | int):
            tag, data = b"i", str(int(value)).encode()
        elif isinstance(value, str):
            tag, data = b"s", value.encode("utf-8", "surrogatepass")
        elif isinstance(value, bytes | bytearray | memoryview):
            tag, data = b"b", bytes(value)
        else:
            tag, data = b"?", repr(value).encode()
        digest.update(tag + len(data).to_bytes(8, "big") + data)
    return digest.digest()


def _table_sha256(rows: Iterable[Iterable[Any]]) -> tuple[int, str]:
    hashes = sorted(_row_sha256(row) for row in rows)
    return len(hashes), hashlib.sha256(b"".join(hashes)).hexdigest()


def _digest_source(reader: sqlite3.Connection, table: str) -> tuple[int, str]:
    return _table_sha256(_source_rows(reader, table))


def _digest_target(
    writer: psycopg.Connection[tuple[Any, ...]], reader: sqlite3.Connection, table: str
) -> tuple[int, str]:
    columns, _ = _columns(reader, table)  # the source's column order, so rows encode alike
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Identifier(table)
    )
    # A server-side cursor: a table of quarantined bytes need not fit in memory at once.
    with writer.transaction(), writer.cursor(name=f"rv_digest_{table}") as cursor:
        cursor.itersize = _BATCH_ROWS
        cursor.execute(query)
        return _table_sha256(cursor)


def _check(
    reader: sqlite3.Connection, writer: psycopg.Connection[tuple[Any, ...]]
) -> list[TableCheck]:
    checks = []
    reader.execute("BEGIN")  # a new snapshot of the source: writes since the copy show
    for _, tables in TABLE_GROUPS:
        for table in tables:
            source_rows, source_sha = _digest_source(reader, table)
            target_rows, target_sha = _digest_target(writer, reader, table)
            checks.append(TableCheck(table, source_rows, target_rows, source_sha, target_sha))
    reader.rollback()
    return checks


def _refuse_if_migrated(writer: psycopg.Connection[tuple[Any, ...]], target: str) -> None:
    row = writer.execute(
        "SELECT at, actor, subject FROM audit WHERE action = %s ORDER BY id LIMIT 1",
        (MIGRATE_ACTION,),
    ).fetchone()
    if row is not None:
        at, actor, subject = row
        raise ConflictError(
            f"{target} was already migrated from {subject} at {at} by {actor} (audit "
            f"{MIGRATE_ACTION}); nothing written: migrate copies only into an empty registry"
        )


def _audit(
    writer: psycopg.Connection[tuple[Any, ...]], report: TransferReport, *, at: str, by: str
) -> None:
    detail = {c.table: {"rows": c.target_rows, "sha256": c.target_sha256} for c in report.checks}
    with writer.transaction():
        writer.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_LOCK,))
        _refuse_if_migrated(writer, report.target)  # a second migration that ran beside this
        writer.execute(
            "INSERT INTO audit (at, actor, action, subject, detail) VALUES (%s, %s, %s, %s, %s)",
            (at, by, MIGRATE_ACTION, report.source, json.dumps(detail, sort_keys=True)),
        )
