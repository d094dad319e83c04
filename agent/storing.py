"""Closed windows into the outbox, each device's in one transaction, held in memory if it fails.

Every device task hands the windows it closed to :meth:`WindowStore.store` and waits until they
are durable. The service and bench/agent_outbox.py both store through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.outbox import Outbox, OutboxError
from contract import wire

__all__ = ["UNSAVED_LIMIT", "WindowStore"]

log = logging.getLogger(__name__)

#: Windows kept in memory while the outbox cannot be written (disk full), before the oldest
#: in memory are dropped; each drop is logged and counted.
UNSAVED_LIMIT = 10_000


class WindowStore:
    """Stores closed windows in ``outbox`` under ``lock``, the windows of one moment together.

    ``on_stored()`` runs after each successful commit (the publisher's wake-up); ``on_error``
    gets the message when the outbox cannot be written.
    """

    def __init__(
        self,
        outbox: Outbox,
        lock: asyncio.Lock,
        *,
        on_stored: Callable[[], None] = lambda: None,
        on_error: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.outbox = outbox
        self.lock = lock
        self.on_stored = on_stored
        self.on_error = on_error
        #: Windows the outbox could not take, kept for the next commit (oldest first).
        self.unsaved: list[wire.KpiWindow] = []
        self.dropped_in_memory = 0
        self.commits = 0

    async def store(self, windows: list[wire.KpiWindow]) -> None:
        """Return once ``windows`` are in the outbox (or held in memory if it is not writable)."""
        # The held windows are taken and given back under the lock: two devices closing
        # windows at the same tick must neither both take them (stored twice) nor overwrite
        # each other's (lost).
        async with self.lock:
            await self._commit([*self.unsaved, *windows])

    async def _commit(self, batch: list[wire.KpiWindow]) -> None:
        try:
            await asyncio.to_thread(self.outbox.add_windows, batch)
        except OutboxError as exc:
            self.unsaved = batch[-UNSAVED_LIMIT:]
            lost = len(batch) - len(self.unsaved)
            self.dropped_in_memory += lost
            self.on_error(f"outbox not writable: {exc}")
            log.error(
                "outbox not writable (%s): %d windows held in memory, %d dropped",
                exc,
                len(self.unsaved),
                lost,
            )
            return
        self.commits += 1
        self.unsaved = []
        self.on_stored()
