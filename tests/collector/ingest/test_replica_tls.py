"""Ingest over TLS with a password, against a real mosquitto that demands both.

The replica runs paho's network loop in the event loop (collector/ingest/mqtt_loop.py), on
an SSL socket here. A backlog held by the session arrives in bursts of the receive maximum when
the replica comes back, and all of it must be stored. (mosquitto sends each packet in its own
TLS record, so this does not exercise the read that goes on while ``pending()`` has decrypted
bytes: docs/field-notes.md.)
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

from collector.ingest import Ingest, IngestSettings
from collector.registry import Registry
from collector.store import InfluxStore
from contract import wire
from stack import InfluxServer
from tests.agent.test_publish_tls import PASSWORD, tls_broker
from tests.collector.ingest.test_replica import TOPIC, envelope, points, registry, wait_until
from tests.conftest import MosquittoFactory
from tests.mqtt_client import MqttTestClient

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

__all__ = ["registry"]  # the fixture, used here by name

BACKLOG = 150


@pytest.mark.parametrize("mqtt_thread", [False, True], ids=["event-loop", "paho-thread"])
async def test_a_backlog_over_tls_is_stored_in_full(
    mosquitto_factory: MosquittoFactory,
    influxd: InfluxServer,
    registry: Registry,
    tmp_path: Path,
    mqtt_thread: bool,
) -> None:
    broker, pki = tls_broker(mosquitto_factory, tmp_path)
    store = InfluxStore(influxd.url, "rv")
    await store.ensure_database()
    await store.ensure_retention()
    settings = IngestSettings(
        host=broker.host,
        port=broker.port,
        username="collector",
        password=PASSWORD,
        tls_ca=str(pki.ca_cert),
        inflight=16,
        mqtt_thread=mqtt_thread,
    )

    async def run_until(done: object) -> Ingest:
        replica = Ingest(settings, registry, store)
        stop = asyncio.Event()
        task = asyncio.create_task(replica.run(stop))
        await wait_until(done if callable(done) else lambda: replica.stats.connected)
        await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
        stop.set()
        await task
        return replica

    await run_until(None)  # the session and its subscription, then gone: the broker holds
    agent = MqttTestClient("test-agent")
    agent.connect(broker, tls=ssl.create_default_context(cafile=str(pki.ca_cert)), login=(
        "gw-01", PASSWORD))  # fmt: skip
    try:
        for seq in range(1, BACKLOG + 1):
            agent.publish(TOPIC, wire.encode(envelope(seq)))
    finally:
        agent.close()

    stored: list[int] = []

    def all_stored() -> bool:
        stored[:] = [p["seq"] for p in points(influxd)]
        return len(stored) == BACKLOG

    replica = await run_until(all_stored)
    await store.aclose()
    assert sorted(stored) == list(range(1, BACKLOG + 1))
    assert replica.stats.received["windows"] == BACKLOG
    assert replica.stats.quarantined == {}
