"""Review decisions (审核结论): pass, fail or rectify, on one evidence bundle: record and checks.

A reviewer decides on an enterprise's evidence as it stood in one bundle, named by the SHA-256
of its ``manifest.json``: the decision can always be traced to the exact figures it was made
on. It also records which documents of the enterprise's file (一企一档: contract, invoices, payment
proofs, summary report) the reviewer saw, by their SHA-256 (``decision_documents``). Decisions
are append-only (triggers abort UPDATE and DELETE): a new decision on the same enterprise
supersedes the previous one, which stays, and each one is written to the audit log in the same
transaction.

``rectify`` (整改) says the enterprise must fix its retrofit and be reviewed again on a
rectification attempt; ``fail`` ends its review; ``pass`` counts it towards its platform's
minimum of 10 and subsidy.

The table is :mod:`collector.registry.sql.decisions`'s.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = [
    "MAX_COMMENT_CHARS",
    "MAX_DOCUMENTS",
    "OUTCOMES",
    "Decision",
    "Outcome",
    "checked_decision",
    "checked_documents",
]

Outcome = Literal["pass", "fail", "rectify"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
#: Longest comment kept, in characters: a page of reasons, not a document.
MAX_COMMENT_CHARS = 4000
#: Most documents one decision may cite: far more than an enterprise's file holds.
MAX_DOCUMENTS = 1000
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


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
    #: The SHA-256s of the enterprise's documents the reviewer saw, sorted.
    documents: tuple[str, ...] = ()


def _checked_comment(comment: str) -> str:
    text = comment.strip()
    if not text:
        raise ValueError("expected a comment: a decision says why")
    if len(text) > MAX_COMMENT_CHARS:
        raise ValueError(f"got a comment of {len(text)} characters, expected at most 4000")
    return text


def checked_decision(outcome: str, bundle_sha256: str, comment: str, by: str) -> tuple[str, str]:
    """(comment, who decides), stripped; ValueError for an unknown outcome, a malformed bundle
    hash, an empty or overlong comment, or nobody deciding."""
    if outcome not in OUTCOMES:
        raise ValueError(f"got outcome {outcome[:40]!r}, expected one of pass, fail, rectify")
    if not _SHA256_RE.fullmatch(bundle_sha256):
        raise ValueError("expected the bundle's manifest SHA-256 as 64 lowercase hex digits")
    text = _checked_comment(comment)
    actor = by.strip()
    if not actor:
        raise ValueError("expected who decides")
    return text, actor


def checked_documents(documents: Sequence[str]) -> tuple[str, ...]:
    """The documents' SHA-256s, sorted, each once; ValueError for a malformed one or too
    many."""
    if len(documents) > MAX_DOCUMENTS:
        raise ValueError(f"got {len(documents)} documents, expected at most {MAX_DOCUMENTS}")
    for sha256 in documents:
        if not _SHA256_RE.fullmatch(sha256):
            raise ValueError(
                f"got document {sha256[:70]!r}, expected a SHA-256 as 64 lowercase hex digits"
            )
    return tuple(sorted(set(documents)))
