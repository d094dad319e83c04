"""What the app does before and around its handlers, on a real ``retrofit-collector serve``
(uvicorn over real sockets) and in-process: metrics labels from a fixed set on their own
loopback listener, 413 for a chunked body over the limit, the ``Host`` header checked and
redirects relative, a CSP without script, HEAD answered like GET.
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from collector.web.app import create_app, route_table
from collector.web.settings import WebSettings
from stack import InfluxServer
from stack.ports import free_port
from tests.collector.web.serving import serving
from tests.collector.web.world import CONTRACT_SHA256, World

WEB = Path(__file__).parents[3] / "collector" / "web"
_SERIES = re.compile(r'^rv_web_requests_total\{route="([^"]*)",method="([^"]*)",status="([^"]*)"\}')
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
# Methods h11 (uvicorn's parser here) passes on, made up or rare.
_ODD_METHODS = ("PROPFIND", "MKCOL", "PURGE", "BREW", "X-EVIL", "GETT", "get")


@dataclass(frozen=True)
class Served:
    """A running ``serve``: the app's base URL and its metrics listener's."""

    base: str
    metrics: str
    port: int


@pytest.fixture(scope="module")
def served(
    world: World, influx_server: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``retrofit-collector serve`` on free loopback ports, with its metrics listener."""
    folder = tmp_path_factory.mktemp("serve-mw")
    metrics_port = free_port()
    config = {
        "registry": str(world.registry_at),
        "broker": {"host": "127.0.0.1"},  # serve does not connect to it
        "influx": {"url": influx_server.url, "database": world.influx_database},
        "web": {
            "metrics_port": metrics_port,
            "evidence_dir": str(world.settings.evidence_dir),
            "cookie_secure": False,
        },
    }
    with serving(folder, config) as base:
        port = urlsplit(base).port
        assert port is not None
        yield Served(base, f"http://127.0.0.1:{metrics_port}/metrics", port)


def _series(metrics_url: str) -> set[tuple[str, str, str]]:
    text = httpx.get(metrics_url, timeout=5).text
    found = {(m[1], m[2], m[3]) for line in text.splitlines() if (m := _SERIES.match(line))}
    assert found, text[:500]
    return found


def _garbage(served: Served, world: World) -> None:
    """Odd methods and random paths, with and without a login."""
    with httpx.Client(base_url=served.base, timeout=5) as http:
        for method in _ODD_METHODS:
            for path in ("/", "/api/v1/me", f"/{secrets.token_hex(6)}", "/fleet/"):
                http.request(method, path)
                http.request(method, path, headers=world.headers("admin"))
        for _ in range(20):
            http.get(f"/api/v1/{secrets.token_hex(8)}")
            http.request(secrets.token_hex(4).upper(), f"/{secrets.token_urlsafe(12)}")


def test_metrics_labels_are_a_fixed_set_on_their_own_loopback_listener(
    served: Served, world: World
) -> None:
    names = {name for name, _, _ in route_table(create_app(world.settings, world.registry))}
    statuses = {str(status.value) for status in HTTPStatus} | {"other"}
    _garbage(served, world)
    after_first = _series(served.metrics)
    routes = {r for r, _, _ in after_first}
    methods = {m for _, m, _ in after_first}
    assert methods <= _METHODS and "other" in methods, methods
    assert routes <= names | {"other"} and "other" in routes, routes - names
    assert {s for _, _, s in after_first} <= statuses
    _garbage(served, world)  # new random methods and paths: no new series
    assert _series(served.metrics) == after_first
    # Not on the app's own port, which the TLS proxy publishes.
    assert httpx.get(served.base + "/metrics", timeout=5).status_code == 404


def _chunks(total: int) -> Iterator[bytes]:
    yield b'{"bundle_id": "' + b"0" * 64 + b'", "outcome": "pass", "comment": "'
    sent = 0
    while sent < total:
        yield b"x" * 8192
        sent += 8192
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_413(served: Served, world: World) -> None:
    url = served.base + "/api/v1/enterprises/e02/decisions"
    headers = {**world.headers("rev-nb"), "content-type": "application/json"}
    request = httpx.Request("POST", url, headers=headers, content=_chunks(70_000))
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    with httpx.Client(timeout=10) as http:
        response = http.send(request)
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/too-large")
        # Under the limit, the same chunked request reaches validation (the comment is long).
        small = httpx.Request("POST", url, headers=headers, content=_chunks(1000))
        refused = http.send(small)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "comment"]


