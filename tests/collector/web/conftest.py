"""Fixtures of the web app's tests: one world for all of them (registry, bundles, influxd).

Tests add decisions and audit entries to it but change nothing another test reads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from collector.store import InfluxStore
from collector.web.app import create_app
from stack import InfluxServer
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


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, influx_server: InfluxServer) -> Iterator[World]:
    """Two provinces, three platforms, users of every role, five bundles, six days of data."""
    built = build_world(tmp_path_factory.mktemp("world"), influx_server)
    try:
        yield built
    finally:
        built.registry.close()


@pytest.fixture(scope="session")
def client(world: World) -> Iterator[TestClient]:
    """The app in-process (its lifespan opens the InfluxDB client)."""
    url = world.influx_url
    app = create_app(
        world.settings, world.registry, None if url is None else (lambda: InfluxStore(url, "rv"))
    )
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client
