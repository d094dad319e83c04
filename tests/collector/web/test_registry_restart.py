"""The web app when PostgreSQL closes its connections (a restart, a failover, an operator's
``pg_terminate_backend``): each pooled connection fails once (docs/scaling.md), and those
requests must be 503 with ``Retry-After``, on the API and on pages, then the app works again by
itself. SQLite has no connections to lose; its busy registry is in test_api_input.py.

The registry is a fresh database of the session's cluster, so closing its connections touches
no other test's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.web.app import create_app
from tests.collector.registry_backends import RegistryCluster, raw_rows
from tests.collector.web.world import World, build_world

#: The registry's pool size (collector/registry/postgres/database.py DEFAULT_POOL_SIZE).
POOL_SIZE = 4
#: Requests sent after the connections were closed: twice what the pool holds.
ATTEMPTS = 2 * POOL_SIZE


@pytest.fixture
def own_world(tmp_path: Path, registry_cluster: RegistryCluster) -> Iterator[World]:
    """A world of this test's own on PostgreSQL (no InfluxDB: the routes used do not read it)."""
    built = build_world(tmp_path, None, registry_at=registry_cluster.fresh())
    try:
        yield built
    finally:
        built.registry.close()


def _fill_pool(world: World) -> None:
    """Leave the pool holding all its connections, as a busy app's does: one read open inside
    another until each has its own (the pool keeps them idle afterwards)."""
    with contextlib.ExitStack() as reads:
        for _ in range(POOL_SIZE):
            # The Database behind the Registry: nothing public opens a connection and keeps it.
            reads.enter_context(world.registry._database.read())


def _close_connections(url: str) -> int:
    """Terminate every other session on the database, as a restart would; how many."""
    rows = raw_rows(
        url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    return int(str(rows[0][0]))


def test_connections_the_server_closed_are_503_then_the_app_works_again(
    own_world: World,
) -> None:
    app = create_app(own_world.settings, own_world.registry, None)
    # Server errors as responses: without the fix they are 500s, which is what is checked.
    with TestClient(
        app, base_url="http://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as http:
        login = http.post("/login", data={"token": own_world.tokens["rev-nb"], "next": "/"})
        assert login.status_code == 303, login.text[:300]  # a page session: the cookie
        assert http.get("/fleet").status_code == 200
        _fill_pool(own_world)
        assert _close_connections(str(own_world.registry_at)) >= POOL_SIZE
        answers = []
        for attempt in range(ATTEMPTS):
            # A page with the session cookie, then the API with a token, in turn.
            response = (
                http.get("/fleet")
                if attempt % 2 == 0
                else http.get("/api/v1/me", headers=own_world.headers("rev-nb"))
            )
            answers.append(response)
    statuses = [response.status_code for response in answers]
    # The page's error handler must not ask the registry who the caller is: on the next broken
    # connection that would fail again, inside the handler, as a 500.
    assert set(statuses) <= {200, 503} and statuses[0] == 503, statuses
    refused = [response for response in answers if response.status_code == 503]
    assert all(response.headers.get("retry-after") == "5" for response in refused)
    assert statuses[-2:] == [200, 200], statuses  # reconnected by itself, no restart
