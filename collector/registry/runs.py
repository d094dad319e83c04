"""Evidence-run slots: which runs of the evidence engine are queued, and their limits.

An evidence run is CPU-bound for tens of seconds and stores a bundle of about 1.6 MB, so the
web app admits one only if the registry has room for it: at most ``per_enterprise`` slots per
enterprise, ``per_user`` per user and ``queue`` in all (running and waiting). The slots live
in the registry, not in a process, so every web replica on every host counts the same ones.

Each slot is a lease: the replica holding it renews it while its worker runs and deletes it
when the worker has finished (not when the request that asked for it gives up). A replica that
crashes stops renewing; its slots expire and the next claim sweeps them, so the queue cannot be
blocked for good by a dead process. The SQLite table is
:mod:`collector.registry.sql.run_slots`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

__all__ = ["Refusal", "RunSlot", "SlotClaim", "SlotState", "check_limits"]

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


def check_limits(per_user: int, per_enterprise: int, queue: int, lease_s: float) -> None:
    """ValueError unless every limit is at least 1 and the lease positive."""
    if min(per_user, per_enterprise, queue) < 1 or lease_s <= 0:
        raise ValueError(
            f"got per_user={per_user}, per_enterprise={per_enterprise}, queue={queue}, "
            f"lease_s={lease_s}: expected limits of at least 1 and a positive lease"
        )
