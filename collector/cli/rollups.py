"""``retrofit-collector rollups``: the daily rollups in InfluxDB."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli._common import (
    EXIT_UNREADABLE,
    ConfigOption,
    console,
    err_console,
    error_exit,
    load_config,
    run_or_exit,
)
from contract.terminal import say

if TYPE_CHECKING:
    from collector.config import CollectorConfig
    from collector.registry import Registry
    from collector.store import DayKey

__all__ = ["register"]

rollups_app = typer.Typer(help="Daily rollups in InfluxDB.", no_args_is_help=True)


@rollups_app.command("refresh")
def rollups_refresh(
    enterprise: Annotated[str, typer.Argument(help="Enterprise id.")],
    start: Annotated[str, typer.Option("--from", help="First local day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last local day, YYYY-MM-DD.")],
    config: ConfigOption = Path("collector.yaml"),
) -> None:
    """Recompute an enterprise's daily rollups from its raw windows (idempotent repair), then
    check each refreshed row against its day seal, as the ingest does after its refreshes.

    Exit codes: 0 refreshed and checked (a row that differs from its seal is reported and
    recorded, not an error), 2 a day that is not YYYY-MM-DD, 4 InfluxDB or the registry
    unavailable.
    """
    import datetime as dt

    from collector.registry import Registry
    from collector.store import DayKey

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
        keys = [
            DayKey(enterprise, device, first + dt.timedelta(days=n), zone)
            for device in devices
            for n in range((last - first).days + 1)
        ]
        outcomes = run_or_exit(_refresh_and_check(settings, registry, keys))
    say(console, f"refreshed {len(keys)} device-days of {enterprise} ({len(devices)} devices)")
    counted = ", ".join(f"{outcomes[k]} {k}" for k in ("sealed_equal", "sealed_different",
                                                        "unsealed"))  # fmt: skip
    say(console, f"checked against their day seals: {counted}")
    if outcomes["sealed_different"]:
        say(err_console, "warning: rows differ from their seals: `retrofit-collector evidence` "
            "flags them (day_seal_differs); the web app's Day seals section names each field",
            "yellow")  # fmt: skip


async def _refresh_and_check(
    settings: CollectorConfig, registry: Registry, keys: list[DayKey]
) -> Counter[str]:
    """Refresh the rollups of ``keys``, then check them against their seals: the outcomes."""
    from collector.ingest.day_checks import DayChecks
    from collector.ingest.registry_calls import RegistryCalls
    from collector.ingest.stats import IngestStats

    stats = IngestStats()
    # The ingest's own check, with its registry thread (the registry is opened for any thread).
    calls = RegistryCalls(stats)
    try:
        async with settings.store() as store:
            await store.refresh_days(keys)
            await DayChecks(registry, store, calls, stats).check(keys)
    finally:
        calls.shutdown()
    return stats.day_checks


def register(app: typer.Typer) -> None:
    """Add the ``rollups`` group to ``app``."""
    app.add_typer(rollups_app, name="rollups")
