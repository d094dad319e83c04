"""RFC 9457 problem details: every error the API returns, and never a stack trace.

:class:`Problem` is raised by handlers; :func:`install_handlers` turns it, FastAPI's validation
errors, Starlette's HTTP errors and any unexpected exception into ``application/problem+json``
with ``type``, ``title``, ``status``, ``detail`` and ``instance``. An unexpected exception is
logged with its traceback on the server and answered with a 500 that says only that and an
error id to quote, so nothing of the code or its data leaks to the client.

A registry that cannot be used (``RegistryUnavailable``: a lock held past the busy timeout, a
PostgreSQL server restarting or out of reach, a pooled connection it closed) is not the code's
fault: it is a 503 that says to try again, with ``Retry-After`` when a later try can help
(:func:`registry_unavailable`), so clients and browsers retry rather than report a bug. On
PostgreSQL it is an everyday event (a restart fails each pooled connection once, docs/scaling.md).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector.errors import RegistryUnavailable

__all__ = [
    "PROBLEM_TYPE_BASE",
    "REGISTRY_RETRY_AFTER_S",
    "Problem",
    "install_handlers",
    "problem_response",
    "registry_unavailable",
    "unavailable",
]

log = logging.getLogger(__name__)

#: Problem types are documented in docs/web.md, "Errors"; the URI is an identifier.
PROBLEM_TYPE_BASE = "https://retrofit-verify.example/problems/"
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    429: "busy",
    500: "internal",
    503: "unavailable",
}
_MAX_ERRORS = 20

#: The ``Retry-After`` of a 503 for a registry that was busy or out of reach, in seconds: a
#: lock wait past the busy timeout, a PostgreSQL restart or a reconnecting pool passes in seconds.
REGISTRY_RETRY_AFTER_S = 5


class Problem(Exception):
    """An error answered as problem details; ``kind`` is the type's last path segment."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or _TYPES.get(status, "error")
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The problem-details response for ``status`` with ``detail`` (plain text, no secrets)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (kind or _TYPES.get(status, "error")),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **(extra or {}),
    }
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type="application/problem+json"
    )


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # Keep where and why; drop "input" and "ctx": they echo what was sent (possibly large or
    # hostile) and pydantic's ctx may hold exception objects that do not serialise.
    shown = []
    for error in list(errors)[:_MAX_ERRORS]:
        location = [str(part)[:100] for part in error.get("loc", ())]
        shown.append({"loc": location, "msg": str(error.get("msg", ""))[:300]})
    return shown


def install_handlers(app: FastAPI) -> None:
    """Answer every error as problem details (pages install their own HTML on top)."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(
            request, exc.status, exc.detail, kind=exc.kind, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(RegistryUnavailable)
    async def _registry(request: Request, exc: RegistryUnavailable) -> Response:
        problem = registry_unavailable(exc)
        return problem_response(
            request,
            problem.status,
            problem.detail,
            kind=problem.kind,
            headers=problem.headers,
            extra=problem.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _validation_errors(exc.errors())
        where = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:3])
        return problem_response(request, 422, where, extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "")
        return problem_response(
            request, exc.status_code, detail, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        error_id = secrets.token_hex(6)
        log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return problem_response(
            request,
            500,
            f"the server failed on this request; quote error id {error_id} to the operator",
            extra={"error_id": error_id},
        )


def unavailable(what: str, exc: Exception, headers: dict[str, str] | None = None) -> Problem:
    """503 for a failure behind the API: the cause (URLs, paths, a server's own words) is
    logged under an error id; the client gets the id and what it can do: try again later."""
    error_id = secrets.token_hex(6)
    log.warning("error %s: %s failed: %s: %s", error_id, what, type(exc).__name__, exc)
    return Problem(
        503,
        f"{what} failed; try again later, or quote error id {error_id} to the operator",
        headers=headers,
        extra={"error_id": error_id},
    )


def registry_unavailable(exc: RegistryUnavailable) -> Problem:
    """503 for a registry that could not be used, with ``Retry-After`` if a later try can help
    (``exc.retryable``); its file or URL and the driver's words go to the log only."""
    retry = {"Retry-After": str(REGISTRY_RETRY_AFTER_S)} if exc.retryable else None
    return unavailable("the registry", exc, headers=retry)
