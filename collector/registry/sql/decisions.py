"""Review decisions: ``review_decisions``, append-only (triggers abort UPDATE and
DELETE).

A new decision on an enterprise supersedes the previous one, which stays; each is written to
the audit log in the same transaction, with the documents of the enterprise's file it saw
(``decision_documents``, append-only; each checked to be in the file in that transaction). What
a decision holds and the checks on it are :mod:`collector.registry.decisions`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from collector.registry.core import utc_now
from collector.registry.decisions import Decision, checked_decision, checked_documents
from collector.registry.records import format_time, parse_time
from collector.registry.sql.database import Connection, Database, audit

__all__ = ["SqlDecisionRepository"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_INSERTED = (
    "platform, enterprise, bundle_sha256, evidence_status, outcome, comment, decided_at, "
    "decided_by, supersedes"
)
_COLUMNS = "id, " + _INSERTED


def _seen(conn: Connection, decision_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The documents each decision saw, by decision id (sorted SHA-256s)."""
    seen: dict[int, list[str]] = {}
    for start in range(0, len(decision_ids), 500):  # within every engine's parameter limit
        chunk = list(decision_ids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT decision_id, sha256 FROM decision_documents "  # noqa: S608 - marks only
            f"WHERE decision_id IN ({marks}) ORDER BY decision_id, sha256",
            chunk,
        ).fetchall()
        for decision_id, sha256 in rows:
            seen.setdefault(int(decision_id), []).append(str(sha256))
    return {key: tuple(value) for key, value in seen.items()}


def _check_in_file(conn: Connection, platform: str, enterprise: str, seen: Sequence[str]) -> None:
    if not seen:
        return
    rows = conn.execute(
        "SELECT sha256 FROM attachments WHERE platform = ? AND enterprise = ? AND id NOT IN "
        "(SELECT attachment_id FROM attachment_withdrawals)",
        (platform, enterprise),
    ).fetchall()
    missing = sorted(set(seen) - {str(row[0]) for row in rows})
    if missing:
        raise ValueError(
            f"documents not in the file of {platform}/{enterprise}: "
            f"{', '.join(m[:12] + '...' for m in missing[:5])}; cite only documents it lists "
            "and has not withdrawn"
        )


def _with_documents(conn: Connection, decisions: list[Decision]) -> list[Decision]:
    seen = _seen(conn, [d.id for d in decisions])
    return [replace(d, documents=seen.get(d.id, ())) for d in decisions]


def _decision(row: Sequence[object]) -> Decision:
    (decision_id, platform, enterprise, bundle, status, outcome, comment, at, by, prior) = row
    return Decision(
        id=int(str(decision_id)),
        platform=str(platform),
        enterprise=str(enterprise),
        bundle_sha256=str(bundle),
        evidence_status=str(status),
        outcome=outcome,  # type: ignore[arg-type]  # CHECK constraint keeps it one of OUTCOMES
        comment=str(comment),
        decided_at=parse_time(str(at)),
        decided_by=str(by),
        supersedes=None if prior is None else int(str(prior)),
    )


class SqlDecisionRepository:
    """Review decisions: appended, listed per enterprise, the one in force."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def record(
        self,
        *,
        platform: str,
        enterprise: str,
        bundle_sha256: str,
        evidence_status: str,
        outcome: str,
        comment: str,
        by: str,
        now: dt.datetime | None = None,
        check_bundle: Callable[[], None] | None = None,
        documents: Sequence[str] = (),
    ) -> Decision:
        """Append a decision on the bundle ``bundle_sha256`` (see Registry.record_decision)."""
        text, actor = checked_decision(outcome, bundle_sha256, comment, by)
        seen = checked_documents(documents)
        at = format_time(now or utc_now())
        with self._db.write(f"decisions:{enterprise}") as conn:
            if check_bundle is not None:
                check_bundle()
            _check_in_file(conn, platform, enterprise, seen)
            prior = conn.execute(
                "SELECT max(id) FROM review_decisions WHERE platform = ? AND enterprise = ?",
                (platform, enterprise),
            ).fetchone()[0]
            cursor = conn.execute(
                f"INSERT INTO review_decisions ({_INSERTED}) "  # noqa: S608 - literal
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (platform, enterprise, bundle_sha256, evidence_status, outcome, text, at, actor,
                 prior),
            )  # fmt: skip
            decision_id = int(cursor.fetchone()[0])
            if seen:
                conn.executemany(
                    "INSERT INTO decision_documents (decision_id, sha256) VALUES (?, ?)",
                    [(decision_id, sha256) for sha256 in seen],
                )
            audit(
                conn, at, actor, "decision.record", f"{platform}/{enterprise}",
                decision=decision_id, outcome=outcome, bundle=bundle_sha256,
                evidence_status=evidence_status, comment=text, supersedes=prior,
                documents=list(seen),
            )  # fmt: skip
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM review_decisions WHERE id = ?",  # noqa: S608 - literal
                (decision_id,),
            ).fetchone()
        log.info(
            "decision %d on %s/%s: %s by %s, %d documents seen",
            decision_id, platform, enterprise, outcome, actor, len(seen),
        )  # fmt: skip
        return replace(_decision(row), documents=seen)

    def with_cited_bundles(self, enterprise: str, action: Callable[[frozenset[str]], _T]) -> _T:
        """Call ``action`` with the bundle ids any decision on the enterprise cites, holding the
        write lock, so no decision can cite a bundle while ``action`` runs (pruning)."""
        with self._db.write(f"decisions:{enterprise}") as conn:
            rows = conn.execute(
                "SELECT DISTINCT bundle_sha256 FROM review_decisions WHERE enterprise = ?",
                (enterprise,),
            ).fetchall()
            return action(frozenset(str(row[0]) for row in rows))

    def history(self, platform: str, enterprise: str) -> list[Decision]:
        """Every decision on an enterprise, oldest first (the last one is in force)."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM review_decisions WHERE platform = ? AND enterprise = ? "  # noqa: S608 - literal
                "ORDER BY id",
                (platform, enterprise),
            ).fetchall()
            return _with_documents(conn, [_decision(row) for row in rows])

    def latest(self) -> dict[tuple[str, str], Decision]:
        """The decision in force per (platform, enterprise)."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM review_decisions WHERE id IN "  # noqa: S608 - literal
                "(SELECT max(id) FROM review_decisions GROUP BY platform, enterprise)"
            ).fetchall()
            decisions = _with_documents(conn, [_decision(row) for row in rows])
        return {(d.platform, d.enterprise): d for d in decisions}
