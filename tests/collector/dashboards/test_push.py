"""``dashboards push`` with grafana-client, against a small local HTTP stand-in for Grafana.

Grafana itself cannot run here (no Debian package, no container engine), so this stand-in
answers the three API calls the push makes (GET/POST /api/folders, POST /api/dashboards/db) the
way Grafana documents them, and records every request: the test checks what grafana-client
really sent over HTTP. It is a fake by necessity; the dashboards' queries are checked against a
real InfluxDB in test_check.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.dashboards import DashboardPushError, load_dashboards
from collector.dashboards.push import push_dashboards

DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"
TOKEN = "glsa_test_token"


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: Any


class GrafanaStandIn(ThreadingHTTPServer):
    """Records requests; folders exist once created; any other token is refused (401)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.folders: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: GrafanaStandIn

    def log_message(self, *_args: Any) -> None:  # keep pytest's output clean
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        entry = Recorded(
            self.command, self.path, self.headers.get("Authorization"),
            json.loads(raw) if raw else None,
        )  # fmt: skip
        self.server.requests.append(entry)
        return entry

    def do_GET(self) -> None:
        entry = self._record()
        if entry.authorization != f"Bearer {TOKEN}":
            return self._answer(401, {"message": "invalid API key"})
        uid = self.path.removeprefix("/api/folders/")
        if self.path.startswith("/api/folders/") and uid in self.server.folders:
            return self._answer(200, {"uid": uid, "title": "retrofit-verify"})
        return self._answer(404, {"message": "folder not found"})

    def do_POST(self) -> None:
        entry = self._record()
        if entry.authorization != f"Bearer {TOKEN}":
            return self._answer(401, {"message": "invalid API key"})
        if self.path == "/api/folders":
            self.server.folders.add(entry.body["uid"])
            return self._answer(200, {"uid": entry.body["uid"], "title": entry.body["title"]})
        if self.path == "/api/dashboards/db":
            if entry.body.get("folderUid") not in self.server.folders:
                return self._answer(400, {"message": "folder not found"})
            uid = entry.body["dashboard"]["uid"]
            return self._answer(
                200, {"status": "success", "uid": uid, "url": f"/d/{uid}/x", "version": 1}
            )
        return self._answer(404, {"message": "not found"})


@pytest.fixture
def grafana() -> Iterator[GrafanaStandIn]:
    server = GrafanaStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_push_creates_the_folder_and_uploads_every_dashboard(grafana: GrafanaStandIn) -> None:
    dashboards = load_dashboards(DASHBOARDS)
    results = push_dashboards(grafana.url, TOKEN, dashboards, datasource_uid="influx-prod")
    assert [r.uid for r in results] == [d.uid for d in dashboards]
    calls = [(r.method, r.path) for r in grafana.requests]
    assert calls[:2] == [("GET", "/api/folders/retrofit-verify"), ("POST", "/api/folders")]
    uploads = [r.body for r in grafana.requests if r.path == "/api/dashboards/db"]
    assert len(uploads) == len(dashboards) == 3
    for body, dashboard in zip(uploads, dashboards, strict=True):
        assert body["overwrite"] is True and body["folderUid"] == "retrofit-verify"
        assert body["dashboard"]["uid"] == dashboard.uid and body["dashboard"]["id"] is None
        assert body["dashboard"]["panels"] == dashboard.model["panels"]
        (source,) = [
            v for v in body["dashboard"]["templating"]["list"] if v["name"] == "datasource"
        ]
        assert source["current"]["value"] == "influx-prod"

    grafana.requests.clear()
    push_dashboards(grafana.url, TOKEN, dashboards)  # again: the folder exists, same uids
    assert [(r.method, r.path) for r in grafana.requests][:2] == [
        ("GET", "/api/folders/retrofit-verify"),
        ("POST", "/api/dashboards/db"),
    ]


def test_a_refused_token_is_an_error_that_says_so(grafana: GrafanaStandIn) -> None:
    with pytest.raises(DashboardPushError, match="check the token") as refused:
        push_dashboards(grafana.url, "wrong", load_dashboards(DASHBOARDS))
    assert refused.value.status_code == 401 and not refused.value.retryable

    result = CliRunner().invoke(
        app,
        ["dashboards", "push", "--url", grafana.url, "--token", "wrong", "--dir", str(DASHBOARDS)],
    )
    assert result.exit_code == 1 and "Unauthorized" in result.output
    result = CliRunner().invoke(
        app,
        ["dashboards", "push", "--url", grafana.url, "--token", TOKEN, "--dir", str(DASHBOARDS)],
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("pushed rv-") == 3
