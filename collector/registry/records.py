"""What the registry returns: frozen, typed records, and the one form of time it stores.

Times are aware UTC datetimes in Python and ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text in SQLite, a
form that sorts as text in time order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from collector.plan import Plan
from contract import wire

__all__ = [
    "AgentEntry",
    "AgentStatus",
    "AuditEntry",
    "PlanLoadResult",
    "PlanVersion",
    "PlanVersionInfo",
    "QuarantineEntry",
    "SeqGap",
    "SeqOutcome",
    "SeqSummary",
    "format_time",
    "parse_time",
]

#: What :meth:`Registry.record_seq` found: a seq not seen before, the same content again
#: (an MQTT re-delivery: write again idempotently and ack), or different content under a seq
#: already seen (quarantine it as ``replay``).
SeqOutcome = Literal["new", "duplicate", "replay"]


#: ``len("2026-01-31T08:00:00.000000Z")``: the one shape :func:`format_time` writes.
_STORED_TIME_LENGTH = 27


def format_time(moment: dt.datetime) -> str:
    """Stored form of an aware datetime: UTC, microseconds, ``Z``.

    Raises ValueError if naive, or if in UTC it falls outside the years 1-9999 (9999-12-31
    at UTC-23:59 is 10000-01-01 in UTC: datetime cannot hold it).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"got the naive datetime {moment.isoformat()}, expected an aware one")
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(
            f"got {moment.isoformat()}, which is outside the years 1-9999 in UTC"
        ) from None
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> dt.datetime:
    """Inverse of :func:`format_time`.

    The usual shape (a four-digit year: 27 characters, ``T``, ``.``, ``Z``) is read by
    ``fromisoformat``, about fifty times faster than ``strptime``, which mattered once a page read
    every ``day_checks`` row of a fleet (0.76 s for 10,950 rows, 60 % of it here). Anything else,
    such as the unpadded year ``strftime`` writes before 1000, goes through the same ``strptime``
    pattern as before, so exactly the same texts are accepted.

    Raises ValueError if ``text`` is not a time :func:`format_time` could have written.
    """
    if len(text) == _STORED_TIME_LENGTH and text[10] == "T" and text[19] == "." and text[26] == "Z":
        return dt.datetime.fromisoformat(text)
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def _maybe_time(text: str | None) -> dt.datetime | None:
    return None if text is None else parse_time(text)


@dataclass(frozen=True, slots=True)
class AgentEntry:
    """A registered agent: where it belongs, its key, its devices, and whether it is revoked."""

    agent_id: str
    plan_key: str
    platform: str
    enterprise: str
    public_key: str
    devices: tuple[str, ...]
    added_at: dt.datetime
    added_by: str
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None

    @property
    def revoked(self) -> bool:
        """True once the agent is revoked: its messages are quarantined as ``revoked_key``."""
        return self.revoked_at is not None

    def revoked_as_of(self, moment: dt.datetime) -> bool:
        """True if the agent was revoked at or before ``moment``."""
        return self.revoked_at is not None and self.revoked_at <= moment

    def key(self) -> Ed25519PublicKey:
        """The public key as a cryptography object, for :func:`contract.wire.verify`."""
        return wire.public_key_from_text(self.public_key)


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """What an agent last said about itself (its status message)."""

    agent_id: str
    last_seen: dt.datetime
    agent_version: str
    config_digest: str
    outbox_depth: int
    state: str
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change to the registry: when, who, what, on what, and its details (JSON text)."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    detail: str


@dataclass(frozen=True, slots=True)
class PlanVersionInfo:
    """One version of a plan, without its content: who loaded it, when, what changed."""

    plan_key: str
    version: int
    digest: str
    source_name: str
    loaded_at: dt.datetime
    loaded_by: str
    changes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlanVersion:
    """One version of a plan with its validated content and the YAML text it was loaded from."""

    info: PlanVersionInfo
    plan: Plan
    source_text: str


@dataclass(frozen=True, slots=True)
class PlanLoadResult:
    """What ``plan load`` did: the version now current, whether it is new, and what changed."""

    plan_key: str
    version: int
    created: bool
    changes: tuple[str, ...]
    agents_added: tuple[str, ...]
    agents_updated: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A rejected message: ``raw`` holds at most the first QUARANTINE_RAW_LIMIT bytes.

    ``raw_length`` and ``raw_sha256`` are of the whole message as received. ``raw`` is empty
    in listings (:meth:`Registry.quarantine_list`) and filled by :meth:`Registry.quarantine_get`.
    """

    id: int
    received_at: dt.datetime
    topic: str
    reason: str
    detail: str
    agent_id: str | None
    raw_length: int
    raw_sha256: str
    raw: bytes = b""

    @property
    def truncated(self) -> bool:
        """True if the stored bytes are shorter than the message was."""
        return len(self.raw) < self.raw_length


@dataclass(frozen=True, slots=True)
class SeqGap:
    """Seqs ``first_seq..last_seq`` (inclusive) missing below the highest seq seen.

    ``closed_at`` is set when the last missing seq of the range arrived. A seq arriving inside
    a range splits it: both parts keep the range's ``opened_at``.
    """

    agent_id: str
    first_seq: int
    last_seq: int
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None

    @property
    def missing(self) -> int:
        """Number of seqs in the range."""
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True, slots=True)
class SeqSummary:
    """One agent's sequence bookkeeping at a glance, for the fleet view.

    ``last_received_at`` is when the collector first received the agent's highest seq (the
    newest batch); ``open_gaps`` and ``missing_seqs`` count the ranges still open and the seqs
    in them.
    """

    agent_id: str
    highest_seq: int
    last_received_at: dt.datetime | None
    open_gaps: int
    missing_seqs: int
