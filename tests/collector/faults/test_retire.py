"""Retiring a replica: `ingest --retire` drains its session and ends it, so nothing is stranded.

mosquitto 2.0.11 keeps routing a dead shared-subscription member's share of the windows to its
session until the session expires (docs/scaling.md). A replica removed for good must therefore
be retired: what its session holds is stored, the session ends, and from then on the other
replicas get every window.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from stack import InfluxServer, MosquittoServer
from tests.collector.faults.conftest import ReplicaFactory
from tests.collector.faults.harness import (
    Publisher,
    assert_stored_exactly_once,
    count_windows,
    ingest_ready,
    make_agents,
    register,
    write_config,
)

pytestmark = pytest.mark.timeout(120)

COLLECTOR = str(Path(sys.executable).with_name("retrofit-collector"))


def test_retired_replica_strands_no_window(
    broker: MosquittoServer, influx: InfluxServer, replicas: ReplicaFactory, tmp_path: Path
) -> None:
    agents = make_agents(random.Random(6003), 2, devices=3)
    registry_path = tmp_path / "registry.sqlite"
    register(registry_path, agents)
    config = write_config(tmp_path / "collector.yaml", registry_path, broker, influx, inflight=16)
    keep, leave = replicas(config, "collector-1"), replicas(config, "collector-2")
    keep.start()
    leave.start()
    for agent in agents:
        ingest_ready(broker, influx, agent, seq=1)
    leave.kill()  # gone for good: its session goes on collecting its share

    with Publisher(broker, client_id="agents") as publisher:
        publisher.send_all((a.topic, a.payload(seq)) for seq in range(2, 41) for a in agents)
        publisher.wait_acked()
    stranded = 2 * 39 * 3 - (count_windows(influx) - 2 * 3)
    assert stranded > 0, "the dead replica's session held nothing: nothing to show"

    retired = subprocess.run(
        [COLLECTOR, "ingest", "--config", str(config), "--client-id", "collector-2", "--retire"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert retired.returncode == 0, retired.stderr[-2000:]
    assert "drained" in retired.stderr

    # The session is gone: every later window goes to the replica that stays.
    with Publisher(broker, client_id="agents") as publisher:
        publisher.send_all((a.topic, a.payload(seq)) for seq in range(41, 61) for a in agents)
        publisher.wait_acked()
    assert_stored_exactly_once(influx, registry_path, agents, 60, keep.tail)
