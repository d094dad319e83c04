"""Hostile input at the API's boundary: dates out of range, duplicate JSON keys, control
characters in free text, and failures behind the API (InfluxDB down, the registry busy) that
must not show their internals."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.registry import Registry
from collector.store import InfluxStore
from collector.web.app import create_app
from stack.ports import free_port
from tests.collector.registry_backends import writes_held
from tests.collector.web.world import ON_BOTH_REGISTRIES, World

pytestmark = ON_BOTH_REGISTRIES


def _invalid_at(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert any(error["loc"][-1] == field for error in body["errors"]), body
    assert field in body["detail"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/enterprises/e01/coverage", {"from": "0001-01-01", "to": "0001-01-02"}, "from"),
        ("/api/v1/enterprises/e01/coverage", {"from": "2026-01-01", "to": "9999-12-31"}, "to"),
        ("/api/v1/enterprises/e01/coverage", {"from": "2262-04-01", "to": "2262-04-30"}, "from"),
        ("/api/v1/enterprises/e01/kpis/oee", {"from": "0001-01-01"}, "from"),
        ("/api/v1/enterprises/e01/kpis/oee", {"to": "9999-12-31"}, "to"),
        ("/api/v1/quarantine", {"since": "9999-12-31T23:59:59-23:59"}, "since"),
        ("/api/v1/quarantine", {"since": "0001-01-01T00:00:00+23:59"}, "since"),
        ("/api/v1/quarantine", {"since": "1900-01-01T00:00:00Z"}, "since"),
    ],
)
def test_a_date_out_of_range_is_422_naming_the_field(
    client: TestClient, world: World, path: str, params: dict[str, str], field: str
) -> None:
    _invalid_at(client.get(path, params=params, headers=world.headers("admin")), field)


def test_dates_in_range_still_answer(client: TestClient, world: World) -> None:
    for path, params in (
        ("/api/v1/enterprises/e01/coverage", {"from": "2199-01-01", "to": "2199-12-31"}),
        ("/api/v1/quarantine", {"since": "2026-06-01T00:00:00+08:00"}),
        ("/api/v1/quarantine", {"since": "2026-06-01T00:00:00"}),  # naive: UTC
    ):
        response = client.get(path, params=params, headers=world.headers("admin"))
        assert response.status_code == 200, (path, response.text)


# --- failures behind the API ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dead_influx(world: World) -> Any:
    """The app with an InfluxDB URL nothing listens on: every read fails to connect."""
    url = f"http://127.0.0.1:{free_port()}"
    app = create_app(world.settings, world.registry, lambda: InfluxStore(url, "rv"))
    with TestClient(app, base_url="http://testserver") as http:
        yield http, url


def test_an_influxdb_failure_is_logged_and_the_client_told_only_what_it_can_do(
    dead_influx: Any, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    http, url = dead_influx
    port = url.rsplit(":", 1)[1]
    caplog.set_level(logging.WARNING)
    for method, path in (
        ("GET", "/api/v1/enterprises/e01/coverage?from=2026-06-01&to=2026-06-30"),
        ("GET", "/api/v1/enterprises/e01/kpis/oee"),
        ("POST", "/api/v1/enterprises/e01/evidence"),
    ):
        caplog.clear()
        response = http.request(method, path, headers=world.headers("admin"))
        assert response.status_code == 503, (path, response.text)
        body = response.json()
        assert "127.0.0.1" not in response.text and port not in response.text, body
        assert re.search(r"try again", body["detail"]), body
        error_id = body["error_id"]
        logged = [r for r in caplog.records if error_id in r.getMessage()]
        assert logged and url in logged[0].getMessage(), [r.getMessage() for r in caplog.records]
    health = http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["checks"]["influx"] == "unavailable"
    assert port not in health.text


@pytest.fixture(scope="module")
def impatient(world: World) -> Iterator[TestClient]:
    """The app on the world's registry opened with a busy timeout of 0.5 s (PostgreSQL's
    lock_timeout), from an address of its own (its failed logins count for no other test)."""
    with Registry(world.registry_at, busy_timeout_s=0.5) as registry:
        app = create_app(world.settings, registry, None)
        with TestClient(app, base_url="http://testserver", client=("192.0.2.50", 40000)) as http:
            yield http


def test_a_registry_busy_past_its_timeout_is_503_with_retry_after_then_works(
    impatient: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A write that waits past the busy timeout (another writer's long transaction; on
    PostgreSQL also a restart or a lost pooled connection: RegistryUnavailable, retryable) is
    a 503 that says to try again, on the API and on pages; never a 500 "the server failed"."""
    body = {"bundle_id": world.bundles["e02"].bundle_id, "outcome": "rectify", "comment": "busy"}
    decide = functools.partial(
        impatient.post, "/api/v1/enterprises/e02/decisions", headers=world.headers("rev-nb")
    )
    caplog.set_level(logging.WARNING)
    with writes_held(world.registry_at):
        api = decide(json=body)
        page = impatient.post("/login", data={"token": "rvt_000000000000_wrong", "next": "/"})
    assert (api.status_code, api.headers.get("retry-after")) == (503, "5"), api.text
    assert api.headers["content-type"] == "application/problem+json"
    assert re.search(r"try again", api.json()["detail"]), api.text
    assert str(world.registry.path) not in api.text and "127.0.0.1" not in api.text
    logged = [r.getMessage() for r in caplog.records if api.json()["error_id"] in r.getMessage()]
    assert logged and "RegistryUnavailable" in logged[0], logged
    assert (page.status_code, page.headers.get("retry-after")) == (503, "5"), page.text[:300]
    assert page.headers["content-type"].startswith("text/html")
    again = decide(json=body)
    assert again.status_code == 201, again.text
    decisions = impatient.get("/api/v1/enterprises/e02/decisions", headers=world.headers("admin"))
    assert [d["comment"] for d in decisions.json()].count("busy") == 1  # the 503 wrote nothing


