"""Evidence runs are a bounded queue shared through the registry (issue 14, finding 3).

Each test builds its own world (registry, bundles) on the session's influxd, so the slots it
holds never reach another test. Where a run must stay inside its worker thread, the app's
bundle store is a :class:`GatedBundleStore`: the real store, whose ``store`` waits for the
test to open a gate first. That is the one way to hold a real worker thread still without
timing: the engine and everything it reads stay real.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.bundle import BundleInfo, BundleStore
from collector.registry import Registry
from collector.web.app import create_app
from collector.web.settings import WebSettings
from collector.web.state import WebState
from tests.collector.web.world import World, build_world

#: Long enough for any real run on a loaded 2-core machine; only a failing test waits this long.
DRAIN_DEADLINE_S = 300.0


class GatedBundleStore(BundleStore):
    """The real bundle store, whose ``store`` waits until the test opens the gate."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def store(self, enterprise: str, write: Callable[[Path], None]) -> BundleInfo:
        self.entered.set()
        if not self.gate.wait(DRAIN_DEADLINE_S):
            raise RuntimeError("the test never opened the gate")
        return super().store(enterprise, write)


AppMaker = Callable[..., tuple[TestClient, GatedBundleStore]]


@pytest.fixture
def own_world(tmp_path: Path, world: World) -> Iterator[World]:
    """A world of this test's own, reading the session's influxd (the shared world made it)."""
    (tmp_path / "own").mkdir()
    built = build_world(tmp_path / "own", None)
    built.read_influx_of(world)
    try:
        yield built
    finally:
        built.registry.close()


@pytest.fixture
def make_app(own_world: World) -> Iterator[AppMaker]:
    """Start apps on ``own_world``'s registry (or another one) with settings overridden."""
    opened: list[tuple[TestClient, GatedBundleStore]] = []

    def make(
        registry: Registry | None = None, **overrides: Any
    ) -> tuple[TestClient, GatedBundleStore]:
        settings = WebSettings.model_validate({**own_world.settings.model_dump(), **overrides})
        app = create_app(settings, registry or own_world.registry, own_world.influx_opener())
        state: WebState = app.state.web
        gated = GatedBundleStore(settings.evidence_dir)
        state.bundles = gated
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        opened.append((client, gated))
        return client, gated

    yield make
    for _, gated in opened:
        gated.gate.set()
    _drain(own_world.registry)
    for client, _ in opened:
        client.__exit__(None, None, None)


def _state(client: TestClient) -> WebState:
    state: WebState = client.app.state.web  # type: ignore[attr-defined]  # Starlette types app as ASGIApp
    return state


def _drain(registry: Registry) -> None:
    """Wait until no slot of this registry is held (the workers have finished)."""
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    while registry.run_slots():
        if time.monotonic() > deadline:
            raise AssertionError(f"slots still held: {registry.run_slots()}")
        time.sleep(0.05)


def _run(client: TestClient, world: World, user: str, enterprise: str, **body: int) -> Any:
    return client.post(
        f"/api/v1/enterprises/{enterprise}/evidence",
        json=body or None,
        headers=world.headers(user),
    )


def _assert_busy(response: Any, words: str) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["type"].endswith("/busy") and words in body["detail"], body


def test_runs_beyond_the_limits_are_refused_with_429_and_retry_after(
    make_app: AppMaker, own_world: World
) -> None:
    client, gated = make_app(
        evidence_timeout_s=0.2, evidence_runs_per_user=2, evidence_queue_size=3
    )
    # Each accepted run stays in the queue (its worker is held at the gate): the request
    # gives up after its timeout (503), the slot stays.
    assert _run(client, own_world, "eng-a", "e05").status_code == 503
    _assert_busy(_run(client, own_world, "rev-nb", "e05"), "enterprise e05")
    assert _run(client, own_world, "eng-a", "e06").status_code == 503
    _assert_busy(_run(client, own_world, "eng-a", "e07"), "you have 2")
    assert _run(client, own_world, "rev-nb", "e08").status_code == 503
    _assert_busy(_run(client, own_world, "rev-cn", "c05"), "queue")
    gated.gate.set()
    _drain(own_world.registry)
    # Every accepted run finished after its request had given up, stored and audited.
    audited = own_world.registry.audit_page(
        subjects=None, action="evidence.run", subject=None, limit=10, offset=0
    )[0]
    assert sorted(entry.subject for entry in audited) == ["plat-a/e05", "plat-a/e06", "plat-a/e08"]
    assert _run(client, own_world, "eng-a", "e07").status_code in (201, 503)


