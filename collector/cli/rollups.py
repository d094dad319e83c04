"""``retrofit-collector rollups``: the daily rollups in InfluxDB."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from collector.cli._common import (
    EXIT_UNAVAILABLE,
    EXIT_UNREADABLE,
    ConfigOption,
    console,
    error_exit,
    load_config,
)
from contract.terminal import say

__all__ = ["register"]

rollups_app = typer.Typer(help="Daily rollups in InfluxDB.", no_args_is_help=True)


@rollups_app.command("refresh")
def rollups_refresh(
    enterprise: Annotated[str, typer.Argument(help="Enterprise id.")],
    start: Annotated[str, typer.Option("--from", help="First local day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last local day, YYYY-MM-DD.")],
    config: ConfigOption = Path("collector.yaml"),
) -> None:
    """Recompute an enterprise's daily rollups from its raw windows (idempotent repair)."""
    import asyncio
    import datetime as dt

    from collector.registry import Registry
    from collector.store import DayKey, StoreError

    settings = load_config(config)
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as exc:
        raise error_exit(exc, EXIT_UNREADABLE) from None
    with Registry(settings.registry) as registry:
        zone = registry.enterprise_zone(enterprise)
        devices = sorted(
            {d for a in registry.agents() if a.enterprise == enterprise for d in a.devices}
        )

    async def refresh() -> int:
        keys = [
            DayKey(enterprise, device, first + dt.timedelta(days=n), zone)
            for device in devices
            for n in range((last - first).days + 1)
        ]
        async with settings.store() as store:
            await store.refresh_days(keys)
        return len(keys)

    try:
        count = asyncio.run(refresh())
    except StoreError as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None
    say(console, f"refreshed {count} device-days of {enterprise} ({len(devices)} devices)")


def register(app: typer.Typer) -> None:
    """Add the ``rollups`` group to ``app``."""
    app.add_typer(rollups_app, name="rollups")