# --- JSON bodies and free text ------------------------------------------------------------------


def _post(client: TestClient, world: World, path: str, body: bytes, user: str = "rev-nb") -> Any:
    headers = {**world.headers(user), "content-type": "application/json"}
    return client.post(path, content=body, headers=headers)


def test_a_json_body_with_a_duplicate_key_is_422(client: TestClient, world: World) -> None:
    bundle = world.bundles["e02"].bundle_id.encode()
    decision = (
        b'{"bundle_id": "' + bundle + b'", "outcome": "fail", "outcome": "pass", "comment": "x"}'
    )
    response = _post(client, world, "/api/v1/enterprises/e02/decisions", decision)
    _invalid_at(response, "outcome")
    nested = b'{"seed": 1, "seed": 2}'
    _invalid_at(_post(client, world, "/api/v1/enterprises/e04/evidence", nested, "eng-a"), "seed")
    decisions = client.get("/api/v1/enterprises/e02/decisions", headers=world.headers("admin"))
    assert all(d["comment"] != "x" for d in decisions.json())


@pytest.mark.parametrize(
    "comment",
    ["ok\u0000bad", "\u001b[31mred", "bell\u0007", "del\u007f", "c1\u0085", "cr\ronly"],
)
def test_a_comment_with_a_control_character_is_422(
    client: TestClient, world: World, comment: str
) -> None:
    body = {"bundle_id": world.bundles["e02"].bundle_id, "outcome": "rectify", "comment": comment}
    response = client.post(
        "/api/v1/enterprises/e02/decisions", json=body, headers=world.headers("rev-nb")
    )
    _invalid_at(response, "comment")
    assert "U+" in response.json()["detail"]


def test_a_lone_surrogate_is_422_not_a_500(client: TestClient, world: World) -> None:
    bundle = world.bundles["e02"].bundle_id.encode()
    body = b'{"bundle_id": "' + bundle + b'", "outcome": "rectify", "comment": "a\\ud800b"}'
    _invalid_at(_post(client, world, "/api/v1/enterprises/e02/decisions", body), "comment")


def test_newlines_and_tabs_are_kept_and_crlf_becomes_lf(client: TestClient, world: World) -> None:
    body = {
        "bundle_id": world.bundles["e02"].bundle_id,
        "outcome": "rectify",
        "comment": "第一条\r\n第二条:\t补数据",
    }
    response = client.post(
        "/api/v1/enterprises/e02/decisions", json=body, headers=world.headers("rev-nb")
    )
    assert response.status_code == 201, response.text
    assert response.json()["comment"] == "第一条\n第二条:\t补数据"


def test_the_decision_form_refuses_a_nul_too(client: TestClient, world: World) -> None:
    client.cookies.clear()
    client.post("/login", data={"token": world.tokens["rev-nb"], "next": "/"})
    page = client.get("/enterprises/e02")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    response = client.post(
        "/enterprises/e02/decisions",
        data={
            "csrf": found.group(1),
            "bundle_id": world.bundles["e02"].bundle_id,
            "outcome": "rectify",
            "comment": "nul\u0000here",
        },
        follow_redirects=False,
    )
    client.cookies.clear()
    assert response.status_code == 422, response.text
    assert "U+0000" in response.text
