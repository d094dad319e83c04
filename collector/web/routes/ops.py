"""Operations routes: ``/healthz`` and the API's docs page.

``/metrics`` is not here: it is served on its own loopback listener (``web.metrics_port``,
collector/cli/serve.py), never on the port the TLS proxy publishes. The docs page is rendered here
from the OpenAPI document and the access table, with no script from a CDN: reviewers'
networks are often closed to the internet.
"""

from __future__ import annotations

import html
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from collector.errors import RegistryError
from collector.store import StoreError
from collector.web.access import RULES
from collector.web.problems import REGISTRY_RETRY_AFTER_S
from collector.web.registry_wait import HEALTHZ_WAIT_S, call_within
from collector.web.state import WebState, web_state

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]


@router.get("/healthz", name="healthz")
async def healthz(state: State) -> Response:
    """200 while the registry answers; InfluxDB's state is reported, not required.

    Public, so it says only "ok" or "unavailable"; the cause (paths, URLs) goes to the log.
    """
    checks: dict[str, str] = {}
    healthy = True
    # In a worker thread and for at most HEALTHZ_WAIT_S: a registry that hangs is a 503 the
    # probe receives, not a probe that times out (collector/web/registry_wait.py).
    wait_s = min(state.settings.registry_wait_s, HEALTHZ_WAIT_S)
    try:
        await call_within(wait_s, str(state.registry.path), state.registry.plan_keys)
        checks["registry"] = "ok"
    except RegistryError as exc:
        log.warning("healthz: the registry is unavailable: %s", exc)
        checks["registry"] = "unavailable"
        healthy = False
    if state.store is None:
        checks["influx"] = "not configured"
    else:
        try:
            await state.store.ping()
            checks["influx"] = "ok"
        except StoreError as exc:
            log.warning("healthz: InfluxDB is unavailable: %s", exc)
            checks["influx"] = "unavailable"
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if healthy:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(REGISTRY_RETRY_AFTER_S)})


def _operation_rows(schema: dict[str, Any]) -> list[str]:
    rows = []
    for path, operations in sorted(schema.get("paths", {}).items()):
        for method, operation in operations.items():
            roles = RULES.get(str(operation.get("operationId", "")), frozenset())
            rows.append(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>".format(
                    html.escape(method.upper()),
                    html.escape(path),
                    html.escape(str(operation.get("summary", ""))),
                    html.escape(", ".join(sorted(roles)) or "-"),
                )
            )
    return rows


@router.get("/docs", name="api_docs")
def api_docs(request: Request) -> HTMLResponse:
    """Every API operation with the roles that may call it; the schema is /openapi.json."""
    rows = "\n".join(_operation_rows(request.app.openapi()))
    root = html.escape(str(request.scope.get("root_path", "")))
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>retrofit-verify API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{root}/static/style.css"></head>
<body><main id="main"><h1>retrofit-verify API</h1>
<p>OpenAPI 3.1 schema: <a href="{root}/openapi.json">{root}/openapi.json</a>. Authenticate with
<code>Authorization: Bearer rvt_…</code> (<code>retrofit-collector users token</code>).
Errors are RFC 9457 problem details (<code>application/problem+json</code>). Roles and scopes:
docs/web.md.</p>
<table><thead><tr><th>method</th><th>path</th><th>what</th><th>roles</th></tr></thead>
<tbody>{rows}</tbody></table></main></body></html>"""
    return HTMLResponse(page)
