"""Evidence-run slots: ``evidence_slots``, one row per queued or running evidence run.

A claim sweeps expired leases, checks the limits and inserts the slot in one write
transaction, so two replicas cannot both take the last place. What a slot is and why it is a
lease: :mod:`collector.registry.runs`.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Sequence

from collector.registry.core import utc_now
from collector.registry.records import format_time, parse_time
from collector.registry.runs import Refusal, RunSlot, SlotClaim, SlotState, check_limits
from collector.registry.sql.database import Connection, Database

__all__ = ["SqlRunSlots"]

log = logging.getLogger(__name__)

_COLUMNS = "slot_id, user_id, platform, enterprise, holder, state, claimed_at, lease_until"


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


def _count(conn: Connection, where: str = "", *params: str) -> int:
    query = "SELECT count(*) FROM evidence_slots" + where  # noqa: S608 - literals only
    return int(conn.execute(query, params).fetchone()[0])


def _refusal(
    conn: Connection,
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


class SqlRunSlots:
    """Evidence-run slots held by the web replicas, each a lease."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def claim(
        self,
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
        check_limits(per_user, per_enterprise, queue, lease_s)
        moment = now or utc_now()
        at, until = format_time(moment), format_time(moment + dt.timedelta(seconds=lease_s))
        with self._db.write("run_slots") as conn:
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

    def renew(
        self,
        slot_id: str,
        *,
        lease_s: float,
        state: SlotState | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Extend a slot's lease (and set its state); False if the slot is gone (it expired)."""
        moment = now or utc_now()
        until = format_time(moment + dt.timedelta(seconds=lease_s))
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE evidence_slots SET lease_until = ?, state = coalesce(?, state) "
                "WHERE slot_id = ?",
                (until, state, slot_id),
            )
            return cursor.rowcount > 0

    def release(self, slot_id: str) -> None:
        """Give the slot back (its worker has finished); nothing if it is already gone."""
        with self._db.write() as conn:
            conn.execute("DELETE FROM evidence_slots WHERE slot_id = ?", (slot_id,))

    def live(self, *, now: dt.datetime | None = None) -> list[RunSlot]:
        """Slots whose lease has not expired, oldest claim first."""
        at = format_time(now or utc_now())
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM evidence_slots WHERE lease_until > ? "  # noqa: S608 - literal
                "ORDER BY claimed_at, slot_id",
                (at,),
            ).fetchall()
        return [_slot(row) for row in rows]
