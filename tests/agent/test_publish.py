"""The publisher against the real mosquitto: order, PUBACK-only deletion, outages, status."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.config import BrokerConfig
from agent.outbox import Outbox
from agent.publish import Identity, Publisher
from contract import wire
from contract.clock import WallClock
from stack import MosquittoServer
from tests.agent.test_outbox import minute, sealer
from tests.contract.test_wire import KEY
from tests.mqtt_client import MqttTestClient

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

IDENTITY = Identity(platform="plat-a", enterprise="ent-01", agent="gw-01")
DIGEST = wire.config_digest(b"agent.yaml")


@pytest.fixture
def collector(mosquitto: MosquittoServer) -> Iterator[MqttTestClient]:
    """A stand-in for the collector: a persistent session on the shared subscription."""
    client = MqttTestClient("collector-1")
    client.connect(mosquitto, clean_start=False)
    client.subscribe(wire.shared_filter("collectors", "windows"))
    yield client
    client.close()


def make_publisher(broker: MosquittoServer, outbox: Outbox, **options: int | float) -> Publisher:
    return Publisher(
        BrokerConfig(host=broker.host, port=broker.port),
        IDENTITY,
        KEY,
        outbox,
        asyncio.Lock(),
        clock=WallClock(),
        agent_version="0.1.0",
        config_digest=DIGEST,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
async def running(
    request: pytest.FixtureRequest, mosquitto: MosquittoServer, tmp_path: Path
) -> AsyncIterator[Publisher]:
    options = getattr(request, "param", {})
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = make_publisher(mosquitto, outbox, **options)
    task = asyncio.create_task(publisher.run())
    yield publisher
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await publisher.close()
    outbox.close()


async def store(publisher: Publisher, windows: list[wire.KpiWindow]) -> None:
    """Add windows as the service's storing does: under the outbox lock, in a thread. The
    publisher's own outbox calls (the delivery state read at start, seals, acks) run in a
    thread under that lock; a test that wrote past it raced them on one SQLite connection."""
    async with publisher.outbox_lock:
        await asyncio.to_thread(publisher.outbox.add_windows, windows)


def received_envelopes(collector: MqttTestClient) -> list[wire.Envelope]:
    envelopes = []
    for message in collector.drain():
        envelope = wire.decode_envelope(message.payload)
        wire.verify(envelope, KEY.public_key())
        envelopes.append(envelope)
    return envelopes


@pytest.mark.parametrize("running", [{"batch_records": 4, "max_inflight": 2}], indirect=True)
async def test_windows_arrive_in_seq_order_and_leave_the_outbox_on_puback(
    running: Publisher, collector: MqttTestClient
) -> None:
    await store(running, [minute(f"press-{d}", i) for i in range(15) for d in (1, 2)])
    running.wake()
    assert await running.drain(timeout_s=20)
    envelopes = received_envelopes(collector)
    assert [e.seq for e in envelopes] == list(range(1, 9))  # 30 windows in batches of 4
    records = [r for e in envelopes for r in e.records]
    assert len(records) == 30
    ends = [r.end for r in records]
    assert ends == sorted(ends)
    assert running.state.batches_acked == 8 and running.state.records_acked == 30
    assert running.outbox.stats().sealed_batches == 0


async def test_birth_is_retained_online_and_signed(
    running: Publisher, mosquitto: MosquittoServer
) -> None:
    await asyncio.sleep(0.5)  # let it connect and publish the birth
    reader = MqttTestClient("reader")
    reader.connect(mosquitto)
    reader.subscribe(wire.STATUS_FILTER)
    message = reader.next_message()
    reader.close()
    assert message.retain
    status = wire.decode_status(message.payload)
    wire.verify(status, KEY.public_key())
    assert (status.state, status.agent, status.config_digest) == ("online", "gw-01", DIGEST)


async def test_without_any_subscriber_nothing_is_deleted(
    running: Publisher, mosquitto: MosquittoServer
) -> None:
    await store(running, [minute("press-1", i) for i in range(3)])
    running.wake()
    await asyncio.sleep(1.5)
    # The broker answered "no matching subscribers": the batch stays in the outbox.
    assert running.state.batches_acked == 0
    assert running.state.last_error is not None and "no subscriber" in running.state.last_error
    stats = running.outbox.stats()
    assert stats.sealed_batches + stats.pending_windows >= 1

    collector = MqttTestClient("collector-late")
    collector.connect(mosquitto, clean_start=False)
    collector.subscribe(wire.shared_filter("collectors", "windows"))
    assert await running.drain(timeout_s=40)
    envelopes = received_envelopes(collector)
    collector.close()
    assert sorted({r.start for e in envelopes for r in e.records}) == [
        minute("press-1", i).start for i in range(3)
    ]


async def test_broker_down_then_back_loses_nothing_and_keeps_order(
    running: Publisher, collector: MqttTestClient, mosquitto: MosquittoServer
) -> None:
    await store(running, [minute("press-1", i) for i in range(5)])
    running.wake()
    assert await running.drain(timeout_s=20)
    mosquitto.stop()
    for i in range(5, 25):  # windows keep closing while the broker is away
        await store(running, [minute("press-1", i)])
        running.wake()
        await asyncio.sleep(0.05)
    assert not running.state.connected
    mosquitto.start()
    assert await running.drain(timeout_s=40)
    envelopes = received_envelopes(collector)
    seqs = [e.seq for e in envelopes]
    assert sorted(set(seqs)) == list(range(1, max(seqs) + 1))  # no seq missing
    starts = sorted({r.start for e in envelopes for r in e.records})
    assert starts == [minute("press-1", i).start for i in range(25)]
    # A repeated seq (a lost PUBACK) must be the same bytes, never new content.
    by_seq: dict[int, wire.Envelope] = {}
    for envelope in envelopes:
        assert by_seq.setdefault(envelope.seq, envelope) == envelope


async def test_restart_resends_unacked_batches_byte_for_byte(
    mosquitto: MosquittoServer, collector: MqttTestClient, tmp_path: Path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows([minute("press-1", 0), minute("press-1", 1)])
    sealed = outbox.seal_batch(10, sealer)
    assert sealed is not None  # sealed by a run that died before its PUBACK
    publisher = make_publisher(mosquitto, outbox)
    task = asyncio.create_task(publisher.run())
    assert await publisher.drain(timeout_s=20)
    task.cancel()
    await publisher.close()
    (message,) = collector.drain()
    assert message.payload == sealed.envelope


@pytest.mark.parametrize("running", [{"batch_records": 1, "max_inflight": 1}], indirect=True)
async def test_draining_while_running_publishes_each_batch_once_within_max_inflight(
    running: Publisher, collector: MqttTestClient, mosquitto: MosquittoServer
) -> None:
    # A stopping agent drains while the publisher's own loop still runs: both publish what is
    # due. Run at once, both resent an unacknowledged batch after a restart (its PUBACK could
    # arrive between them: the collector got it twice, 1 of 8 loaded runs of the test above)
    # and both seal past max_inflight. The broker is frozen so no PUBACK frees a slot, and the
    # test holds the outbox so both are due together.
    for _ in range(100):
        if running.state.connected:
            break
        await asyncio.sleep(0.05)
    assert running.state.connected and not running.state.inflight
    assert mosquitto.pid is not None
    os.kill(mosquitto.pid, signal.SIGSTOP)
    try:
        async with running.outbox_lock:  # held: the test writes as the lock's holder
            running.outbox.add_windows([minute("press-1", 0), minute("press-1", 1)])
            running.wake()
            await asyncio.sleep(0.1)  # the loop is due and waits for the outbox
            draining = asyncio.create_task(running.drain(timeout_s=0.5))
            await asyncio.sleep(0.1)  # so is the drain
        await asyncio.sleep(0.2)
        assert len(running.state.inflight) == 1, "more batches in flight than max_inflight"
        assert not await draining  # nothing can be acknowledged while the broker is frozen
    finally:
        os.kill(mosquitto.pid, signal.SIGCONT)
    assert await running.drain(timeout_s=20)
    envelopes = received_envelopes(collector)
    assert [e.seq for e in envelopes] == [1, 2]  # each batch once


async def test_closing_the_publisher_releases_every_socket_it_opened(
    mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    # paho closes the socket pair loop_start() opens only when its client is garbage-collected
    # (eclipse-paho/paho.mqtt.python#627), and our callbacks tie client and publisher in a cycle
    # that only the cycle collector frees, whose finalizer order let the sockets go unclosed:
    # a ResourceWarning, an error in whichever test the collector ran. With it off, close()
    # alone must release them.
    outbox = Outbox(tmp_path / "outbox.sqlite")
    gc.disable()
    try:
        open_before = open_fds()
        publisher = make_publisher(mosquitto, outbox)
        task = asyncio.create_task(publisher.run())
        for _ in range(100):
            if publisher.state.connected:
                break
            await asyncio.sleep(0.05)
        assert publisher.state.connected
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await publisher.close()
        assert open_fds() == open_before, "sockets left open"
    finally:
        gc.enable()
        outbox.close()


def open_fds() -> int:
    """File descriptors this process holds (Linux)."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())
