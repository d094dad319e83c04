"""Fixtures of the collector's tests: the registry on each of its backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector.registry_backends import BACKENDS, RegistryCluster


@pytest.fixture(scope="session")
def registry_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryCluster]:
    """One real PostgreSQL cluster for the session's registry tests."""
    cluster = RegistryCluster(tmp_path_factory.mktemp("registry-postgres"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=BACKENDS)
def registry_location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a test's registry is: a SQLite file, or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "registry.sqlite"
    cluster: RegistryCluster = request.getfixturevalue("registry_cluster")
    return cluster.fresh()
