"""Build the web app: API, pages, operations routes, error handlers and middleware.

``create_app`` takes an open :class:`Registry` and a factory for the InfluxDB client (made in
the server's event loop, closed when the server stops). ``retrofit-collector serve`` runs it
with uvicorn; tests run it in-process or as that real server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles

from collector.accounts import TotpSealer
from collector.attachments import AttachmentSettings
from collector.bundle import BundleStore
from collector.registry import Registry
from collector.store import InfluxStore
from collector.web.access import check_rules
from collector.web.directory import DirectoryCache
from collector.web.middleware import AllowedHosts, BodyLimit, HeadAsGet, SecurityHeaders
from collector.web.prefix import PathPrefix
from collector.web.problems import install_handlers
from collector.web.routes import api, ops, pages
from collector.web.services import ATTACH_PATH
from collector.web.settings import WebSettings
from collector.web.state import WebState

__all__ = ["create_app", "route_table"]

STATIC_DIR = Path(__file__).parent / "static"
#: What an upload's body may hold beside the document: the multipart form's boundaries,
#: headers and fields (kind, amount, CSRF token).
FORM_OVERHEAD_BYTES = 64 * 1024


def _operation_id(route: APIRoute) -> str:
    # The route's name is its operationId: the access table, the metrics and the OpenAPI
    # document all speak of one name.
    return route.name


def route_table(app: FastAPI) -> list[tuple[str, str, frozenset[str]]]:
    """Every route of the app as (name, path, methods), included routers flattened."""
    table = []
    for context in iter_route_contexts(app.router.routes):
        methods = frozenset(context.methods or ())
        table.append((context.name or "", context.path or "", methods))
    return table


def create_app(
    settings: WebSettings,
    registry: Registry,
    store_factory: Callable[[], InfluxStore] | None = None,
    *,
    bundle_signer: Ed25519PrivateKey | None = None,
    attachments: AttachmentSettings | None = None,
) -> FastAPI:
    """The app; RuntimeError if a route has no access rule (collector/web/access.py),
    TotpKeyError if ``web.totp_key_path`` names a key that cannot be used.

    ``bundle_signer``: the collector's bundle key; the bundles of evidence runs are signed.
    ``attachments``: the enterprise files' settings (the configuration's ``attachments:``).
    """
    documents = attachments or AttachmentSettings()
    sealer = None
    if settings.totp_key_path is not None:  # TotpKeyError for a key that cannot be used
        sealer = TotpSealer.from_files(settings.totp_key_path, settings.totp_previous_key_paths)
    state = WebState(
        settings=settings,
        registry=registry,
        store=None,
        bundles=BundleStore(settings.evidence_dir),
        directories=DirectoryCache(registry),
        bundle_signer=bundle_signer,
        attachments=documents,
        totp_sealer=sealer,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.store = None if store_factory is None else store_factory()
        try:
            yield
        finally:
            # Runs whose requests stopped waiting still hold slots: let them end and release.
            await asyncio.gather(*state.run_tasks, return_exceptions=True)
            if state.store is not None:
                await state.store.aclose()
                state.store = None

    app = FastAPI(
        title="retrofit-verify",
        summary="Evidence, review decisions and fleet status for SME digital-retrofit pilots",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.web = state
    install_handlers(app)
    pages.install_page_errors(app)
    app.include_router(api.router)
    app.include_router(ops.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    check_rules(name for name, _, _ in route_table(app))
    # Added innermost first: a request meets SecurityHeaders (headers, metrics), then
    # AllowedHosts, HeadAsGet and BodyLimit, so their refusals carry the headers and count.
    upload_limit = max(settings.max_body_bytes, documents.max_bytes + FORM_OVERHEAD_BYTES)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, larger=((ATTACH_PATH, upload_limit),)
    )
    app.add_middleware(HeadAsGet)
    app.add_middleware(AllowedHosts, allowed=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders, metrics=state.metrics)
    # Outermost: every layer above sees the request as under its prefix (web.root_path).
    app.add_middleware(PathPrefix, prefix=settings.root_path)
    return app
