"""``retrofit-collector``: the central side's command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from collector.broker_cli import register as register_broker_commands
from collector.dashboards.cli import register as register_dashboard_commands
from collector.evidence_cli import register as register_evidence_commands
from collector.plan_cli import register as register_registry_commands
from collector.users_cli import register as register_users_commands
from contract import wire
from contract.errors import InputFileError
from contract.files import read_bounded
from contract.logs import configure_logging
from contract.terminal import say

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from collector.config import CollectorConfig

__all__ = ["app", "main"]

app = typer.Typer(
    name="retrofit-collector",
    help=(
        "Central collector for retrofit-verify: registry of the implementation plan, MQTT "
        "ingest into InfluxDB, quarantine, and the evidence reviewers use."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False,
) -> None:
    configure_logging(verbose)


@app.command("verify-message")
def verify_message(
    message: Annotated[Path, typer.Argument(help="A captured windows or status message (bytes).")],
    public_key: Annotated[
        str, typer.Option("--public-key", help="The agent's registered key, ed25519:<base64>.")
    ],
    kind: Annotated[
        str, typer.Option("--kind", help="Message kind: windows or status.")
    ] = "windows",
) -> None:
    """Check one captured message against the wire contract and an agent's public key.

    Exit code 0 if it is valid and signed by that key, 1 if not (the reason is printed; a
    file larger than the wire's limit is rejected as too_large without being read), 2 if the
    key or the file cannot be read (missing, or not a regular file: a FIFO, a device).
    """
    try:
        key = wire.public_key_from_text(public_key)
        raw = read_bounded(message, wire.MAX_MESSAGE_BYTES, expected="a captured message")
    except InputFileError as exc:
        if exc.reason == "too_large":
            say(console, f"rejected ({wire.TooLarge.code}): {exc.detail}", "red")
            raise typer.Exit(1) from None
        raise _error_exit(exc, 2) from None
    except ValueError as exc:
        raise _error_exit(exc, 2) from None
    try:
        decoded = wire.decode_status(raw) if kind == "status" else wire.decode_envelope(raw)
        wire.verify(decoded, key)
    except wire.WireError as exc:
        say(console, f"rejected ({exc.code}): {exc}", "red")
        raise typer.Exit(1) from None
    if isinstance(decoded, wire.Envelope):
        say(
            console,
            f"valid: agent {decoded.agent} seq {decoded.seq}, "
            f"{len(decoded.records)} records, signed by the given key",
            "green",
        )
    else:
        say(console, f"valid: agent {decoded.agent} status {decoded.state}", "green")


def _error_exit(exc: Exception, code: int) -> typer.Exit:
    """Print ``error: <exc>`` on stderr, escaped (it may quote registry or file text)."""
    say(err_console, f"error: {exc}", "red")
    return typer.Exit(code)


ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", envvar="RV_COLLECTOR_CONFIG", help="The collector's YAML configuration."
    ),
]


def _load_config(path: Path) -> CollectorConfig:
    from collector.config import load_collector_config
    from contract.configfile.console import print_issues
    from contract.errors import ConfigFileError, ConfigInvalidError

    try:
        return load_collector_config(path)
    except (ConfigFileError, ConfigInvalidError) as exc:
        print_issues(err_console, exc.issues)
        raise typer.Exit(2 if isinstance(exc, ConfigFileError) else 1) from None


def _refuse_id_collisions(path: Path) -> None:
    """Exit 4 if the registry at ``path`` gives one platform, enterprise or agent id to two
    plans (loaded before ids were checked across plans): serving or ingesting would file one
    plan's data under another's, so neither starts until the operator resolves it."""
    from collector.errors import IdCollisionError, RegistryUnavailable
    from collector.registry import Registry

    try:
        with Registry(path) as registry:
            registry.require_unique_ids()
    except (IdCollisionError, RegistryUnavailable) as exc:
        say(err_console, f"error: {exc}", "red")
        raise typer.Exit(4) from None


@app.command()
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

    settings = _load_config(config)
    _refuse_id_collisions(settings.registry)
    tune_gc_for_ingest()
    service = IngestService.from_config(settings, client_id=client_id, retire=retire)
    try:
        asyncio.run(service.run())
    except (CollectorError, StoreError) as exc:
        raise _error_exit(exc, 4) from None


@app.command()
def serve(
    config: ConfigOption = Path("collector.yaml"),
    host: Annotated[
        str | None,
        typer.Option("--host", envvar="RV_WEB_HOST", help="Listen address (default web.host)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", envvar="RV_WEB_PORT", help="Listen port (default web.port)."),
    ] = None,
) -> None:
    """Serve the web app: API (/api/v1, /openapi.json, /docs), pages, /healthz; /metrics on
    127.0.0.1:web.metrics_port when set.

    Runs until SIGTERM or SIGINT. Exit codes: 0 clean stop, 1/2 configuration errors, 4 the
    registry cannot be opened or gives one platform, enterprise or agent id to two plans.
    """
    import asyncio

    import uvicorn

    from collector.errors import RegistryUnavailable
    from collector.registry import Registry
    from collector.web.app import create_app

    settings = _load_config(config)
    _refuse_id_collisions(settings.registry)
    web = settings.web
    try:
        registry = Registry(settings.registry)
    except RegistryUnavailable as exc:
        raise _error_exit(exc, 4) from None
    with registry:
        application = create_app(web, registry, settings.store)
        server = uvicorn.Server(
            uvicorn.Config(
                application,
                host=host or web.host,
                port=web.port if port is None else port,
                log_config=None,  # our handlers (configure_logging), not uvicorn's
                server_header=False,
                # The client's address is the app's to decide, from web.trusted_proxies
                # (collector/web/throttle.py): uvicorn's own X-Forwarded-For rewriting would let
                # any process on this host claim any address and lock another's logins.
                proxy_headers=False,
            )
        )
        asyncio.run(_serve_with_metrics(server, application, web.metrics_port))


async def _serve_with_metrics(
    server: uvicorn.Server, application: FastAPI, metrics_port: int | None
) -> None:
    """Run ``server``; with a port, ``/metrics`` on its own listener on 127.0.0.1 beside it.

    Prometheus scrapes that listener on the host or container; the app's own port, which
    the TLS proxy publishes to reviewers, has no /metrics (docs/web.md, "Metrics").
    """
    from contract.metrics import MetricsServer

    if metrics_port is None:
        await server.serve()
        return
    state = application.state.web
    metrics = MetricsServer(state.metrics.render, lambda: {"status": "ok"}, metrics_port)
    await metrics.start()
    try:
        await server.serve()
    finally:
        await metrics.stop()


rollups_app = typer.Typer(help="Daily rollups in InfluxDB.", no_args_is_help=True)
app.add_typer(rollups_app, name="rollups")


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

    settings = _load_config(config)
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as exc:
        raise _error_exit(exc, 2) from None
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
        raise _error_exit(exc, 4) from None
    say(console, f"refreshed {count} device-days of {enterprise} ({len(devices)} devices)")


store_app = typer.Typer(
    help="The InfluxDB database and its retention policies.", no_args_is_help=True
)
app.add_typer(store_app, name="store")


@store_app.command("init")
def store_init(
    username: Annotated[
        str | None, typer.Option("--username", help="A 1.x admin user (default: the config's).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", envvar="RV_INFLUX_ADMIN_PASSWORD", help="Its password."),
    ] = None,
    config: ConfigOption = Path("collector.yaml"),
) -> None:
    """Create the database and the raw, rollup and fleet retention policies (InfluxDB 1.x).

    For a collector whose own InfluxDB user may only read and write (``influx.manage_schema:
    false``): an administrator runs this once, with an admin user. Idempotent; an existing
    policy that differs is reported and left as it is. Exit codes: 0 done; 2 bad arguments
    or configuration; 4 InfluxDB refused or cannot be reached.
    """
    from pydantic import SecretStr

    from collector.dashboards.cli import _run_or_exit
    from collector.dashboards.feed import ensure_fleet_retention

    settings = _load_config(config)
    if (username is None) != (password is None):
        raise _error_exit(ValueError("give --username and --password together"), 2)
    influx = settings.influx.model_copy(update={"manage_schema": True})
    if username is not None and password is not None:
        influx = influx.model_copy(
            update={"username": username, "password": SecretStr(password), "token": None}
        )
    admin = settings.model_copy(update={"influx": influx})

    async def init() -> list[str]:
        async with admin.store() as store:
            await store.ensure_database()
            problems = await store.ensure_retention()
            await ensure_fleet_retention(store)
            return problems

    problems = _run_or_exit(init())
    for problem in problems:
        say(console, f"left as it is: {problem}", "yellow")
    say(console, f"database {influx.database} and its retention policies are in place")


register_registry_commands(app)
register_evidence_commands(app)
register_users_commands(app)
register_dashboard_commands(app)
register_broker_commands(app)


def main() -> None:
    """Console-script entry point."""
    app()
