"""Fixtures of the web app's tests: one world per registry backend (registry, bundles,
influxd), built once for the session when a test first asks for it.

Tests add decisions and audit entries to it but change nothing another test reads.

A module runs on SQLite; one marked with :data:`ON_BOTH_REGISTRIES` runs every test twice,
once on each backend (``test_x[sqlite]``, ``test_x[postgresql]``). The PostgreSQL world is a
fresh database in the session's one cluster (``registry_cluster``, tests/collector/conftest.py),
so the second backend costs a world's build and the tests' own time, not a cluster per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.web.app import create_app
from stack import InfluxServer
from tests.collector.registry_backends import RegistryCluster
from tests.collector.web.world import World, build_world


@pytest.fixture(scope="session")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One influxd for the web tests (they read it; evidence runs write nothing to it)."""
    server = InfluxServer(tmp_path_factory.mktemp("influxd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def web_backend(request: pytest.FixtureRequest) -> str:
    """The registry backend of the module's world: ``sqlite`` unless the module is marked
    :data:`ON_BOTH_REGISTRIES` (then each of its tests runs on both)."""
    backend: str = getattr(request, "param", "sqlite")
    return backend


@pytest.fixture(scope="session")
def sqlite_world(
    tmp_path_factory: pytest.TempPathFactory, influx_server: InfluxServer
) -> Iterator[World]:
    """Two provinces, three platforms, users of every role, five bundles, six days of data,
    with the registry in a SQLite file."""
    built = build_world(tmp_path_factory.mktemp("world"), influx_server)
    try:
        yield built
    finally:
        built.registry.close()


@pytest.fixture(scope="session")
def postgresql_world(
    tmp_path_factory: pytest.TempPathFactory,
    influx_server: InfluxServer,
    registry_cluster: RegistryCluster,
) -> Iterator[World]:
    """The same world with the registry in a fresh PostgreSQL database, and its windows in an
    InfluxDB database of its own (the SQLite world's stay apart)."""
    built = build_world(
        tmp_path_factory.mktemp("world-pg"),
        influx_server,
        registry_at=registry_cluster.fresh(),
        influx_database="rv_pg",
    )
    try:
        yield built
    finally:
        built.registry.close()


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, web_backend: str) -> World:
    """The world on the module's registry backend (each is built once per session)."""
    built: World = request.getfixturevalue(f"{web_backend}_world")
    return built


def _client(world: World) -> Iterator[TestClient]:
    app = create_app(world.settings, world.registry, world.influx_opener())
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture(scope="session")
def sqlite_client(sqlite_world: World) -> Iterator[TestClient]:
    """The app in-process on the SQLite world (its lifespan opens the InfluxDB client)."""
    yield from _client(sqlite_world)


@pytest.fixture(scope="session")
def postgresql_client(postgresql_world: World) -> Iterator[TestClient]:
    """The app in-process on the PostgreSQL world."""
    yield from _client(postgresql_world)


@pytest.fixture(scope="module")
def client(request: pytest.FixtureRequest, web_backend: str) -> TestClient:
    """The app in-process on the module's registry backend."""
    test_client: TestClient = request.getfixturevalue(f"{web_backend}_client")
    return test_client


@pytest.fixture
def pg_world(tmp_path: Path, registry_cluster: RegistryCluster) -> Iterator[World]:
    """A world of the test's own on a fresh PostgreSQL database, no InfluxDB (for tests that
    stop, restart or cut the registry, so no other test's world sees it)."""
    built = build_world(tmp_path, None, registry_at=registry_cluster.fresh())
    try:
        yield built
    finally:
        built.registry.close()
