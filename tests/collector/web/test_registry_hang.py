"""The web app while PostgreSQL hangs (a stopped server, a host frozen in I/O): its TCP
connections stay up and the kernel still acknowledges what the app sends, so no TCP bound
(``TCP_BOUNDS``) ever fires and a registry call waits as long as the server is stopped.

A real ``retrofit-collector serve`` on a fresh database of the session's cluster; the whole
cluster (the postmaster and each of its backends) is stopped with SIGSTOP and resumed with
SIGCONT. While a request waits on the stopped registry, nothing else may wait behind it on the
event loop: a static file and the login form answer at once, ``/healthz`` and every request that
needs the registry answer 503 with ``Retry-After`` once ``web.registry_wait_s`` has passed, and
after SIGCONT everything answers again by itself (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from stack import InfluxServer
from tests.collector.registry_backends import RegistryCluster
from tests.collector.web.serving import serving
from tests.collector.web.world import World

#: The app's bound on a registry call in this test (``web.registry_wait_s``): short, so the
#: test does not wait out the default.
REGISTRY_WAIT_S = 2.0
#: How long a request may take before the test calls it hung: far above the bound above and
#: a loaded machine's answer, far below "until SIGCONT".
HUNG_AFTER_S = 30.0
_ESTABLISHED = "01"


def _unread_queries(port: int) -> int:
    """Connections to the server on ``port`` whose server side holds bytes nobody has read:
    a query sent to a stopped server (the kernel took it; no backend runs to read it)."""
    waiting = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        unread = int(fields[4].split(":")[1], 16)
        if local_port == port and fields[3] == _ESTABLISHED and unread > 0:
            waiting += 1
    return waiting


def _wait_for(condition: Callable[[], bool], what: str, timeout_s: float = HUNG_AFTER_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout_s} s: {what}")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in listed]


def _signal(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # a backend that was already exiting
            os.kill(pid, signum)


@contextmanager
def stopped(cluster: RegistryCluster) -> Iterator[None]:
    """The cluster's every process stopped (SIGSTOP) while the block runs: the postmaster
    first (it forks no backend after that), then each of its children, which are in sessions
    of their own (PostgreSQL's backends call setsid), so the group's signal misses them."""
    postmaster = cluster.server.pid
    assert postmaster is not None
    os.kill(postmaster, signal.SIGSTOP)
    children = _children(postmaster)
    try:
        _signal(children, signal.SIGSTOP)
        yield
    finally:
        _signal(children, signal.SIGCONT)
        os.kill(postmaster, signal.SIGCONT)


class _Background:
    """One request sent from a thread; its response (or the error) once it ends."""

    def __init__(self, send: Callable[[], httpx.Response]) -> None:
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, args=(send,), daemon=True)
        self._thread.start()

    def _run(self, send: Callable[[], httpx.Response]) -> None:
        try:
            self.response = send()
        except httpx.HTTPError as exc:
            self.error = exc

    def result(self) -> httpx.Response:
        self._thread.join(HUNG_AFTER_S + 5)
        assert self.response is not None, f"no answer: {self.error!r}"
        return self.response


def test_a_stopped_postgresql_blocks_no_other_request_then_the_app_recovers(
    pg_world: World, registry_cluster: RegistryCluster, influx_server: InfluxServer, tmp_path: Path
) -> None:
    config = {
        "registry": str(pg_world.registry_at),
        "broker": {"host": "127.0.0.1"},  # serve does not connect to it
        "influx": {"url": influx_server.url, "database": pg_world.influx_database},
        "web": {
            "evidence_dir": str(pg_world.settings.evidence_dir),
            "cookie_secure": False,  # plain HTTP on loopback
            "registry_wait_s": REGISTRY_WAIT_S,
        },
    }
    bearer = pg_world.headers("rev-nb")
    (tmp_path / "serve").mkdir()
    with (
        serving(tmp_path / "serve", config) as base,
        httpx.Client(base_url=base, timeout=HUNG_AFTER_S, follow_redirects=False) as http,
    ):
        login = http.post("/login", data={"token": pg_world.tokens["rev-nb"], "next": "/"})
        assert login.status_code == 303, login.text[:300]  # the page session's cookie is kept
        assert http.get("/fleet").status_code == 200
        assert http.get("/api/v1/me", headers=bearer).status_code == 200
        port = registry_cluster.server.port
        with stopped(registry_cluster):
            api_call = _Background(lambda: http.get("/api/v1/me", headers=bearer))
            _wait_for(lambda: _unread_queries(port) >= 1, "the API call's query at the server")
            # A request waits on the stopped registry; what needs none answers meanwhile.
            assert http.get("/static/style.css").status_code == 200
            assert http.get("/login").status_code == 200
            page_call = _Background(lambda: http.get("/fleet"))
            health = http.get("/healthz")
            assert health.status_code == 503, health.text
            assert health.json()["checks"]["registry"] == "unavailable"
            assert health.headers.get("retry-after") == "5"
            for waited in (api_call.result(), page_call.result()):
                assert waited.status_code == 503, waited.text[:300]
                assert waited.headers.get("retry-after") == "5"
        # Resumed: the calls that were waiting end, and the app answers as before by itself.
        _wait_for(lambda: http.get("/healthz").status_code == 200, "/healthz 200 after SIGCONT")
        assert http.get("/api/v1/me", headers=bearer).json()["user_id"] == "rev-nb"
        assert http.get("/fleet").status_code == 200
