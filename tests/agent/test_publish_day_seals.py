"""Day seals through the publisher and a real mosquitto: their topic, their order, their retry."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from agent.outbox import Outbox
from agent.publish import Publisher
from contract import merkle, wire
from stack import MosquittoServer
from tests.agent.test_day_ledger import DAY_START, hours
from tests.agent.test_outbox import sealer
from tests.agent.test_publish import make_publisher
from tests.agent.test_service_stop import until
from tests.conftest import MosquittoFactory
from tests.contract.test_wire import KEY
from tests.mqtt_client import MqttTestClient

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


def collector_of(broker: MosquittoServer, *kinds: wire.TopicKind) -> MqttTestClient:
    client = MqttTestClient("collector-1")
    client.connect(broker, clean_start=False)
    for kind in kinds:
        client.subscribe(wire.shared_filter("collectors", kind))
    return client


async def start(publisher: Publisher) -> asyncio.Task[None]:
    task = asyncio.create_task(publisher.run())
    await until(lambda: publisher.state.connected, "connected")
    return task


async def stop(publisher: Publisher, task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await publisher.close()


async def test_a_closed_day_is_sealed_after_its_windows_and_published_on_its_topic(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    collector = collector_of(mosquitto, "windows", "day_seals")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = make_publisher(mosquitto, outbox, batch_records=5)
    task = await start(publisher)
    try:
        outbox.add_windows(hours("press-1", DAY_START, 24))  # a past day: due at once
        publisher.wake()
        assert await publisher.drain(timeout_s=40)
        await until(
            lambda: publisher.state.day_seals_acked == 1, "the seal acknowledged", timeout_s=40
        )
    finally:
        await stop(publisher, task)
    messages = collector.drain()
    collector.close()
    windows = [m for m in messages if m.topic.endswith("/windows")]
    [seal_message] = [m for m in messages if m.topic == publisher.topics["day_seals"]]
    seal = wire.decode_day_seal(seal_message.payload)
    wire.verify(seal, KEY.public_key())
    envelopes = [wire.decode_envelope(m.payload) for m in windows]
    assert seal.seq == max(e.seq for e in envelopes) + 1
    records = sorted(
        (e.seq, r.end, r.start, wire.canonical_bytes(r.model_dump(mode="json")))
        for e in envelopes
        for r in e.records
    )
    assert seal.parts[0].merkle_root == merkle.root([r for *_, r in records]).hex()
    assert outbox.stats().sealed_batches == 0
    outbox.close()


async def test_a_seal_the_broker_refuses_does_not_hold_up_windows(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    # A broker whose ACL predates day seals (the upgrade order got wrong): it answers each seal
    # 135 Not authorized, and the seal stays in the outbox, retried with backoff.
    acl = tmp_path / "acl"
    acl.write_text(
        "topic write rv/v1/+/+/+/windows\ntopic write rv/v1/+/+/+/status\ntopic read rv/v1/#\n"
    )
    broker = mosquitto_factory(extra_config=[f"acl_file {acl}"])
    collector = collector_of(broker, "windows")
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = make_publisher(broker, outbox)
    task = await start(publisher)
    try:
        outbox.add_windows(hours("press-1", DAY_START, 24))
        publisher.wake()
        # Three refusals: the seal's next retry is 8 s away, as a shared backoff's would be.
        await until(
            lambda: publisher.state.publish_failures >= 3, "the seal refused 3 times", timeout_s=40
        )
        refusals = publisher.state.publish_failures
        assert "refused day seal" in (publisher.state.last_error or "")
        later = hours("press-1", DAY_START + timedelta(days=1), 6)
        outbox.add_windows(later)
        publisher.wake()
        await until(
            lambda: publisher.state.records_acked == 30, "every window acknowledged", timeout_s=40
        )
        # The windows went out while the seal waited for its own retry, not at it.
        assert publisher.state.publish_failures == refusals
        assert publisher.state.day_seals_acked == 0
        assert [b.kind for b in outbox.unacked()] == ["day_seals"]
    finally:
        await stop(publisher, task)
    received = [wire.decode_envelope(m.payload) for m in collector.drain()]
    collector.close()
    assert sum(len(e.records) for e in received) == 30
    outbox.close()


async def test_a_sent_batch_that_cannot_be_folded_holds_seals_not_windows(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    # A batch sent by an earlier run, its queued copy damaged on disk before it was folded.
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows(hours("press-1", DAY_START, 24))
    assert outbox.seal_batch(500, sealer) is not None
    with sqlite3.connect(path) as db:
        db.execute("UPDATE fold_queue SET record = CAST('{}' AS BLOB) WHERE rowid = 1")
    db.close()
    collector = collector_of(mosquitto, "windows", "day_seals")
    publisher = make_publisher(mosquitto, outbox)
    task = await start(publisher)
    try:
        await until(
            lambda: "day ledger not folded" in (publisher.state.last_error or ""),
            "the fold's error reported",
            timeout_s=20,
        )
        assert "batch seq 1, device press-1" in (publisher.state.last_error or "")
        outbox.add_windows(hours("press-1", DAY_START + timedelta(days=1), 6))
        publisher.wake()
        await until(
            lambda: publisher.state.records_acked == 30, "every window acknowledged", timeout_s=40
        )
        assert publisher.state.day_seals_published == 0  # the day of the damaged batch: held
        assert outbox.stats().unfolded_windows == 30  # nothing folded, nothing dropped
    finally:
        await stop(publisher, task)
    collector.close()
    outbox.close()
