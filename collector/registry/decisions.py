"""Review decisions (审核结论): pass, fail or rectify, on one evidence bundle (a mixin).

A reviewer decides on an enterprise's evidence as it stood in one bundle, named by the SHA-256
of its ``manifest.json``: the decision can always be traced to the exact figures it was made
on. Decisions are append-only (triggers abort UPDATE and DELETE): a new decision on the same
enterprise supersedes the previous one, which stays, and each one is written to the audit log
in the same transaction.

``rectify`` (整改) says the enterprise must fix its retrofit and be reviewed again on a
rectification attempt; ``fail`` ends its review; ``pass`` counts it towards its platform's
minimum of 10 and subsidy.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

from collector.registry.core import RegistryCore
from collector.registry.records import format_time, parse_time

__all__ = [
    "MAX_COMMENT_CHARS",
    "OUTCOMES",
    "TABLES",
    "Decision",
    "DecisionsMixin",
    "Outcome",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Outcome = Literal["pass", "fail", "rectify"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
#: Longest comment kept, in characters: a page of reasons, not a document.
MAX_COMMENT_CHARS = 4000
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

TABLES = """
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

_COLUMNS = (
    "id, platform, enterprise, bundle_sha256, evidence_status, outcome, comment, decided_at, "
    "decided_by, supersedes"
)


@dataclass(frozen=True, slots=True)
class Decision:
    """One review decision: on which bundle, what the engine said then, what the reviewer said."""

    id: int
    platform: str
    enterprise: str
    bundle_sha256: str
    evidence_status: str
    outcome: Outcome
    comment: str
    decided_at: dt.datetime
    decided_by: str
    supersedes: int | None


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


def _checked_comment(comment: str) -> str:
    text = comment.strip()
    if not text:
        raise ValueError("expected a comment: a decision says why")
    if len(text) > MAX_COMMENT_CHARS:
        raise ValueError(f"got a comment of {len(text)} characters, expected at most 4000")
    return text


class DecisionsMixin:
    """Review decisions; mixed into :class:`~collector.registry.store.Registry`."""

    def record_decision(
        self: RegistryCore,
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
    ) -> Decision:
        """Append a decision on the bundle ``bundle_sha256`` (its manifest's SHA-256).

        The caller has checked that the bundle exists and is the enterprise's; ``check_bundle``,
        if given, checks again inside the write transaction (raising to write nothing), so a
        bundle pruned meanwhile (:meth:`with_cited_bundles`) is never cited. Raises
        ValueError for an unknown outcome, a malformed hash or an empty or overlong comment.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"got outcome {outcome[:40]!r}, expected one of pass, fail, rectify")
        if not _SHA256_RE.fullmatch(bundle_sha256):
            raise ValueError("expected the bundle's manifest SHA-256 as 64 lowercase hex digits")
        text = _checked_comment(comment)
        actor = by.strip()
        if not actor:
            raise ValueError("expected who decides")
        at = format_time(now or dt.datetime.now(dt.UTC))
        with self._write() as conn:
            if check_bundle is not None:
                check_bundle()
            prior = conn.execute(
                "SELECT max(id) FROM review_decisions WHERE platform = ? AND enterprise = ?",
                (platform, enterprise),
            ).fetchone()[0]
            cursor = conn.execute(
                f"INSERT INTO review_decisions ({_COLUMNS}) "  # noqa: S608 - literal
                "VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (platform, enterprise, bundle_sha256, evidence_status, outcome, text, at, actor,
                 prior),
            )  # fmt: skip
            decision_id = int(cursor.lastrowid or 0)
            self._audit(
                conn, at, actor, "decision.record", f"{platform}/{enterprise}",
                decision=decision_id, outcome=outcome, bundle=bundle_sha256,
                evidence_status=evidence_status, comment=text, supersedes=prior,
            )  # fmt: skip
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM review_decisions WHERE id = ?",  # noqa: S608 - literal
                (decision_id,),
            ).fetchone()
        log.info(
            "decision %d on %s/%s: %s by %s", decision_id, platform, enterprise, outcome, actor
        )
        return _decision(row)

    def record_evidence_run(
        self: RegistryCore,
        *,
        platform: str,
        enterprise: str,
        bundle_sha256: str,
        status: str,
        seed: int,
        by: str,
        now: dt.datetime | None = None,
    ) -> None:
        """Write to the audit log that ``by`` ran the evidence engine and which bundle came."""
        at = format_time(now or dt.datetime.now(dt.UTC))
        with self._write() as conn:
            self._audit(
                conn, at, by.strip() or "?", "evidence.run", f"{platform}/{enterprise}",
                bundle=bundle_sha256, status=status, seed=seed,
            )  # fmt: skip

    def with_cited_bundles(
        self: RegistryCore, enterprise: str, action: Callable[[frozenset[str]], _T]
    ) -> _T:
        """Call ``action`` with the bundle ids any decision on the enterprise id cites (on any
        platform: bundles are filed by enterprise id), holding the registry's write lock, so no
        decision can cite a bundle while ``action`` runs (pruning)."""
        with self._write() as conn:
            rows = conn.execute(
                "SELECT DISTINCT bundle_sha256 FROM review_decisions WHERE enterprise = ?",
                (enterprise,),
            ).fetchall()
            return action(frozenset(str(row[0]) for row in rows))

    def decisions(self: RegistryCore, platform: str, enterprise: str) -> list[Decision]:
        """Every decision on an enterprise, oldest first (the last one is in force)."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM review_decisions WHERE platform = ? AND enterprise = ? "  # noqa: S608 - literal
                "ORDER BY id",
                (platform, enterprise),
            ).fetchall()
        return [_decision(row) for row in rows]

    def latest_decisions(self: RegistryCore) -> dict[tuple[str, str], Decision]:
        """The decision in force per (platform, enterprise)."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM review_decisions WHERE id IN "  # noqa: S608 - literal
                "(SELECT max(id) FROM review_decisions GROUP BY platform, enterprise)"
            ).fetchall()
        decisions = [_decision(row) for row in rows]
        return {(d.platform, d.enterprise): d for d in decisions}
