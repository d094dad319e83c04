"""The broker restarted under a running replica: it reconnects by itself and subscribes again.

Driven by the event loop (collector/ingest/mqtt_loop.py), paho reconnects only when we call
``reconnect()`` (with back-off); mosquitto 2.0.11 restores the persistent session after a
restart but not its shared subscription (docs/field-notes.md), so a window published after the
restart reaches the replica only if it subscribed again. Both read paths, the same test.
"""

from __future__ import annotations

import asyncio

import pytest

from collector.ingest import Ingest, IngestSettings
from collector.registry import Registry
from collector.store import InfluxStore
from contract import wire
from stack import InfluxServer, MosquittoServer
from tests.collector.ingest.test_replica import (
    TOPIC,
    envelope,
    points,
    publish,
    registry,
    wait_until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

__all__ = ["registry"]  # the fixture, used here by name


@pytest.mark.parametrize("mqtt_thread", [False, True], ids=["event-loop", "paho-thread"])
async def test_a_restarted_broker_is_rejoined_and_windows_flow_again(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry, mqtt_thread: bool
) -> None:
    store = InfluxStore(influxd.url, "rv")
    await store.ensure_database()
    await store.ensure_retention()
    settings = IngestSettings(
        host=mosquitto.host, port=mosquitto.port, inflight=16, mqtt_thread=mqtt_thread
    )
    replica = Ingest(settings, registry, store)
    stop = asyncio.Event()
    task = asyncio.create_task(replica.run(stop))
    try:
        await wait_until(lambda: replica.stats.connected)
        await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
        publish(mosquitto, TOPIC, wire.encode(envelope(1)))
        await wait_until(lambda: len(points(influxd)) == 1)

        mosquitto.stop()  # SIGTERM: the broker saves the sessions
        await wait_until(lambda: not replica.stats.connected)
        mosquitto.start()
        await wait_until(lambda: replica.stats.connected, timeout_s=40)
        await asyncio.sleep(0.3)
        publish(mosquitto, TOPIC, wire.encode(envelope(2)))
        await wait_until(lambda: len(points(influxd)) == 2, timeout_s=40)
    finally:
        stop.set()
        await task
        await store.aclose()
    assert sorted(p["seq"] for p in points(influxd)) == [1, 2]
    assert replica.stats.quarantined == {}
