"""Fixtures of the collector's fault tests: a broker, an InfluxDB and ingest replicas to start."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stack import InfluxServer, MosquittoServer
from tests.collector.faults.harness import IngestProcess
from tests.conftest import InfluxFactory, MosquittoFactory

ReplicaFactory = Callable[[Path, str], IngestProcess]


@pytest.fixture
def broker(mosquitto_factory: MosquittoFactory) -> MosquittoServer:
    """A mosquitto that is never killed here, so it needs no autosave (snapshots cost CPU)."""
    return mosquitto_factory(autosave_interval_s=0)


@pytest.fixture
def influx(influxd_factory: InfluxFactory) -> InfluxServer:
    """An influxd with the ``rv`` database the collector writes to."""
    server = influxd_factory()
    server.create_database("rv")
    return server


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[ReplicaFactory]:
    """Make (unstarted) ingest replicas: ``make(config, client_id)``; all stopped at teardown."""
    made: list[IngestProcess] = []

    def make(config: Path, client_id: str) -> IngestProcess:
        replica = IngestProcess(config, client_id, tmp_path / f"ingest-{client_id}.log")
        made.append(replica)
        return replica

    yield make
    for replica in made:
        replica.stop()
