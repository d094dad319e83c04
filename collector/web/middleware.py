"""ASGI middleware: bounded request bodies, security headers, per-route metrics.

Pure ASGI (no BaseHTTPMiddleware): it streams, and it sees every response, errors included.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from collector.web.metrics import WebMetrics

__all__ = ["PAGE_CSP", "BodyLimit", "SecurityHeaders"]

#: Pages load only their own style sheet, images and scripts; nothing frames them.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class BodyLimit:
    """Answer 413 (problem details) to a body over ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(scope, send, self.max_bytes)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(scope, send, self.max_bytes)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    body = (
        '{"type":"https://retrofit-verify.example/problems/too-large","title":"Request body '
        f'too large","status":413,"detail":"at most {max_bytes} bytes","instance":'
        f'"{_json_text(scope.get("path", ""))}"}}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _json_text(text: str) -> str:
    return "".join(
        ch if ch.isalnum() or ch in "/._-~" else f"\\u{ord(ch):04x}" for ch in text[:300]
    )


class SecurityHeaders:
    """Security headers on every response, ``no-store`` on all but static files; metrics."""

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
                if not str(scope.get("path", "")).startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            name = _route_of(scope)
            elapsed = time.perf_counter() - started
            self.metrics.observe(name, str(scope.get("method", "")), status, elapsed)


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "name", "") or "unmatched")
    return "unmatched"
