"""Writes: admitted windows into InfluxDB, held and retried while InfluxDB is unavailable.

A batch is one InfluxDB write. Up to :data:`WRITES_IN_FLIGHT` batches are written at once
while the next is checked (docs/performance.md, #6). After a write its days are marked for a
rollup refresh (:mod:`collector.ingest.rollups`), its seqs are handed to the delivery
confirmations (:mod:`collector.ingest.confirmations`), then its messages are settled:
acknowledged in receive order. While InfluxDB is down, slow or refuses our credentials nothing
is settled, so the broker keeps the rest of the messages; a point InfluxDB refuses for good goes
to the quarantine with its message alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from collector.ingest.admission import Accepted, Quarantine, Settle
from collector.ingest.registry_calls import RegistryCalls
from collector.ingest.stats import Holding, IngestStats
from collector.store import AuthFailed, InfluxStore, NotFound, StoreError, WindowRecord

__all__ = ["WRITES_IN_FLIGHT", "Writes", "until_stored"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)

#: Batches whose InfluxDB write may be in flight at once. The receive maximum bounds what is
#: held in memory; this only bounds concurrent requests when many small batches wait.
WRITES_IN_FLIGHT = 4


class Writes:
    """Writes admitted batches; marks their days; settles their messages."""

    def __init__(
        self,
        store: InfluxStore,
        calls: RegistryCalls,
        stats: IngestStats,
        quarantine: Quarantine,
        settle: Settle,
        mark_days: Callable[[list[WindowRecord]], None],
        stored: Callable[[list[WindowRecord]], None] | None = None,
    ) -> None:
        self._influx = store
        self._calls = calls
        self._stats = stats
        self._quarantine = quarantine
        self._settle = settle
        #: Runs in the registry thread (collector.ingest.rollups.RollupQueue.mark_days).
        self._mark_days = mark_days
        #: Told what is stored, before it is settled (collector.ingest.confirmations).
        self._stored = stored

    async def write_batch(self, accepted: list[Accepted], slots: asyncio.Semaphore) -> None:
        """Store one batch, then release its slot of the :data:`WRITES_IN_FLIGHT`."""
        try:
            await self.store(accepted)
        finally:
            slots.release()

    async def store(self, accepted: list[Accepted]) -> None:
        """Write, mark the days, settle; a batch InfluxDB refuses is split to find the culprit."""
        records = [record for _, rs in accepted for record in rs]
        started = time.monotonic()
        try:
            await until_stored(lambda: self._influx.write(records), self._stats)
        except StoreError as exc:  # not retryable: InfluxDB refuses some point for good
            if len(accepted) > 1:  # find the message at fault; store the others
                for one in accepted:
                    await self.store([one])
                return
            message, _ = accepted[0]
            await self._quarantine.keep(message, "store_rejected", str(exc))
            self._settle([message])
            return
        await self._calls.run(self._mark_days, records)
        self._stats.write_latency_sum_s += time.monotonic() - started
        self._stats.written_batches += 1
        self._stats.written_records += len(records)
        self._stats.last_write_ts = time.time()
        if self._stored is not None:
            self._stored(records)
        self._settle([message for message, _ in accepted])


async def until_stored(attempt: Callable[[], Awaitable[object]], stats: IngestStats) -> None:
    """Retry ``attempt`` while InfluxDB is unavailable: nothing is acked meanwhile."""
    delay_s = 0.5
    while True:
        try:
            await attempt()
            if stats.holding is Holding.INFLUXDB:
                log.info("InfluxDB writes succeed again")
                stats.release()
            return
        except StoreError as exc:
            # Unavailable (down, slow, 5xx) and configuration faults (credentials, missing
            # database) are held, not quarantined: every message would fail alike, and
            # the fix is on our side. Only points InfluxDB refuses for good move on.
            if not (exc.retryable or isinstance(exc, AuthFailed | NotFound)):
                raise
            stats.store_retries += 1
            wait_s = exc.retry_after_s or delay_s
            if stats.holding is not Holding.INFLUXDB:
                log.warning("InfluxDB unavailable (%s); holding, retrying", exc)
            stats.hold(Holding.INFLUXDB, f"InfluxDB unavailable: {exc}")
            await asyncio.sleep(wait_s)
            delay_s = min(delay_s * 2, 15.0)
