"""The loopback HTTP endpoint both sides serve: Prometheus text metrics and a JSON health page.

A gateway agent installs no web framework (the ``agent`` extra stays small), so this is a
deliberately tiny HTTP/1.0 responder on 127.0.0.1: ``GET /metrics`` (Prometheus text format
0.0.4) and ``GET /healthz`` (the health document, 200 while the process runs). Anything else
gets 404; a request line over 1 KiB or slower than 5 s is dropped. The agent, the collector's
ingest and its web app each serve their own metrics through it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

__all__ = ["MetricWriter", "MetricsServer", "label"]

log = logging.getLogger(__name__)

_MAX_REQUEST_LINE = 1024
_READ_TIMEOUT_S = 5.0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricWriter:
    """Appends one metric family (HELP, TYPE, samples) in Prometheus text format to ``lines``."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def __call__(
        self, name: str, kind: str, help_text: str, samples: list[tuple[str, float]]
    ) -> None:
        """``samples`` are (label text or name suffix, value), e.g. ('{device="p1"}', 3)."""
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        self.lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)


def label(name: str, value: str) -> str:
    """A one-label label set, escaped: ``{name="value"}``."""
    return f'{{{name}="{_escape(value)}"}}'


class MetricsServer:
    """Serves Prometheus text and a JSON health document on 127.0.0.1:``port``.

    ``render`` returns the metrics text, ``health`` the health document; both are called per
    request. The agent, the ingest and the web app each pass their own callables.
    """

    def __init__(
        self,
        render: Callable[[], str],
        health: Callable[[], dict[str, object]],
        port: int,
        host: str = "127.0.0.1",
    ) -> None:
        self.render = render
        self.health = health
        self.port = port
        self.host = host
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on loopback; port 0 picks a free one (then read :attr:`port`)."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT_S):
                request_line = await reader.readuntil(b"\n")
            status, content_type, body = self._respond(request_line[:_MAX_REQUEST_LINE])
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        header = (
            f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(header.encode("ascii") + body)
        try:
            await writer.drain()
        finally:
            writer.close()

    def _respond(self, request_line: bytes) -> tuple[str, str, bytes]:
        parts = request_line.decode("latin-1").split()
        path = parts[1] if len(parts) >= 2 and parts[0] == "GET" else ""
        if path == "/metrics":
            body = self.render().encode("utf-8")
            return "200 OK", "text/plain; version=0.0.4; charset=utf-8", body
        if path == "/healthz":
            body = json.dumps(self.health()).encode("utf-8")
            return "200 OK", "application/json", body
        return "404 Not Found", "text/plain", b"not found\n"
