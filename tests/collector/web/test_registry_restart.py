"""The web app when PostgreSQL closes its connections (a restart, a failover, an operator's
``pg_terminate_backend``): the registry's pool checks a connection before use and replaces the
closed ones (collector/registry/postgres/pooled.py), so no request fails, on the API or on
pages. Before that check each pooled connection failed one request, which had to be a 503 with
``Retry-After`` (never a 500); a registry that cannot be reached still is one
(test_api_input.py for a busy SQLite file). SQLite has no connections to lose.

The registry is a fresh database of the session's cluster, so closing its connections touches
no other test's.
"""

from __future__ import annotations

import contextlib

from fastapi.testclient import TestClient

from collector.web.app import create_app
from tests.collector.registry_backends import raw_rows
from tests.collector.web.world import World

#: The registry's pool size (collector/registry/postgres/database.py DEFAULT_POOL_SIZE).
POOL_SIZE = 4
#: Requests sent after the connections were closed: twice what the pool holds.
ATTEMPTS = 2 * POOL_SIZE


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


def test_connections_the_server_closed_cost_no_request(
    pg_world: World,
) -> None:
    app = create_app(pg_world.settings, pg_world.registry, None)
    # Server errors as responses, so a failed request shows as its status.
    with TestClient(
        app, base_url="http://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as http:
        login = http.post("/login", data={"token": pg_world.tokens["rev-nb"], "next": "/"})
        assert login.status_code == 303, login.text[:300]  # a page session: the cookie
        assert http.get("/fleet").status_code == 200
        _fill_pool(pg_world)
        assert _close_connections(str(pg_world.registry_at)) >= POOL_SIZE
        answers = []
        for attempt in range(ATTEMPTS):
            # A page with the session cookie, then the API with a token, in turn.
            response = (
                http.get("/fleet")
                if attempt % 2 == 0
                else http.get("/api/v1/me", headers=pg_world.headers("rev-nb"))
            )
            answers.append(response)
    statuses = [response.status_code for response in answers]
    assert statuses == [200] * ATTEMPTS, statuses  # reconnected by itself, no request lost
