"""Evidence-run slots (a :class:`Registry` mixin): which runs of the evidence engine are queued.

An evidence run is CPU-bound for tens of seconds and stores a bundle of about 1.6 MB, so the
web app admits one only if the registry has room for it: at most ``per_enterprise`` slots per
enterprise, ``per_user`` per user and ``queue`` in all (running and waiting). The slots live
in the registry, not in a process, so every web replica on every host counts the same ones.

Each slot is a lease: the replica holding it renews it while its worker runs and deletes it
when the worker has finished (not when the request that asked for it gives up). A replica that
crashes stops renewing; its slots expire and the next claim sweeps them, so the queue cannot be
blocked for good by a dead process.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from collector.registry.core import RegistryCore, utc_now
from collector.registry.records import format_time, parse_time

__all__ = ["TABLES", "RunSlot", "RunSlotsMixin", "SlotClaim"]

log = logging.getLogger(__name__)

TABLES = """
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
"""

_COLUMNS = "slot_id, user_id, platform, enterprise, holder, state, claimed_at, lease_until"

SlotState = Literal["waiting", "running"]
#: Why a claim was refused: the enterprise has a run, the user has their share, the queue is full.
Refusal = Literal["enterprise", "user", "queue"]


@dataclass(frozen=True, slots=True)
class RunSlot:
    """A held slot: whose run, of which enterprise, on which replica, until when (lease)."""

    slot_id: str
    user_id: str
    platform: str
    enterprise: str
    holder: str
    state: SlotState
    claimed_at: dt.datetime
    lease_until: dt.datetime


@dataclass(frozen=True, slots=True)
class SlotClaim:
    """The answer to a claim: the slot, or why there was no room (``held`` of ``limit``)."""

    slot: RunSlot | None
    refused: Refusal | None = None
    held: int = 0
    limit: int = 0

    @property
    def ok(self) -> bool:
        """True if a slot was granted."""
        return self.slot is not None


def _slot(row: Sequence[object]) -> RunSlot:
    slot_id, user_id, platform, enterprise, holder, state, claimed_at, lease_until = row
    return RunSlot(
        slot_id=str(slot_id),
        user_id=str(user_id),
        platform=str(platform),
        enterprise=str(enterprise),
        holder=str(holder),
        state=state,  # type: ignore[arg-type]  # CHECK constraint keeps it waiting or running
        claimed_at=parse_time(str(claimed_at)),
        lease_until=parse_time(str(lease_until)),
    )


def _count(conn: sqlite3.Connection, where: str = "", *params: str) -> int:
    query = "SELECT count(*) FROM evidence_slots" + where  # noqa: S608 - literals only
    return int(conn.execute(query, params).fetchone()[0])


def _refusal(
    conn: sqlite3.Connection,
    user: str,
    platform: str,
    enterprise: str,
    limits: tuple[int, int, int],
) -> SlotClaim | None:
    per_user, per_enterprise, queue = limits
    checks: tuple[tuple[Refusal, int, int], ...] = (
        (
            "enterprise",
            _count(conn, " WHERE platform = ? AND enterprise = ?", platform, enterprise),
            per_enterprise,
        ),
        ("user", _count(conn, " WHERE user_id = ?", user), per_user),
        ("queue", _count(conn), queue),
    )
    for reason, held, limit in checks:
        if held >= limit:
            return SlotClaim(None, reason, held, limit)
    return None


def _check_limits(per_user: int, per_enterprise: int, queue: int, lease_s: float) -> None:
    if min(per_user, per_enterprise, queue) < 1 or lease_s <= 0:
        raise ValueError(
            f"got per_user={per_user}, per_enterprise={per_enterprise}, queue={queue}, "
            f"lease_s={lease_s}: expected limits of at least 1 and a positive lease"
        )


class RunSlotsMixin:
    """Evidence-run slots; mixed into :class:`~collector.registry.store.Registry`."""

    def claim_run_slot(
        self: RegistryCore,
        *,
        user: str,
        platform: str,
        enterprise: str,
        holder: str,
        per_user: int,
        per_enterprise: int,
        queue: int,
        lease_s: float,
        now: dt.datetime | None = None,
    ) -> SlotClaim:
        """Take a waiting slot for a run if the limits leave room; else say which limit is full.

        Expired leases (crashed replicas) are swept first, in the same transaction, so their
        slots count no more. Raises ValueError for a limit below 1 or a lease not above 0.
        """
        _check_limits(per_user, per_enterprise, queue, lease_s)
        moment = now or utc_now()
        at, until = format_time(moment), format_time(moment + dt.timedelta(seconds=lease_s))
        with self._write() as conn:
            swept = conn.execute("DELETE FROM evidence_slots WHERE lease_until <= ?", (at,))
            if swept.rowcount:
                log.warning("evidence slots: %d expired lease(s) reclaimed", swept.rowcount)
            refused = _refusal(conn, user, platform, enterprise, (per_user, per_enterprise, queue))
            if refused is not None:
                return refused
            slot_id = secrets.token_hex(8)
            conn.execute(
                f"INSERT INTO evidence_slots ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, 'waiting', ?, ?)",  # noqa: S608 - literal
                (slot_id, user, platform, enterprise, holder[:200], at, until),
            )
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM evidence_slots WHERE slot_id = ?",  # noqa: S608 - literal
                (slot_id,),
            ).fetchone()
        return SlotClaim(_slot(row))

    def renew_run_slot(
        self: RegistryCore,
        slot_id: str,
        *,
        lease_s: float,
        state: SlotState | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Extend a slot's lease (and set its state); False if the slot is gone (it expired)."""
        moment = now or utc_now()
        until = format_time(moment + dt.timedelta(seconds=lease_s))
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE evidence_slots SET lease_until = ?, state = coalesce(?, state) "
                "WHERE slot_id = ?",
                (until, state, slot_id),
            )
            return cursor.rowcount > 0

    def release_run_slot(self: RegistryCore, slot_id: str) -> None:
        """Give the slot back (its worker has finished); nothing if it is already gone."""
        with self._write() as conn:
            conn.execute("DELETE FROM evidence_slots WHERE slot_id = ?", (slot_id,))

    def run_slots(self: RegistryCore, *, now: dt.datetime | None = None) -> list[RunSlot]:
        """Slots whose lease has not expired, oldest claim first."""
        at = format_time(now or utc_now())
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM evidence_slots WHERE lease_until > ? "  # noqa: S608 - literal
                "ORDER BY claimed_at, slot_id",
                (at,),
            ).fetchall()
        return [_slot(row) for row in rows]
