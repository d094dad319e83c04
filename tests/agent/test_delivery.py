"""Batches kept until the collector confirms them stored, against the real mosquitto (#19).

The test plays the collector's part on the wire: it reads the windows on the shared
subscription and publishes confirmations, signed with a collector confirmation key (or not),
on the agent's confirmations topic, as collector/ingest/confirmations.py does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.config import BrokerConfig, DeliveryConfig
from agent.outbox import Outbox
from agent.publish import Publisher
from contract import wire
from contract.clock import WallClock
from stack import MosquittoServer
from tests.agent.test_outbox import minute
from tests.agent.test_publish import DIGEST, IDENTITY
from tests.contract.test_wire import KEY
from tests.mqtt_client import MqttTestClient

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

COLLECTOR_KEY = Ed25519PrivateKey.generate()
TOPIC = wire.confirmations_topic(IDENTITY.platform, IDENTITY.enterprise, IDENTITY.agent)


def delivery(confirm: str = "required", **options: int) -> DeliveryConfig:
    return DeliveryConfig.model_validate(
        {
            "confirm": confirm,
            "collector_keys": [wire.public_key_text(COLLECTOR_KEY.public_key())],
            **options,
        }
    )


def confirmation(
    stored: list[tuple[int, int]],
    *,
    key: Ed25519PrivateKey = COLLECTOR_KEY,
    agent: str = IDENTITY.agent,
    refused: list[tuple[int, int, str]] | None = None,
) -> bytes:
    sent = datetime.fromtimestamp(round(time.time(), 3), UTC)
    return wire.encode(
        wire.seal_confirmation(
            platform=IDENTITY.platform,
            enterprise=IDENTITY.enterprise,
            agent=agent,
            sent=sent,
            stored=stored,
            key=key,
            refused=refused or [],
        )
    )


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


@pytest.fixture
def collector(mosquitto: MosquittoServer) -> Iterator[MqttTestClient]:
    client = MqttTestClient("collector-1")
    client.connect(mosquitto, clean_start=False)
    client.subscribe(wire.shared_filter("collectors", "windows"))
    yield client
    client.close()


class Agents:
    """Publishers on one outbox file, as one agent run after another; stopped at the end."""

    def __init__(self, broker: MosquittoServer, outbox: Outbox) -> None:
        self.broker = broker
        self.outbox = outbox
        self.tasks: dict[int, tuple[Publisher, asyncio.Task[None]]] = {}

    def start(self, config: DeliveryConfig) -> Publisher:
        publisher = Publisher(
            BrokerConfig(host=self.broker.host, port=self.broker.port),
            IDENTITY,
            KEY,
            self.outbox,
            asyncio.Lock(),
            clock=WallClock(),
            agent_version="0.1.0",
            config_digest=DIGEST,
            batch_records=2,
            delivery=config,
        )
        self.tasks[id(publisher)] = (publisher, asyncio.create_task(publisher.run()))
        return publisher

    async def stop(self, publisher: Publisher) -> None:
        _, task = self.tasks.pop(id(publisher))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await publisher.close()


@pytest.fixture
async def agents(mosquitto: MosquittoServer, tmp_path: Path) -> AsyncIterator[Agents]:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    running = Agents(mosquitto, outbox)
    yield running
    for publisher, _ in list(running.tasks.values()):
        await running.stop(publisher)
    outbox.close()


def awaiting(publisher: Publisher) -> int:
    return publisher.outbox.stats().awaiting_confirmation


async def test_a_batch_is_kept_after_its_puback_and_only_a_valid_confirmation_deletes_it(
    agents: Agents, collector: MqttTestClient
) -> None:
    publisher = agents.start(delivery())
    publisher.outbox.add_windows([minute("press-1", i) for i in range(4)])
    publisher.wake()
    await wait_until(lambda: publisher.state.batches_acked == 2)
    await wait_until(lambda: awaiting(publisher) == 2)
    assert publisher.outbox.stats().sealed_batches == 2  # the broker has them: still kept

    # Forgeries and mistakes delete nothing, and each is counted by its reason.
    collector.publish(TOPIC, confirmation([(1, 2)], key=Ed25519PrivateKey.generate()))
    collector.publish(TOPIC, confirmation([(1, 2)], agent="gw-02"))
    collector.publish(TOPIC, b'{"kind":"confirmation"}')
    ignored = publisher.delivery.state.ignored
    await wait_until(lambda: sum(ignored.values()) == 3)
    assert ignored == {"bad_signature": 1, "other_agent": 1, "invalid": 1}
    assert awaiting(publisher) == 2

    collector.publish(TOPIC, confirmation([(1, 1)]))
    await wait_until(lambda: publisher.delivery.state.batches_confirmed == 1)
    assert [b.seq for b in publisher.outbox.unconfirmed(2**62, limit=10)] == [2]
    collector.publish(TOPIC, confirmation([(2, 2)]))
    # The counters move once the outbox has forgotten the batch: wait for them, not the outbox.
    await wait_until(lambda: publisher.delivery.state.confirmations == 2)
    assert publisher.outbox.stats().sealed_batches == 0
    assert [wire.decode_envelope(m.payload).seq for m in collector.drain()] == [1, 2]


async def test_a_batch_not_confirmed_in_time_is_sent_again_with_its_seq_and_bytes(
    agents: Agents, collector: MqttTestClient
) -> None:
    publisher = agents.start(delivery(resend_after_s=5))
    publisher.outbox.add_windows([minute("press-1", i) for i in range(2)])
    publisher.wake()
    first = await asyncio.to_thread(collector.next_message, 30)
    await wait_until(lambda: awaiting(publisher) == 1)
    again = await asyncio.to_thread(collector.next_message, 60)
    assert again.payload == first.payload  # the same seq and bytes: a duplicate, never a replay
    assert publisher.delivery.state.resent >= 1
    collector.publish(TOPIC, confirmation([(1, 1)]))
    await wait_until(lambda: publisher.outbox.stats().sealed_batches == 0)


async def test_auto_keeps_batches_once_a_collector_confirmed_and_remembers_it(
    agents: Agents, collector: MqttTestClient
) -> None:
    publisher = agents.start(delivery("auto"))
    publisher.outbox.add_windows([minute("press-1", i) for i in range(2)])
    publisher.wake()
    await wait_until(lambda: publisher.state.batches_acked == 1)
    await wait_until(lambda: publisher.outbox.stats().sealed_batches == 0)  # as with off
    assert not publisher.delivery.state.keeping
    collector.publish(TOPIC, confirmation([(1, 1)]))
    await wait_until(lambda: publisher.delivery.state.keeping)
    publisher.outbox.add_windows([minute("press-1", i) for i in range(2, 4)])
    publisher.wake()
    await wait_until(lambda: awaiting(publisher) == 1)  # now kept until confirmed
    # A restart remembers that the collector confirms (the flag is in the outbox file).
    await agents.stop(publisher)
    restarted = agents.start(delivery("auto"))
    await wait_until(lambda: restarted.delivery.state.keeping)
    assert awaiting(restarted) == 1


async def test_past_max_awaiting_batches_no_new_batch_is_sealed(
    agents: Agents, collector: MqttTestClient
) -> None:
    publisher = agents.start(delivery(max_awaiting_batches=1))
    publisher.outbox.add_windows([minute("press-1", i) for i in range(6)])
    publisher.wake()
    for seq in (1, 2, 3):  # one batch at a time: the next is sealed once one is confirmed
        await wait_until(
            lambda: awaiting(publisher) == 1 and publisher.outbox.stats().next_seq == seq + 1  # noqa: B023
        )
        await asyncio.sleep(0.5)  # publishing rounds that would have sealed more
        stats = publisher.outbox.stats()
        assert (stats.next_seq, stats.pending_windows) == (seq + 1, 4 - 2 * (seq - 1))
        collector.publish(TOPIC, confirmation([(seq, seq)]))
    await wait_until(lambda: publisher.outbox.stats().sealed_batches == 0)
    assert publisher.outbox.stats().pending_windows == 0


async def test_a_batch_refused_for_good_is_forgotten_counted_and_stops_holding_sealing(
    agents: Agents, collector: MqttTestClient
) -> None:
    # The collector keeps a replay in its quarantine and says so: the agent forgets the batch
    # (it would be refused again at every re-send) and the room it held for sealing frees.
    publisher = agents.start(delivery(max_awaiting_batches=2))
    publisher.outbox.add_windows([minute("press-1", i) for i in range(8)])
    publisher.wake()
    await wait_until(lambda: awaiting(publisher) == 2)
    await asyncio.sleep(0.5)  # publishing rounds that would have sealed more
    assert publisher.outbox.stats().next_seq == 3  # the third batch waits for room
    collector.publish(TOPIC, confirmation([(1, 1)], refused=[(2, 2, "replay")]))
    await wait_until(lambda: publisher.delivery.state.refused["replay"] == 1)
    assert publisher.delivery.state.batches_confirmed == 1
    await wait_until(lambda: publisher.outbox.stats().next_seq == 5)  # room for two more
    # A refusal for another agent, or unsigned, forgets nothing.
    collector.publish(TOPIC, confirmation([], refused=[(3, 4, "replay")], agent="gw-02"))
    forged = confirmation([], refused=[(3, 4, "replay")], key=Ed25519PrivateKey.generate())
    collector.publish(TOPIC, forged)
    ignored = publisher.delivery.state.ignored
    await wait_until(lambda: sum(ignored.values()) == 2)
    assert awaiting(publisher) == 2
    assert sum(publisher.delivery.state.refused.values()) == 1
