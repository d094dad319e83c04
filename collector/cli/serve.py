"""``retrofit-collector serve``: the web app, with /metrics on its own loopback listener."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collector.cli._common import (
    EXIT_UNAVAILABLE,
    EXIT_UNREADABLE,
    ConfigOption,
    error_exit,
    load_config,
    refuse_id_collisions,
)
from collector.cli.bundle_key import load_signing_key

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from collector.web.settings import WebSettings

__all__ = ["register"]


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

    Runs until SIGTERM or SIGINT. Exit codes: 0 clean stop, 1/2 configuration errors (2 also
    for a bundle.signing_key_path key that cannot be used), 4 the registry cannot be opened or
    gives one platform, enterprise or agent id to two plans.
    """
    import asyncio

    import uvicorn

    from collector.errors import RegistryUnavailable
    from collector.registry import Registry
    from collector.web.app import create_app

    settings = load_config(config)
    signer = load_signing_key(settings, config)
    _check_totp_keys(settings.web, config)
    refuse_id_collisions(settings.registry)
    web = settings.web
    try:
        registry = Registry(settings.registry)
    except RegistryUnavailable as exc:
        raise error_exit(exc, EXIT_UNAVAILABLE) from None
    with registry:
        application = create_app(
            web, registry, settings.store, bundle_signer=signer, attachments=settings.attachments
        )
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


def _check_totp_keys(web: WebSettings, config: Path) -> None:
    """Exit 2 naming the file when a TOTP key of ``web.totp_key_path`` or
    ``web.totp_previous_key_paths`` cannot be used (missing, readable by others, malformed)."""
    from collector.accounts import TotpKeyError, TotpSealer

    if web.totp_key_path is None:
        return
    try:
        TotpSealer.from_files(web.totp_key_path, web.totp_previous_key_paths)
    except TotpKeyError as exc:
        raise error_exit(f"{config}: web.totp_key_path: {exc}", EXIT_UNREADABLE) from None


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


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to ``app``."""
    app.command()(serve)
