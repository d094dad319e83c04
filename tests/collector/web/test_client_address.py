"""Whose address a failed login counts under, on a real ``retrofit-collector serve`` (uvicorn).

uvicorn by default believes ``X-Forwarded-For`` from 127.0.0.1 and rewrites the client
address itself, before the app sees the request: any process on the host could then spread its
failed logins over made-up addresses, or charge them to someone else's. The app decides from
``web.trusted_proxies`` alone (issue 14, finding 4), so ``serve`` turns that rewriting off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from stack.ports import free_port
from stack.process import ChildProcess
from tests.collector.web.world import World, build_world


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, World]]:
    """``serve`` on its own registry (a lock must not reach other tests), 3 failures lock."""
    world = build_world(tmp_path, None)
    port = free_port()
    config = {
        "registry": str(world.registry_at),
        "broker": {"host": "127.0.0.1"},  # serve does not connect to it
        "influx": {"url": f"http://127.0.0.1:{free_port()}", "database": "rv"},  # not read here
        "web": {
            "port": port,
            "evidence_dir": str(world.settings.evidence_dir),
            "cookie_secure": False,
            "login_max_failures": 3,
            "login_window_s": 300,
            "login_lockout_s": 300,
        },
    }
    (tmp_path / "collector.yaml").write_text(yaml.safe_dump(config))
    entry_point = Path(sys.executable).parent / "retrofit-collector"
    command = [str(entry_point), "serve", "--config", str(tmp_path / "collector.yaml")]
    process = ChildProcess(
        "serve", command, tmp_path / "serve.log", env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    process.start()
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=1.0).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    try:
        process.wait_until_ready(ready, timeout_s=60)
        yield base, world
    finally:
        process.stop()
        world.registry.close()


def test_a_forwarded_header_from_loopback_does_not_change_whose_failures_count(
    served: tuple[str, World],
) -> None:
    base, world = served
    with httpx.Client(base_url=base, timeout=10, follow_redirects=False) as http:
        codes = [
            http.post(
                "/login",
                data={"token": "nope", "next": "/"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
            ).status_code
            for n in range(1, 5)
        ]
    # Counted under the real peer, 127.0.0.1, whatever the header claims: the third locks it.
    assert codes == [401, 401, 429, 429]
    subjects = {entry.subject for entry in world.registry.audit() if entry.action == "auth.lock"}
    assert subjects == {"login:127.0.0.1"}
