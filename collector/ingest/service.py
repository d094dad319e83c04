"""The ingest process: one replica, its metrics endpoint and the dashboards' fleet feed.

``retrofit-collector ingest`` builds an :class:`IngestService` from the collector's
configuration and runs it until SIGTERM or SIGINT. :meth:`IngestService.run` opens InfluxDB
(creating the database and retention policies where the configuration manages them) and the
registry, starts the metrics endpoint, then runs the replica and the fleet feed as the tasks
of one ``asyncio.TaskGroup``. When the replica stops (its session kept, or ended by
``--retire``) the feed is cancelled, then the metrics endpoint closes.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collector.dashboards.feed import run_fleet_feed
from collector.ingest.metrics import ingest_health, render_ingest_metrics
from collector.ingest.replica import Ingest
from collector.ingest.settings import IngestSettings
from collector.registry import Registry, RegistryLocation
from collector.store import InfluxStore
from contract.metrics import MetricsServer

if TYPE_CHECKING:
    from collector.config import CollectorConfig

__all__ = ["IngestService", "tune_gc_for_ingest"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)


def tune_gc_for_ingest() -> None:
    """Set this process's garbage collector for ingest; call once, after the imports.

    Every window allocates a few dozen short-lived objects (pydantic models, dicts, strings)
    and almost none live in cycles, yet CPython 3.11 runs a young collection every 700
    allocations and now and then a full one over every object of the process (~100,000 from
    imports alone). Freezing what exists at start-up keeps full collections off those, and a
    young generation of 10,000 collects a tenth as often: ~5-8 % of ingest's CPU in a
    micro-profile. Cyclic garbage is still collected, only less often.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@dataclass(frozen=True, kw_only=True)
class IngestService:
    """One ingest process: ``await run()`` until stopped.

    ``store`` makes the InfluxDB client (one per run, closed after it); ``metrics_port`` None
    serves no metrics; ``fleet_snapshot_s`` 0 writes no fleet snapshots (nor does a retiring
    replica).
    """

    settings: IngestSettings
    registry_path: RegistryLocation
    store: Callable[[], InfluxStore]
    metrics_port: int | None = None
    fleet_snapshot_s: float = 0.0

    @classmethod
    def from_config(
        cls, config: CollectorConfig, *, client_id: str | None = None, retire: bool = False
    ) -> IngestService:
        """The service ``config`` describes (``client_id`` overrides the file's)."""
        return cls(
            settings=config.ingest_settings(client_id, retire=retire),
            registry_path=config.registry,
            store=config.store,
            metrics_port=config.ingest.metrics_port,
            fleet_snapshot_s=config.ingest.fleet_snapshot_s,
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Ingest until ``stop`` is set; None: until SIGTERM or SIGINT.

        Raises StoreError when InfluxDB cannot be prepared at start, CollectorError when the
        registry cannot be opened, and whatever stopped the replica (it is logged there).
        """
        async with self.store() as store:
            await store.ensure_database()
            await store.ensure_retention()
            with Registry(self.registry_path) as registry:
                replica = Ingest(self.settings, registry, store)
                metrics = await self._start_metrics(replica)
                try:
                    if stop is None:
                        stop = _until_signalled()
                    await self._run_tasks(replica, registry, store, stop)
                finally:
                    if metrics is not None:
                        await metrics.stop()

    async def _start_metrics(self, replica: Ingest) -> MetricsServer | None:
        if self.metrics_port is None:
            return None
        metrics = MetricsServer(
            lambda: render_ingest_metrics(replica),
            lambda: ingest_health(replica),
            self.metrics_port,
        )
        await metrics.start()
        return metrics

    async def _run_tasks(
        self, replica: Ingest, registry: Registry, store: InfluxStore, stop: asyncio.Event
    ) -> None:
        """The replica and the fleet feed in one TaskGroup; the feed ends with the replica."""
        failure: BaseException | None = None
        try:
            async with asyncio.TaskGroup() as tasks:
                replica_task = tasks.create_task(replica.run(stop), name="replica")
                if self.fleet_snapshot_s > 0 and not self.settings.retire:
                    feed = tasks.create_task(self._fleet_feed(registry, store), name="fleet feed")
                    replica_task.add_done_callback(lambda _: feed.cancel())
        except BaseExceptionGroup as group:
            failure = _sole(group)
        if failure is not None:
            # Raised outside the handler, so the error reads as the replica raised it, with
            # no group around it: the command maps CollectorError and StoreError to exit 4.
            raise failure

    async def _fleet_feed(self, registry: Registry, store: InfluxStore) -> None:
        """The dashboards' fleet view (collector/dashboards/feed.py), beside the replica.

        A failure there is logged and never stops the ingest: run_fleet_feed logs and retries
        the errors it expects, and anything else ends the feed alone.
        """
        try:
            await run_fleet_feed(registry, store, every_s=self.fleet_snapshot_s)
        except Exception:
            log.exception("fleet feed stopped by an unexpected error; ingest goes on without it")


def _until_signalled() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT: the way a service manager or Ctrl-C stops ingest."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error inside nested single-error groups; the group itself when there are more."""
    failure: BaseException = group
    while isinstance(failure, BaseExceptionGroup) and len(failure.exceptions) == 1:
        failure = failure.exceptions[0]
    return failure
