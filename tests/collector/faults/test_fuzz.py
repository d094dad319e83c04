"""Ten thousand hostile messages among valid traffic: each quarantined with its reason."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from collector.registry import Registry
from stack import InfluxServer, MosquittoServer
from tests.collector.faults.conftest import ReplicaFactory
from tests.collector.faults.harness import (
    Publisher,
    SigningAgent,
    count_windows,
    distinct_windows,
    ingest_ready,
    make_agents,
    register,
    seeded_key,
    wait_until,
    write_config,
)
from tests.collector.faults.hostile import Cast, Hostile, hostile

pytestmark = pytest.mark.timeout(150)

SEED = 20261125
HOSTILE = 10_000
VALID_PER_AGENT = 300


def traffic(cast: Cast, probe_seqs: int) -> tuple[list[tuple[str, bytes]], list[Hostile], int]:
    """Valid messages and hostile ones interleaved at random; (messages, hostile, valid count).

    A replayed seq is only drawn from seqs already sent, so it always follows its original.
    """
    messages: list[tuple[str, bytes]] = []
    bad: list[Hostile] = []
    next_seq = {agent.agent: probe_seqs + 1 for agent in cast.honest}
    valid_left = VALID_PER_AGENT * len(cast.honest)
    while len(bad) < HOSTILE or valid_left:
        if valid_left and cast.rng.random() < valid_left / (valid_left + HOSTILE - len(bad)):
            last = probe_seqs + VALID_PER_AGENT
            agent = cast.rng.choice([a for a in cast.honest if next_seq[a.agent] <= last])
            seq = next_seq[agent.agent]
            next_seq[agent.agent] += 1
            messages.append((agent.topic, agent.payload(seq)))
            cast.sent[agent.agent].append(seq)
            valid_left -= 1
        else:
            one = hostile(cast)
            bad.append(one)
            messages.append((one.topic, one.payload))
    return messages, bad, VALID_PER_AGENT * len(cast.honest)


def test_hostile_messages_are_quarantined_with_their_reason_and_valid_ones_stored(
    broker: MosquittoServer, influx: InfluxServer, replicas: ReplicaFactory, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    honest = make_agents(rng, 3, devices=2)
    revoked = SigningAgent("gw-revoked", "ent-02", seeded_key(rng), ("dev-0",))
    registry_path = tmp_path / "registry.sqlite"
    register(registry_path, honest, revoked=[revoked])
    config = write_config(tmp_path / "collector.yaml", registry_path, broker, influx, inflight=64)
    replica = replicas(config, "collector-1")
    replica.start()
    for agent in honest:
        ingest_ready(broker, influx, agent, seq=1)

    cast = Cast(honest, revoked, rng, {agent.agent: [1] for agent in honest})
    messages, bad, valid = traffic(cast, probe_seqs=1)
    with Publisher(broker, max_inflight=500) as publisher:
        publisher.send_all(messages)

    expected = Counter(h.reason for h in bad)
    with Registry(registry_path) as registry:
        wait_until(
            lambda: sum(registry.quarantine_counts().values()) >= HOSTILE,
            90,
            "every hostile message quarantined",
            lambda: f"({registry.quarantine_counts()}; ingest log:\n{replica.tail()})",
        )
        wanted = (valid + len(honest)) * 2  # valid messages and probes, 2 devices each
        wait_until(lambda: count_windows(influx) >= wanted, 60, f"{wanted} windows stored")
        assert replica.alive(), f"ingest died: {replica.tail()}"
        assert registry.quarantine_counts() == dict(expected), Counter(h.kind for h in bad)
        for agent in honest:
            assert registry.seq_gaps(agent.agent) == []
            assert registry.highest_seq(agent.agent) == 1 + VALID_PER_AGENT
    stored = distinct_windows(influx)
    assert stored == {
        (agent.agent, device, seq)
        for agent in honest
        for device in agent.devices
        for seq in range(1, VALID_PER_AGENT + 2)
    }
    assert replica.stop() == 0
    assert_quarantine_log_is_bounded(replica.log_path.read_text(), len(expected))


def assert_quarantine_log_is_bounded(log_text: str, reasons: int) -> None:
    """A few WARNING lines per reason, the rest summed: every hostile message accounted for."""
    lines = [line for line in log_text.splitlines() if " WARNING " in line]
    individual = [line for line in lines if "quarantined a message on" in line]
    summed = sum(
        int(match.group(1).replace(",", ""))
        for line in lines
        if (match := re.search(r"quarantine: ([\d,]+) more messages", line))
    )
    assert len(individual) + summed == HOSTILE
    # The default burst (10) per reason and minute; the run may straddle two minutes.
    assert len(individual) <= 2 * 10 * reasons, f"{len(individual)} lines for {reasons} reasons"
