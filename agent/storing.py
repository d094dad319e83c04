"""Closed windows into the outbox: the windows that close together committed together.

Every device task hands the windows it closed to :meth:`WindowStore.store` and waits until they
are durable. Devices poll on the same clock grid, so at a window edge all of them close a
window within milliseconds: committing each device's window in its own transaction (one fsync
each, ``synchronous=FULL``) made 20 fsyncs of one edge for 20 devices, and the publisher sealed
and acknowledged the windows in as many small batches.

Group commit: a caller queues its windows, then takes the outbox lock; the holder commits every
window queued so far, its own and those of the callers queued behind it, in one transaction;
a caller whose windows an earlier holder committed returns without a transaction of its own.
Nothing waits on purpose (no timer, no added latency): the windows that arrive while one
transaction is being written go into the next.

Store and seal in one transaction: when the publisher would seal the windows next anyway
(``seal_with`` gives its batch size and envelope maker), the commit also seals the oldest pending
windows into the next batch, and ``on_sealed`` publishes it after the commit. The windows of an
edge then cost one fsync to store and seal, where they cost two; the PUBACK's delete rides in
the next transaction (:meth:`agent.outbox.Outbox.ack`). A batch is published only once its
transaction has committed, so a seq is never sent before it is durable.

What a power cut may lose is unchanged: :meth:`store` returns only after a transaction holding
the caller's windows has committed (or, when the outbox cannot be written, after they are held
in memory for the next attempt, as before), and nothing reports a window stored before that.
The service and bench/agent_outbox.py both store through here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from agent.outbox import AddResult, EnvelopeMaker, Outbox, OutboxError, SealedBatch
from contract import wire

__all__ = ["UNSAVED_LIMIT", "WindowStore"]

log = logging.getLogger(__name__)

#: Windows kept in memory while the outbox cannot be written (disk full), before the oldest
#: in memory are dropped; each drop is logged and counted.
UNSAVED_LIMIT = 10_000


class WindowStore:
    """Stores closed windows in ``outbox`` under ``lock``, the windows of one moment together.

    ``on_stored()`` runs after each successful commit (the publisher's wake-up); ``on_error``
    gets the message when the outbox cannot be written. ``seal_with()``, asked under the lock
    before each commit, says whether to seal in it (None: no); ``on_sealed`` gets the batch.
    """

    def __init__(
        self,
        outbox: Outbox,
        lock: asyncio.Lock,
        *,
        on_stored: Callable[[], None] = lambda: None,
        on_error: Callable[[str], None] = lambda _message: None,
        seal_with: Callable[[], tuple[int, EnvelopeMaker] | None] = lambda: None,
        on_sealed: Callable[[SealedBatch], None] = lambda _batch: None,
    ) -> None:
        self.outbox = outbox
        self.lock = lock
        self.on_stored = on_stored
        self.on_error = on_error
        self.seal_with = seal_with
        self.on_sealed = on_sealed
        #: Windows the outbox could not take, kept for the next commit (oldest first).
        self.unsaved: list[wire.KpiWindow] = []
        self.dropped_in_memory = 0
        self.commits = 0
        self._queue: list[wire.KpiWindow] = []
        self._queued_total = 0  # windows ever queued
        self._taken_total = 0  # windows ever taken by a finished commit attempt

    async def store(self, windows: list[wire.KpiWindow]) -> None:
        """Return once ``windows`` are in the outbox (or held in memory if it is not writable).

        An empty list commits whatever others queued and left (a stop flushes with it).
        """
        self._queue.extend(windows)
        self._queued_total += len(windows)
        mine = self._queued_total
        # The held windows are taken and given back under the lock: two commits must neither
        # both take them (stored twice) nor overwrite each other's (lost).
        async with self.lock:
            if self._taken_total >= mine:
                return  # an earlier holder committed ours with its own
            taken, upto = self._queue, self._queued_total
            self._queue = []
            await self._commit([*self.unsaved, *taken])
            self._taken_total = upto

    async def _commit(self, batch: list[wire.KpiWindow]) -> None:
        try:
            # sqlite3 blocks: the commit and its fsync run in a worker thread.
            result = await asyncio.to_thread(self._add, batch, self.seal_with())
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
        if result.sealed is not None:
            self.on_sealed(result.sealed)
        self.on_stored()

    def _add(
        self, batch: list[wire.KpiWindow], seal: tuple[int, EnvelopeMaker] | None
    ) -> AddResult:
        """Store ``batch`` and seal with it; stored alone if the seal fails (the publisher seals
        the windows later, and reports a seal that keeps failing)."""
        try:
            return self.outbox.add_windows(batch, seal=seal)
        except OutboxError:
            raise
        except Exception:
            if seal is None:
                raise
            log.exception("sealing with the store failed: %d windows stored alone", len(batch))
            return self.outbox.add_windows(batch)
