"""A message received on one broker connection is never acknowledged on the next (#19).

An MQTT packet id names a message only on the connection that delivered it: after a broker that
restarted empty, packet id 1 of the new connection is another message. The replica settles a
message when its InfluxDB write succeeds, which may be long after the link it came on is gone;
acknowledging it then by its packet id would acknowledge whatever the new connection delivered
under that id, before that message is stored. Real mosquitto (its debug log shows each PUBLISH
sent and each PUBACK received), real influxd, both read paths.
"""

from __future__ import annotations

import asyncio
import re

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
from tests.conftest import MosquittoFactory

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

__all__ = ["registry"]  # the fixture, used here by name

CLIENT_ID = "collector-acks"


def packets_since_last_start(broker: MosquittoServer) -> tuple[list[int], list[int]]:
    """Packet ids of the PUBLISHes sent to the replica and PUBACKs received from it, in the
    broker's current run (its log is appended to across restarts)."""
    text = broker.log_path.read_text(errors="replace")
    current = text.rsplit("mosquitto version", 1)[-1]
    sent = re.findall(rf"Sending PUBLISH to {CLIENT_ID} \(d\d, q1, r\d, m(\d+),", current)
    acked = re.findall(rf"Received PUBACK from {CLIENT_ID} \(Mid: (\d+)", current)
    return [int(mid) for mid in sent], [int(mid) for mid in acked]


@pytest.mark.parametrize("mqtt_thread", [False, True], ids=["event-loop", "paho-thread"])
async def test_a_message_of_a_lost_connection_is_not_acked_on_the_next(
    mosquitto_factory: MosquittoFactory,
    influxd: InfluxServer,
    registry: Registry,
    mqtt_thread: bool,
) -> None:
    # No snapshot ever (autosave 0) and a SIGKILL: the broker comes back empty.
    broker = mosquitto_factory(autosave_interval_s=0, extra_config=["log_type debug"])
    store = InfluxStore(influxd.url, "rv")
    await store.ensure_database()
    await store.ensure_retention()
    settings = IngestSettings(
        host=broker.host,
        port=broker.port,
        client_id=CLIENT_ID,
        inflight=16,
        flush_after_s=0.05,
        mqtt_thread=mqtt_thread,
    )
    replica = Ingest(settings, registry, store)
    stop = asyncio.Event()
    task = asyncio.create_task(replica.run(stop))
    try:
        await wait_until(lambda: replica.stats.connected)
        await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
        influxd.stop()  # every write now waits
        publish(broker, TOPIC, wire.encode(envelope(1)))
        await wait_until(lambda: replica.stats.inflight == 1)

        broker.kill()
        await wait_until(lambda: not replica.stats.connected)
        broker.start()
        await wait_until(lambda: replica.stats.connected, timeout_s=40)
        await asyncio.sleep(0.3)
        # The new connection delivers this one as packet id 1, as the first connection did seq 1.
        publish(broker, TOPIC, wire.encode(envelope(2)))
        await wait_until(lambda: replica.stats.inflight == 2)

        influxd.start()
        await wait_until(lambda: replica.stats.inflight == 0, timeout_s=60)
        await wait_until(lambda: len(packets_since_last_start(broker)[1]) >= 1)
        await asyncio.sleep(0.5)  # a second, wrong PUBACK would be in the log by now
    finally:
        stop.set()
        await task
        await store.aclose()
    sent, acked = packets_since_last_start(broker)
    assert sent == [1]
    assert acked == [1], f"PUBACKs on the new connection {acked} for PUBLISHes {sent}"
    assert replica.stats.acks_dropped == 1
    assert sorted(p["seq"] for p in points(influxd)) == [1, 2]
