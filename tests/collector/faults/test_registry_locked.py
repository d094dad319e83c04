"""The registry's SQLite file locked past the busy timeout: ingest holds, then resumes by itself.

Another process (a `plan load`, a backup, a stuck admin shell) can hold the registry's write
lock. Ingest must treat that like InfluxDB being down: acknowledge nothing, keep its session,
and carry on when the lock is released, not stop working while it still looks healthy.
"""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import pytest

from collector.registry import DEFAULT_BUSY_TIMEOUT_S
from stack import InfluxServer, MosquittoServer
from tests.collector.faults.conftest import ReplicaFactory
from tests.collector.faults.harness import (
    Publisher,
    count_windows,
    ingest_ready,
    make_agents,
    register,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.timeout(150)

SEED = 6004
#: Held a little longer than the registry's busy timeout, so ingest's seq record gives up.
LOCK_HELD_S = DEFAULT_BUSY_TIMEOUT_S + 3


def test_registry_locked_past_busy_timeout_then_released_loses_nothing(
    broker: MosquittoServer, influx: InfluxServer, replicas: ReplicaFactory, tmp_path: Path
) -> None:
    (agent,) = make_agents(random.Random(SEED), 1, devices=1)
    registry_path = tmp_path / "registry.sqlite"
    register(registry_path, [agent])
    config = write_config(tmp_path / "collector.yaml", registry_path, broker, influx, inflight=16)
    replica = replicas(config, "collector-1")
    replica.start()
    ingest_ready(broker, influx, agent, seq=1)

    lock = sqlite3.connect(registry_path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        with Publisher(broker) as publisher:
            publisher.send_all((agent.topic, agent.payload(seq)) for seq in range(2, 12))
        time.sleep(LOCK_HELD_S)
        lock.execute("COMMIT")
    finally:
        lock.close()
    with Publisher(broker) as publisher:
        publisher.send_all((agent.topic, agent.payload(seq)) for seq in range(12, 22))

    wait_until(
        lambda: count_windows(influx) >= 21,
        30,  # InfluxDB's retry back-off is capped at 15 s; the registry's should be alike
        "all 21 windows stored after the lock was released",
        lambda: f"(have {count_windows(influx)}; ingest log:\n{replica.tail()})",
    )
    assert replica.alive(), replica.tail()