def test_a_slot_is_held_until_the_worker_ends_even_after_the_request_timed_out(
    make_app: AppMaker, own_world: World
) -> None:
    client, gated = make_app(evidence_timeout_s=0.2)
    timed_out = _run(client, own_world, "eng-a", "e05")
    assert timed_out.status_code == 503 and "continues" in timed_out.json()["detail"]
    assert gated.entered.wait(DRAIN_DEADLINE_S)  # the worker thread is inside the run
    assert [s.enterprise for s in own_world.registry.run_slots()] == ["e05"]
    _assert_busy(_run(client, own_world, "eng-a", "e05"), "enterprise e05")
    gated.gate.set()
    _drain(own_world.registry)
    assert [b.enterprise for b in gated.bundles("e05")] == ["e05"]


def test_a_second_app_on_the_same_registry_file_sees_the_first_ones_slots(
    make_app: AppMaker, own_world: World
) -> None:
    first, _ = make_app(evidence_timeout_s=0.2, evidence_queue_size=2)
    with Registry(own_world.registry_at) as other_registry:
        second, _ = make_app(other_registry, evidence_timeout_s=0.2, evidence_queue_size=2)
        assert _run(first, own_world, "eng-a", "e05").status_code == 503
        _assert_busy(_run(second, own_world, "rev-nb", "e05"), "enterprise e05")
        assert _run(second, own_world, "rev-nb", "e06").status_code == 503
        _assert_busy(_run(first, own_world, "rev-cn", "c05"), "queue is full")
        assert {s.holder for s in own_world.registry.run_slots()} == {
            _state(first).replica,
            _state(second).replica,
        }
        for client in (first, second):
            _state(client).bundles.gate.set()  # type: ignore[attr-defined]  # a GatedBundleStore
        _drain(own_world.registry)


def test_an_expired_lease_of_a_crashed_replica_is_reclaimed(
    make_app: AppMaker, own_world: World
) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    claimed = own_world.registry.claim_run_slot(
        user="eng-a",
        platform="plat-a",
        enterprise="e05",
        holder="replica-that-crashed",
        per_user=2,
        per_enterprise=1,
        queue=8,
        lease_s=60,
        now=long_ago,
    )
    assert claimed.ok
    client, gated = make_app(evidence_timeout_s=600)
    gated.gate.set()
    response = _run(client, own_world, "eng-a", "e05")
    assert response.status_code == 201, response.text
    assert own_world.registry.run_slots() == []


def test_seed_is_an_administrators_option(make_app: AppMaker, own_world: World) -> None:
    client, gated = make_app(evidence_timeout_s=600)
    gated.gate.set()
    for user in ("eng-a", "rev-nb"):
        refused = _run(client, own_world, user, "e05", seed=7)
        assert refused.status_code == 403, refused.text
        assert "seed" in refused.json()["detail"]
    zero = _run(client, own_world, "rev-nb", "e05", seed=0)
    assert zero.status_code == 403  # 0 is a seed too, not "no seed"
    assert own_world.registry.run_slots() == []
    chosen = _run(client, own_world, "admin", "e05", seed=7)
    assert chosen.status_code == 201, chosen.text
    runs = own_world.registry.audit_page(
        subjects=None, action="evidence.run", subject="plat-a/e05", limit=10, offset=0
    )[0]
    assert runs[0].actor == "admin" and '"seed": 7' in runs[0].detail


def _page_login(client: TestClient, world: World, user: str) -> str:
    """Log in through the form; return the session's CSRF token from a page."""
    client.cookies.clear()
    response = client.post(
        "/login", data={"token": world.tokens[user], "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/enterprises/e05").text)
    assert found is not None
    return found.group(1)


def test_a_run_refused_from_the_page_keeps_its_retry_after(
    make_app: AppMaker, own_world: World
) -> None:
    # The page answers a refusal with the error page: it must still say when to try again.
    client, _ = make_app(evidence_timeout_s=0.2)
    csrf = _page_login(client, own_world, "rev-nb")
    form = {"csrf": csrf}
    first = client.post("/enterprises/e05/evidence", data=form, follow_redirects=False)
    assert first.status_code == 503, first.text  # its worker waits at the gate, holding the slot
    second = client.post("/enterprises/e05/evidence", data=form, follow_redirects=False)
    assert second.status_code == 429, second.text
    assert second.headers["content-type"].startswith("text/html")
    assert int(second.headers["retry-after"]) > 0
