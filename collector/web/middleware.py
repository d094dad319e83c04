"""ASGI middleware: allowed hosts, HEAD as GET, bounded request bodies, security headers,
per-route metrics.

Pure ASGI (no BaseHTTPMiddleware): it streams, and it sees every response, errors included.
From the outside in: :class:`SecurityHeaders` (headers, relative redirects, metrics),
:class:`AllowedHosts`, :class:`HeadAsGet`, :class:`BodyLimit`, then the app.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collector.web.prefix import app_location, app_path, relative_location

if TYPE_CHECKING:
    from collector.web.metrics import WebMetrics

__all__ = [
    "PAGE_CSP",
    "AllowedHosts",
    "BodyLimit",
    "HeadAsGet",
    "SecurityHeaders",
    "host_of",
    "relative_location",
]

log = logging.getLogger(__name__)

#: Pages load only their own style sheet and images, and run no script; nothing frames them.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class BodyLimit:
    """Answer 413 (problem details) to a body over ``max_bytes``, declared or streamed.

    The body is read (at most ``max_bytes``) before the app sees the request, so a chunked
    body over the limit is refused the same way as a declared one: the app's own parsing
    would turn the refusal into a 400 "error parsing the body". ``larger`` gives a POST to a
    path (inside the app) matching a pattern its own limit: an enterprise document's upload
    (``attachments.max_bytes``), counted the same way, while it is received.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = tuple(larger)

    def _limit(self, scope: Scope) -> int:
        if scope.get("method") == "POST":
            path = app_path(scope)
            for pattern, limit in self.larger:
                if pattern.match(path):
                    return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, send, limit)
            return
        try:
            messages = await self._read_body(receive, limit)
        except _TooLarge:
            await _too_large(scope, send, limit)
            return
        await self.app(scope, _replay(messages, receive), send)

    @staticmethod
    async def _read_body(receive: Receive, limit: int) -> list[Message]:
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # http.disconnect: the app sees it in turn
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
            if not message.get("more_body", False):
                return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The buffered messages first, then the server's own (a later disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    detail = f"at most {max_bytes} bytes"
    await _problem(scope, send, 413, "too-large", "Request body too large", detail)


async def _problem(
    scope: Scope, send: Send, status: int, kind: str, title: str, detail: str
) -> None:
    """A problem-details answer sent before any app code ran (and the connection closed)."""
    body = json.dumps(
        {
            "type": f"https://retrofit-verify.example/problems/{kind}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": str(scope.get("path", ""))[:300],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def host_of(header: bytes | None) -> str | None:
    """The host a ``Host`` header names, lower case, without its port (IPv6 unbracketed)."""
    if not header:
        return None
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 1 else None
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class AllowedHosts:
    """Answer 400 to a request whose ``Host`` is not in ``allowed`` (``*`` allows any).

    A request for another host is a misrouted or forged one; refusing it keeps a forged
    ``Host`` out of anything built from the request (Origin checks, absolute URLs, logs).
    """

    def __init__(self, app: ASGIApp, allowed: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or "*" in self.allowed:
            await self.app(scope, receive, send)
            return
        host = host_of(dict(scope.get("headers") or []).get(b"host"))
        if host in self.allowed:
            await self.app(scope, receive, send)
            return
        log.info("refused a request for host %r: not in web.allowed_hosts", (host or "")[:100])
        detail = (
            "this server does not answer for the host the request names (Host header); "
            "its operator lists the names it answers for in web.allowed_hosts"
        )
        await _problem(scope, send, 400, "bad-host", "Bad request", detail)


class HeadAsGet:
    """Answer HEAD like GET, without the body, on every route that answers GET.

    FastAPI's routes declare GET only. The app sees a GET; the response keeps GET's status
    and headers (``Content-Length`` included) and drops the body bytes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return
        # A copy: the server reads its own scope's "HEAD" to send no body.
        as_get = {**scope, "method": "GET"}

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(as_get, receive, without_body)
        finally:
            if "route" in as_get:  # the metrics name the route that answered
                scope["route"] = as_get["route"]


class SecurityHeaders:
    """Security headers on every response, ``no-store`` on all but static files, redirects
    to this app made relative; metrics."""

    def __init__(self, app: ASGIApp, metrics: WebMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Content-Security-Policy", PAGE_CSP)
                root = str(scope.get("root_path", ""))
                if not str(scope.get("path", "")).startswith(root + "/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                if "location" in headers:
                    headers["Location"] = app_location(headers["location"], root)
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            name = _route_of(scope)
            elapsed = time.perf_counter() - started
            self.metrics.observe(name, str(scope.get("method", "")), status, elapsed)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return str(getattr(route, "name", "") or "other") if route is not None else "other"
