"""The registry's PostgreSQL server SIGKILLed mid-flow and started again: ingest holds, then
resumes by itself, and nothing is lost or doubled.

Like a locked SQLite file (test_registry_locked.py), a registry that cannot be reached is
``RegistryUnavailable`` with ``retryable``: ingest acknowledges nothing, keeps its session and
retries with back-off. The registry finds its pooled connections broken before use and waits
up to 10 s for a new one, acknowledging nothing meanwhile; a server back by then costs no
failed call at all.
A kill (not a clean stop) also checks that every seq the registry acknowledged survived the
crash: a lost seq record would let a re-delivered window through as new (doubled in the
count of "new") or leave a gap open.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from stack import InfluxServer, MosquittoServer, PostgresServer
from tests.collector.faults.conftest import ReplicaFactory
from tests.collector.faults.harness import (
    Publisher,
    assert_stored_exactly_once,
    ingest_ready,
    make_agents,
    register,
    write_config,
)

pytestmark = pytest.mark.timeout(240)

SEED = 6019
#: How long the server stays down: a restart or a short fail-over.
DOWN_S = 8.0


def test_postgres_killed_mid_flow_and_restarted_loses_nothing(
    broker: MosquittoServer,
    influx: InfluxServer,
    replicas: ReplicaFactory,
    postgres: PostgresServer,
    tmp_path: Path,
) -> None:
    (agent,) = make_agents(random.Random(SEED), 1, devices=2)
    postgres.create_database("registry")
    url = postgres.url("registry")
    register(url, [agent])
    config = write_config(tmp_path / "collector.yaml", url, broker, influx, inflight=16)
    replica = replicas(config, "collector-1")
    replica.start()
    ingest_ready(broker, influx, agent, seq=1)

    with Publisher(broker) as publisher:
        publisher.send_all((agent.topic, agent.payload(seq)) for seq in range(2, 12))
    postgres.kill()
    with Publisher(broker) as publisher:  # they wait at the broker, unacknowledged
        publisher.send_all((agent.topic, agent.payload(seq)) for seq in range(12, 22))
    time.sleep(DOWN_S)
    postgres.start()  # crash recovery replays the WAL
    with Publisher(broker) as publisher:
        publisher.send_all((agent.topic, agent.payload(seq)) for seq in range(22, 32))

    assert_stored_exactly_once(influx, url, [agent], 31, replica.tail)
    assert replica.alive(), replica.tail()
    log = replica.log_path.read_text(errors="replace")
    # The registry found its connections broken and waited for a new one (10 s at most); past
    # that wait it is "registry unavailable", retried by the ingest (timing: not checked).
    assert "a pooled connection was broken" in log, "the outage was never seen"
    assert postgres.password not in log  # the URL in the config has it; no log line does
