"""InfluxDB stopped for 30 s during steady flow: nothing lost or doubled, ingest memory bounded.

The issue's outage was a minute; what it had to show is ingest's retry delay at its cap (15 s,
reached after 0.5 + 1 + 2 + 4 + 8 s of waits) and a backlog of 75 x inflight messages waiting at
the broker while ingest's memory stays flat. Thirty seconds at twice the issue's message rate
shows both with half the wall time (and ends inside the first capped wait, so ingest writes
again half a second after InfluxDB is back instead of up to 15 s later).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from stack import InfluxServer, MosquittoServer
from tests.collector.faults.conftest import ReplicaFactory
from tests.collector.faults.harness import (
    Publisher,
    SigningAgent,
    assert_stored_exactly_once,
    ingest_ready,
    make_agents,
    register,
    write_config,
)

pytestmark = pytest.mark.timeout(200)

SEED = 6001
#: Long enough for ingest's retry delay to reach its cap (15 s, after 15.5 s of waits).
OUTAGE_S = 30.0
#: Receive maximum: the broker sends ingest at most this many unacknowledged messages.
INFLIGHT = 16
#: 20 windows a message (~12 kB), so a backlog held in ingest's memory would show in its RSS.
DEVICES = 20
#: 2 agents x 20 messages/s: 1,200 messages (75 x INFLIGHT) wait at the broker by the end.
MESSAGE_INTERVAL_S = 0.05
#: RSS growth allowed over the outage, measured from 5 s into it (ingest then holds its
#: INFLIGHT messages): ~14 MB of messages wait at the broker by the end, so holding them in
#: ingest would grow it by far more than this.
RSS_GROWTH_LIMIT_KB = 5 * 1024
#: Absolute bound: a Python process with pydantic, paho, httpx and INFLIGHT messages in hand.
RSS_LIMIT_KB = 200 * 1024


class SteadyFlow:
    """Each agent publishes its next window every MESSAGE_INTERVAL_S, in a thread."""

    def __init__(self, broker: MosquittoServer, agents: list[SigningAgent], first_seq: int):
        self.broker, self.agents = broker, agents
        self.next_seq = first_seq
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steady-flow")

    def __enter__(self) -> SteadyFlow:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        with Publisher(self.broker, client_id="steady-flow") as publisher:
            tick = time.monotonic()
            while not self._stop.is_set():
                for agent in self.agents:
                    publisher.send(agent.topic, agent.payload(self.next_seq))
                    self.sent += 1
                self.next_seq += 1
                tick += MESSAGE_INTERVAL_S
                self._stop.wait(max(0.0, tick - time.monotonic()))
            publisher.wait_acked()


def test_influx_outage_loses_nothing_and_holds_memory_flat(
    broker: MosquittoServer, influx: InfluxServer, replicas: ReplicaFactory, tmp_path: Path
) -> None:
    agents = make_agents(random.Random(SEED), 2, devices=DEVICES)
    registry_path = tmp_path / "registry.sqlite"
    register(registry_path, agents)
    config = write_config(
        tmp_path / "collector.yaml", registry_path, broker, influx, inflight=INFLIGHT
    )
    replica = replicas(config, "collector-1")
    replica.start()
    for agent in agents:
        ingest_ready(broker, influx, agent, seq=1)

    with SteadyFlow(broker, agents, first_seq=2) as flow:
        time.sleep(3)
        influx.stop()
        outage_started, sent_at_stop = time.monotonic(), flow.sent
        samples: list[tuple[int, int]] = []  # (messages sent during the outage, RSS kB)
        while time.monotonic() - outage_started < OUTAGE_S:
            time.sleep(1)
            samples.append((flow.sent - sent_at_stop, replica.rss_kb()))
        influx.start()
        time.sleep(3)
    last_seq = flow.next_seq - 1

    waiting = samples[-1][0]
    assert waiting > 50 * INFLIGHT, f"only {waiting} messages published during the outage"
    assert replica.alive(), replica.tail()
    assert "InfluxDB unavailable" in replica.log_path.read_text()
    settled = [rss for elapsed_s, (_, rss) in enumerate(samples, 1) if elapsed_s >= 5]
    assert max(settled) - settled[0] < RSS_GROWTH_LIMIT_KB, samples
    assert max(rss for _, rss in samples) < RSS_LIMIT_KB, samples

    assert_stored_exactly_once(
        influx, registry_path, agents, last_seq, lambda: f"ingest log:\n{replica.tail()}"
    )
    assert replica.stop() == 0
