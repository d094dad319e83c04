"""The replica confirms to each agent the seqs it has stored, signed, on the agent's topic (#19).

Real mosquitto, influxd and registry; the test listens where the agent would, on
``rv/v1/{platform}/{enterprise}/{agent}/confirmations``, and checks each confirmation with
the collector confirmation key's public half, as an agent that pins it does.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from collector.ingest import Ingest, IngestSettings
from collector.ingest.confirmations import Confirmations
from collector.ingest.stats import IngestStats
from collector.registry import Registry
from collector.store import InfluxStore
from contract import wire
from contract.keys import generate_key_pair
from stack import InfluxServer, MosquittoServer
from tests.collector.ingest.test_replica import (
    AGENT,
    ENTERPRISE,
    KEY,
    PLATFORM,
    TOPIC,
    envelope,
    points,
    publish,
    registry,
    wait_until,
)
from tests.collector.seal_helpers import SealChain
from tests.mqtt_client import MqttTestClient

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

__all__ = ["registry"]  # the fixture, used here by name

CONFIRMATIONS = wire.confirmations_topic(PLATFORM, ENTERPRISE, AGENT)


def confirmation_key(tmp_path: Path) -> tuple[Path, list[Ed25519PublicKey]]:
    path = tmp_path / "confirmation-key"
    public = generate_key_pair(path, refusal="test")
    return path, [wire.public_key_from_text(public)]


def stored_seqs(message: mqtt.MQTTMessage, keys: list[Ed25519PublicKey]) -> set[int]:
    """The seqs a confirmation names, once it is checked as an agent checks it."""
    assert message.topic == CONFIRMATIONS
    assert message.qos == 1
    confirmation = wire.decode_confirmation(message.payload)
    wire.verify_confirmation(confirmation, keys)
    assert (confirmation.platform, confirmation.enterprise, confirmation.agent) == (
        PLATFORM,
        ENTERPRISE,
        AGENT,
    )
    return {seq for r in confirmation.stored for seq in range(r.first, r.last + 1)}


async def start(
    mosquitto: MosquittoServer,
    influxd: InfluxServer,
    registry: Registry,
    *,
    confirmation_key_path: str | None = None,
    confirm_every_s: float = 1.0,
) -> tuple[Ingest, asyncio.Event, asyncio.Task[None], InfluxStore]:
    store = InfluxStore(influxd.url, "rv")
    await store.ensure_database()
    await store.ensure_retention()
    settings = IngestSettings(
        host=mosquitto.host,
        port=mosquitto.port,
        inflight=16,
        confirmation_key_path=confirmation_key_path,
        confirm_every_s=confirm_every_s,
    )
    replica = Ingest(settings, registry, store)
    stop = asyncio.Event()
    task = asyncio.create_task(replica.run(stop))
    await wait_until(lambda: replica.stats.connected)
    await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
    return replica, stop, task, store


@dataclass
class Listening:
    """A running replica with a confirmation key, and a client listening where its agent
    would; ``after_stop`` holds what the listener received after the replica stopped (the
    replica confirms what is left as it stops)."""

    replica: Ingest
    agent: MqttTestClient
    keys: list[Ed25519PublicKey]
    after_stop: list[mqtt.MQTTMessage] = field(default_factory=list)


@asynccontextmanager
async def listening(
    mosquitto: MosquittoServer,
    influxd: InfluxServer,
    registry: Registry,
    tmp_path: Path | None,
    *,
    confirm_every_s: float = 1.0,
) -> AsyncIterator[Listening]:
    """``tmp_path`` None: a replica without a confirmation key (the listener hears on every
    agent's topic)."""
    keys: list[Ed25519PublicKey] = []
    key_path = None
    if tmp_path is not None:
        path, keys = confirmation_key(tmp_path)
        key_path = str(path)
    agent = MqttTestClient("agent-listening")
    agent.connect(mosquitto)
    agent.subscribe(CONFIRMATIONS if tmp_path is not None else "rv/v1/+/+/+/confirmations")
    try:
        replica, stop, task, store = await start(
            mosquitto, influxd, registry, confirmation_key_path=key_path,
            confirm_every_s=confirm_every_s,
        )  # fmt: skip
        running = Listening(replica, agent, keys)
        try:
            yield running
        finally:
            stop.set()
            await task
            await store.aclose()
        running.after_stop.extend(agent.drain(quiet_s=1.0))
    finally:
        agent.close()


async def test_stored_seqs_are_confirmed_once_a_round_signed_and_as_ranges(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry, tmp_path: Path
) -> None:
    # A round far longer than the test: what is stored is confirmed at the replica's stop, in
    # one message, however the windows were batched.
    async with listening(mosquitto, influxd, registry, tmp_path, confirm_every_s=600.0) as running:
        replica = running.replica
        for seq in (1, 2, 3, 5, 6, 9):
            publish(mosquitto, TOPIC, wire.encode(envelope(seq)))
        forged = envelope(10, key=Ed25519PrivateKey.generate())
        publish(mosquitto, TOPIC, wire.encode(forged))
        await wait_until(lambda: len(points(influxd)) == 6)
        await wait_until(lambda: replica.stats.quarantined["bad_signature"] == 1)
        # Settled too (a point is in InfluxDB a moment before its batch is settled; a replica
        # stopped in between confirms it when the broker delivers it again).
        await wait_until(lambda: replica.stats.inflight == 0)
        assert replica.stats.confirmations_sent == 0
    [message] = running.after_stop
    confirmation = wire.decode_confirmation(message.payload)
    assert [(r.first, r.last) for r in confirmation.stored] == [(1, 3), (5, 6), (9, 9)]
    assert stored_seqs(message, running.keys) == {1, 2, 3, 5, 6, 9}  # never the forged seq 10
    assert replica.stats.confirmations_sent == 1
    assert replica.stats.confirmed_seqs == 6


async def test_a_resent_batch_is_a_duplicate_and_is_confirmed_again(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry, tmp_path: Path
) -> None:
    # An agent re-sends what was not confirmed (the confirmation was lost, or the broker lost
    # the batch): the same seq and bytes are a duplicate, written again (the same point) and
    # confirmed again; never a replay, never quarantined.
    async with listening(mosquitto, influxd, registry, tmp_path, confirm_every_s=0.2) as running:
        raw = wire.encode(envelope(1))
        publish(mosquitto, TOPIC, raw)
        first = await asyncio.to_thread(running.agent.next_message, 30.0)
        publish(mosquitto, TOPIC, raw)
        again = await asyncio.to_thread(running.agent.next_message, 30.0)
    assert stored_seqs(first, running.keys) == {1}
    assert stored_seqs(again, running.keys) == {1}
    assert running.replica.stats.duplicates == 1
    assert running.replica.stats.quarantined == {}
    assert [p["seq"] for p in points(influxd)] == [1]


async def test_without_a_confirmation_key_nothing_is_confirmed(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry
) -> None:
    async with listening(mosquitto, influxd, registry, None) as running:
        publish(mosquitto, TOPIC, wire.encode(envelope(1)))
        await wait_until(lambda: len(points(influxd)) == 1)
    assert running.after_stop == []
    assert running.replica.stats.confirmations_sent == 0


async def test_a_day_seal_kept_in_the_registry_is_confirmed_with_the_windows(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry, tmp_path: Path
) -> None:
    # A day seal takes a seq from the agent's counter and waits in its outbox like a batch:
    # it is confirmed once the registry keeps it.
    first = envelope(1)
    chain = SealChain(KEY, PLATFORM, ENTERPRISE, AGENT, "press-1")
    seal = chain.seal(dt.date(2026, 11, 25), [(1, first.records[0])], seq=2)
    async with listening(mosquitto, influxd, registry, tmp_path, confirm_every_s=600.0) as running:
        replica = running.replica
        publish(mosquitto, TOPIC, wire.encode(first))
        publish(mosquitto, wire.day_seals_topic(PLATFORM, ENTERPRISE, AGENT), seal)
        await wait_until(lambda: replica.stats.day_seals["new"] == 1)
        await wait_until(lambda: len(points(influxd)) == 1)
        await wait_until(lambda: replica.stats.inflight == 0)
    seqs = set().union(*(stored_seqs(m, running.keys) for m in running.after_stop))
    assert seqs == {1, 2}


async def test_a_verified_replay_is_refused_for_good_and_a_forged_one_is_not(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry, tmp_path: Path
) -> None:
    # Seq 2 again with other content, signed by the agent (an outbox restored from an old
    # backup reuses seqs): kept in the quarantine and confirmed refused, so the agent forgets
    # it instead of re-sending it for ever. The same replay unsigned by the agent's key is
    # quarantined too but never named: a forger must not make an agent delete a batch.
    async with listening(mosquitto, influxd, registry, tmp_path, confirm_every_s=0.2) as running:
        replica = running.replica
        for seq in (1, 2, 3):
            publish(mosquitto, TOPIC, wire.encode(envelope(seq)))
        await wait_until(lambda: replica.stats.confirmed_seqs == 3)
        before = running.agent.drain(quiet_s=0.5)
        forged = envelope(3, key=Ed25519PrivateKey.generate(), total_count=99, good_count=99)
        publish(mosquitto, TOPIC, wire.encode(forged))
        publish(mosquitto, TOPIC, wire.encode(envelope(2, total_count=99, good_count=99)))
        await wait_until(lambda: replica.stats.refused_seqs == 1)
    assert set().union(*(stored_seqs(m, running.keys) for m in before)) == {1, 2, 3}
    [refusal] = running.after_stop
    assert stored_seqs(refusal, running.keys) == set()
    assert wire.decode_confirmation(refusal.payload).refused == [
        wire.Refusal(first=2, last=2, reason="replay")
    ]
    assert replica.stats.quarantined == {"bad_signature": 1, "replay": 1}
    assert sorted(e.reason for e in registry.quarantine_list()) == ["bad_signature", "replay"]
    assert [p["seq"] for p in points(influxd)] == [1, 2, 3]  # the replay stored nowhere else


def test_a_seq_stored_and_refused_in_one_round_is_confirmed_stored_only() -> None:
    # Seq 4 stored (its first copy) and refused (a later copy, other content) before one
    # round: stored is the news for the agent, and one message may not name a seq twice.
    sent: list[bytes] = []

    def publish(topic: str, payload: bytes) -> bool:
        sent.append(payload)
        return True

    confirmations = Confirmations(Ed25519PrivateKey.generate(), publish, IngestStats(), 1.0)
    confirmations.stored([(PLATFORM, ENTERPRISE, AGENT, 4), (PLATFORM, ENTERPRISE, AGENT, 5)])
    confirmations.refused(PLATFORM, ENTERPRISE, AGENT, 4, "replay")
    confirmations.refused(PLATFORM, ENTERPRISE, AGENT, 6, "replay")
    confirmations.refused(PLATFORM, ENTERPRISE, AGENT, 7, "seal_conflict")
    assert confirmations.send() == 1
    [message] = [wire.decode_confirmation(raw) for raw in sent]
    assert [(r.first, r.last) for r in message.stored] == [(4, 5)]
    assert [(r.first, r.last, r.reason) for r in message.refused or []] == [
        (6, 6, "replay"),
        (7, 7, "seal_conflict"),
    ]
    assert confirmations.pending == 0
