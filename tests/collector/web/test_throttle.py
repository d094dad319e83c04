"""Failed logins are slowed (429 + Retry-After) and audited, bounded (issue 14, finding 4)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.web.app import create_app
from collector.web.settings import WebSettings
from tests.collector.web.world import World, build_world

ClientMaker = Callable[..., TestClient]
ATTACKER = "192.0.2.66"


@pytest.fixture
def own_world(tmp_path: Path, registry_location: Path | str) -> Iterator[World]:
    """Registry and users of this test's own, on each backend (``registry_location``,
    tests/collector/conftest.py); no InfluxDB: logins do not read it."""
    built = build_world(tmp_path, None, registry_at=registry_location)
    try:
        yield built
    finally:
        built.registry.close()


@pytest.fixture
def lockout_s() -> int:
    """How long a lock holds: long enough that a test's requests meet it on a loaded machine
    (a 1 s lock ended between two requests there); a test that waits for the end sets less."""
    return 300


@pytest.fixture
def make_client(own_world: World, lockout_s: int) -> Iterator[ClientMaker]:
    """One app (limit 3 failures a minute, ``lockout_s`` lock-out), a client per peer address."""
    overrides: dict[str, Any] = {
        "login_max_failures": 3,
        "login_window_s": 60,
        "login_lockout_s": lockout_s,
        "trusted_proxies": ["127.0.0.1"],
    }
    settings = WebSettings.model_validate({**own_world.settings.model_dump(), **overrides})
    app = create_app(settings, own_world.registry, None)
    opened: list[TestClient] = []

    def make(peer: str = ATTACKER) -> TestClient:
        client = TestClient(app, client=(peer, 40000), follow_redirects=False)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


def _login(client: TestClient, token: str, forwarded: str | None = None) -> Any:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return client.post("/login", data={"token": token, "next": "/"}, headers=headers)


def _wrong(world: World, user: str = "eng-a") -> str:
    token = world.tokens[user]
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


def _audit(world: World, subject: str) -> list[str]:
    return [e.action for e in world.registry.audit(subject=subject)]


def _wait_unlocked(world: World, key: str) -> None:
    deadline = time.monotonic() + 30
    while world.registry.login_locks([key]):
        assert time.monotonic() < deadline, f"{key} still locked"
        time.sleep(0.1)


@pytest.mark.parametrize("lockout_s", [5], ids=["lockout-5s"])  # it waits for the end
def test_the_nth_failed_login_is_refused_audited_and_the_right_token_works_after(
    make_client: ClientMaker, own_world: World
) -> None:
    client = make_client()
    for _ in range(2):
        assert _login(client, "rvt_not_a_token").status_code == 401
    third = _login(client, "rvt_not_a_token")
    assert third.status_code == 429
    assert int(third.headers["retry-after"]) >= 1
    assert _audit(own_world, f"login:{ATTACKER}") == ["auth.failure", "auth.failure", "auth.lock"]
    # Locked: even the right token is not checked, and no more rows are written.
    assert _login(client, own_world.tokens["eng-a"]).status_code == 429
    assert _login(client, "rvt_not_a_token").status_code == 429
    assert len(_audit(own_world, f"login:{ATTACKER}")) == 3
    _wait_unlocked(own_world, f"addr:{ATTACKER}")
    opened = _login(client, own_world.tokens["eng-a"])
    assert opened.status_code == 303 and "rv_session" in opened.headers["set-cookie"]


def test_bearer_tokens_are_throttled_the_same_way(
    make_client: ClientMaker, own_world: World
) -> None:
    client = make_client()
    bad = {"Authorization": f"Bearer {_wrong(own_world)}"}
    assert [client.get("/api/v1/me", headers=bad).status_code for _ in range(2)] == [401, 401]
    locked = client.get("/api/v1/me", headers=bad)
    assert locked.status_code == 429 and locked.headers["retry-after"]
    assert locked.json()["type"].endswith("/too-many-logins")
    assert client.get("/api/v1/me", headers=own_world.headers("eng-a")).status_code == 429
    elsewhere = make_client("198.51.100.7")
    assert elsewhere.get("/api/v1/me", headers=own_world.headers("eng-a")).status_code == 200
    rows = own_world.registry.audit(subject=f"login:{ATTACKER}")
    assert [r.action for r in rows][-1] == "auth.lock" and '"via": "bearer"' in rows[-1].detail


def test_a_token_id_alone_cannot_lock_its_owner_out(
    make_client: ClientMaker, own_world: World
) -> None:
    proxy = make_client("127.0.0.1")  # the trusted reverse proxy: X-Forwarded-For counts
    wrong = _wrong(own_world)
    codes = [_login(proxy, wrong, f"203.0.113.{n}").status_code for n in range(1, 5)]
    assert codes == [401, 401, 429, 429]  # the token id is locked for wrong secrets
    assert _login(proxy, own_world.tokens["eng-a"], "203.0.113.99").status_code == 303


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_client: ClientMaker, own_world: World
) -> None:
    client = make_client()  # not a trusted proxy: the header is the client's own claim
    codes = [_login(client, "nope", f"203.0.113.{n}").status_code for n in range(1, 4)]
    assert codes == [401, 401, 429]
    assert _audit(own_world, f"login:{ATTACKER}")[-1] == "auth.lock"