def _raw_get(port: int, path: str, host: bytes) -> bytes:
    # httpx and most clients refuse to send a Host other than the URL's: write HTTP by hand.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
                     b"Connection: close\r\n\r\n")  # fmt: skip
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_a_foreign_host_is_refused_and_redirects_are_relative(served: Served) -> None:
    refused = _raw_get(served.port, "/fleet/", b"evil.example")
    head, _, body = refused.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"evil.example" not in head and b"location" not in head.lower()
    assert b"web.allowed_hosts" in body
    for host in (f"127.0.0.1:{served.port}".encode(), b"LOCALHOST", b"[::1]:80"):
        head = _raw_get(served.port, "/fleet/", host).partition(b"\r\n\r\n")[0]
        assert head.startswith(b"HTTP/1.1 307"), (host, head)
        assert b"\r\nlocation: /fleet\r\n" in head.lower(), head


def test_a_host_not_in_allowed_hosts_is_refused_in_process(world: World) -> None:
    settings = world.settings.model_copy(update={"allowed_hosts": ("review.example.org",)})
    app = create_app(settings, world.registry)
    with TestClient(app, base_url="https://review.example.org") as http:
        assert http.get("/healthz").status_code == 200
        moved = http.get("/fleet/", follow_redirects=False)
        assert (moved.status_code, moved.headers["location"]) == (307, "/fleet")
        refused = http.get("/healthz", headers={"host": "review.example.org.evil.example"})
        assert refused.status_code == 400
        assert refused.headers["content-type"] == "application/problem+json"


def test_allowed_hosts_are_checked_when_the_config_is_read() -> None:
    assert WebSettings(allowed_hosts=("Review.Example.ORG",)).allowed_hosts == (
        "review.example.org",
    )
    for bad in ((), ("evil.example/x",), ("a b",)):
        with pytest.raises(ValueError, match="allowed_hosts"):
            WebSettings(allowed_hosts=bad)


def _template_and_static_files() -> list[Path]:
    files = sorted((WEB / "templates").glob("*")) + sorted((WEB / "static").glob("*"))
    assert len(files) >= 10
    return files


def test_no_page_runs_script_and_the_csp_says_so(client: TestClient) -> None:
    # A script element, a javascript: URL, or an event attribute (onclick=) inside a tag.
    script = re.compile(r"<script|javascript:|<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)
    for path in _template_and_static_files():
        assert not script.search(path.read_text(encoding="utf-8")), path
    assert not list((WEB / "static").glob("*.js"))
    for url in ("/login", "/docs", "/healthz", "/static/style.css"):
        policy = client.get(url).headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'none'", (url, policy)


def _get_paths(world: World) -> list[str]:
    """Every GET route of the app, with ids of objects the admin may see."""
    values = {
        "code": "330200",
        "platform_id": "plat-a",
        "enterprise_id": "e01",
        "bundle_id": world.bundles["e01"].bundle_id,
        "name": "evidence.json",
        "kpi": "oee",
        "agent_id": "e01-gw",
        "entry_id": "1",
        "path": "style.css",
        "sha256": CONTRACT_SHA256,
    }
    paths = []
    for _, path, methods in route_table(create_app(world.settings, world.registry)):
        if "GET" in methods or path == "/static":
            filled = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)
            paths.append(filled if path != "/static" else "/static/style.css")
    return paths


def test_head_answers_every_get_route_like_get_without_a_body(
    client: TestClient, world: World
) -> None:
    paths = _get_paths(world)
    assert {"/", "/enterprises/e01", "/api/v1/enterprises/e01", "/static/style.css"} <= set(paths)
    for path in paths:
        got = client.get(path, headers=world.headers("admin"), follow_redirects=False)
        head = client.head(path, headers=world.headers("admin"), follow_redirects=False)
        assert head.status_code == got.status_code != 405, (path, head.status_code)
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
        assert head.headers.get("location") == got.headers.get("location"), path
    anonymous = client.head("/fleet", follow_redirects=False)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/login?next=/fleet")
