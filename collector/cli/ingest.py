"""``retrofit-collector ingest``: signed windows from the broker into InfluxDB."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli._common import ConfigOption, error_exit, load_config, refuse_id_collisions
from collector.cli.confirmation_key import check_confirmation_key

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

    from collector.errors import CollectorError
    from collector.ingest import IngestService, tune_gc_for_ingest
    from collector.store import StoreError

    settings = load_config(config)
    check_confirmation_key(settings, config)
    refuse_id_collisions(settings.registry)
    tune_gc_for_ingest()
    service = IngestService.from_config(settings, client_id=client_id, retire=retire)
    try:
        asyncio.run(service.run())
    except (CollectorError, StoreError) as exc:
        raise error_exit(exc, 4) from None


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command to ``app``."""
    app.command()(ingest)
