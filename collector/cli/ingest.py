"""``retrofit-collector ingest``: signed windows from the broker into InfluxDB."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# The body below names these as collector/cli.py did; the ingest service (plan 14c) replaces it.
from collector.cli._common import ConfigOption
from collector.cli._common import error_exit as _error_exit
from collector.cli._common import load_config as _load_config
from collector.cli._common import refuse_id_collisions as _refuse_id_collisions

__all__ = ["register"]


def ingest(
    config: ConfigOption = Path("collector.yaml"),
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="This replica's MQTT client id (one per replica)."),
    ] = None,
    retire: Annotated[
        bool,
        typer.Option(
            "--retire",
            help="Retire --client-id for good: drain what its session holds, then end it.",
        ),
    ] = False,
) -> None:
    """Take signed windows from the broker into InfluxDB, acknowledging only what is stored.

    Runs until SIGTERM. Several replicas with different --client-id share the load through
    the shared subscription. With --retire it takes no new windows, stores what the
    client id's session still holds, ends the session and exits 0: the way to remove a
    replica without leaving its share of the windows queued for nobody. Exit codes:
    0 clean stop, 1/2 configuration errors, 4 the registry or InfluxDB cannot be used at start
    (also when the registry gives one platform, enterprise or agent id to two plans).
    """
    import asyncio
    import signal

    from collector.dashboards.feed import run_fleet_feed
    from collector.errors import CollectorError
    from collector.ingest import Ingest, tune_gc_for_ingest
    from collector.metrics import ingest_health, render_ingest_metrics
    from collector.registry import Registry
    from collector.store import StoreError
    from contract.metrics import MetricsServer

    settings = _load_config(config)
    _refuse_id_collisions(settings.registry)
    tune_gc_for_ingest()

    async def run() -> None:
        async with settings.store() as store:
            await store.ensure_database()
            await store.ensure_retention()
            with Registry(settings.registry) as registry:
                replica = Ingest(
                    settings.ingest_settings(client_id, retire=retire), registry, store
                )
                metrics = None
                if settings.ingest.metrics_port is not None:
                    metrics = MetricsServer(
                        lambda: render_ingest_metrics(replica),
                        lambda: ingest_health(replica),
                        settings.ingest.metrics_port,
                    )
                    await metrics.start()
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(signum, stop.set)
                # The dashboards' fleet view (collector/dashboards/feed.py): one small task
                # beside the replica; a failure there is logged and never stops the ingest.
                feed = None
                every_s = settings.ingest.fleet_snapshot_s
                if every_s > 0 and not retire:
                    feed = asyncio.create_task(
                        run_fleet_feed(registry, store, every_s=every_s), name="fleet feed"
                    )
                try:
                    await replica.run(stop)
                finally:
                    if feed is not None:
                        feed.cancel()
                        await asyncio.gather(feed, return_exceptions=True)
                    if metrics is not None:
                        await metrics.stop()

    try:
        asyncio.run(run())
    except (CollectorError, StoreError) as exc:
        raise _error_exit(exc, 4) from None


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to ``app``."""
    app.command()(ingest)
