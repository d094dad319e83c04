"""Ingest against the real mosquitto, influxd and registry: stored, deduplicated, quarantined."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.ingest import Ingest, IngestSettings
from collector.plan import load_plan
from collector.registry import Registry
from collector.store import InfluxStore
from contract import wire
from stack import InfluxServer, MosquittoServer
from tests.contract.test_wire import T0, make_window
from tests.mqtt_client import MqttTestClient

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

PLAN = Path(__file__).parents[3] / "deploy" / "examples" / "plan.yaml"
KEY = Ed25519PrivateKey.generate()
AGENT, PLATFORM, ENTERPRISE = "gw-test", "plat-a", "ent-01"


def envelope(
    seq: int, *, key: Ed25519PrivateKey = KEY, agent: str = AGENT, **record: Any
) -> wire.Envelope:
    start = T0 + timedelta(minutes=seq)
    window = make_window(start=start, end=start + timedelta(minutes=1), **record)
    return wire.seal_envelope(
        platform=PLATFORM,
        enterprise=ENTERPRISE,
        agent=agent,
        seq=seq,
        sent=start + timedelta(minutes=1),
        records=[window],
        key=key,
    )


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    registry = Registry(tmp_path / "registry.sqlite")
    registry.load_plan(load_plan(PLAN), by="test")
    registry.add_agent(
        AGENT,
        platform=PLATFORM,
        enterprise=ENTERPRISE,
        public_key=wire.public_key_text(KEY.public_key()),
        devices=["press-1"],
        by="test",
    )
    return registry


@pytest.fixture
async def ingest(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry
) -> AsyncIterator[Ingest]:
    store = InfluxStore(influxd.url, "rv")
    await store.ensure_database()
    await store.ensure_retention()
    replica = Ingest(
        IngestSettings(host=mosquitto.host, port=mosquitto.port, inflight=16), registry, store
    )
    stop = asyncio.Event()
    task = asyncio.create_task(replica.run(stop))
    await wait_until(lambda: replica.stats.connected)
    await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
    yield replica
    stop.set()
    await task
    await store.aclose()


async def wait_until(condition: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def publish(broker: MosquittoServer, topic: str, payload: bytes) -> None:
    client = MqttTestClient("test-agent")
    client.connect(broker)
    try:
        client.publish(topic, payload)
    finally:
        client.close()


TOPIC = wire.windows_topic(PLATFORM, ENTERPRISE, AGENT)


def points(influxd: InfluxServer) -> list[dict[str, Any]]:
    return influxd.query_rows("rv", 'SELECT * FROM "rv"."raw"."kpi_window"')


async def test_valid_windows_are_stored_and_bad_ones_quarantined(
    ingest: Ingest, mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry
) -> None:
    first, second = wire.encode(envelope(1)), wire.encode(envelope(3))
    replay = wire.encode(envelope(1, run_s=10.0))
    forged = wire.encode(envelope(4, key=Ed25519PrivateKey.generate()))
    stranger = wire.encode(envelope(1, agent="gw-unknown"))
    foreign_device = wire.encode(envelope(5, device="press-9"))
    hostile = [
        (TOPIC, first),
        (TOPIC, first),  # a re-delivery: counted, written again, no new point
        (TOPIC, second),  # seq 2 is missing: a gap opens
        (TOPIC, replay),
        (TOPIC, forged),
        (wire.windows_topic(PLATFORM, ENTERPRISE, "gw-unknown"), stranger),
        (wire.windows_topic(PLATFORM, "ent-02", AGENT), second),
        (TOPIC, foreign_device),
        (TOPIC, b'{"v":1,'),
        (TOPIC, b"\\x00" * 10),
    ]
    for topic, payload in hostile:
        publish(mosquitto, topic, payload)
    await wait_until(lambda: sum(ingest.stats.received.values()) == len(hostile))
    await wait_until(lambda: ingest.stats.inflight == 0)

    stored = points(influxd)
    assert sorted(p["seq"] for p in stored) == [1, 3]
    assert {(p["agent"], p["device"], p["provenance"]) for p in stored} == {
        (AGENT, "press-1", "measured")
    }
    assert ingest.stats.duplicates == 1
    assert ingest.stats.quarantined == {
        "replay": 1,
        "bad_signature": 1,
        "unknown_agent": 1,
        "identity_mismatch": 1,
        "unknown_device": 1,
        "not_json": 2,
    }
    assert {e.reason for e in registry.quarantine_list()} == set(ingest.stats.quarantined)
    (gap,) = registry.seq_gaps(AGENT)
    assert (gap.first_seq, gap.last_seq) == (2, 2)

    publish(mosquitto, TOPIC, wire.encode(envelope(2)))  # the late seq closes the gap
    await wait_until(lambda: ingest.stats.written_records == 4)
    assert registry.seq_gaps(AGENT) == []
    # Rollups are refreshed off the ack path, within a round of the refresher.
    await ingest.refresh_rollups()
    async with InfluxStore(influxd.url, "rv") as reader:
        days = await reader.daily(ENTERPRISE, T0.date(), T0.date())
    assert sum(row.total_count or 0 for row in days) == 3 * 12
    assert registry.dirty_days() == []


async def test_in_steady_flow_a_day_is_refreshed_by_merging_its_new_window(
    ingest: Ingest, mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry
) -> None:
    # One window at a time, each refreshed before the next (as rounds of rollup_every_s do
    # with one-minute windows): the first recomputes the new day, the others only add their
    # window to the stored row, because each mark (the window's end) is after the row's end.
    for seq in range(1, 6):
        publish(mosquitto, TOPIC, wire.encode(envelope(seq)))
        await wait_until(lambda seq=seq: ingest.stats.written_records == seq)
        await ingest.refresh_rollups()
    assert ingest.stats.rollup_refreshes["merged"] >= 3
    async with InfluxStore(influxd.url, "rv") as reader:
        (day,) = await reader.daily(ENTERPRISE, T0.date(), T0.date())
    assert (day.windows, day.total_count) == (5, 5 * 12)
    assert registry.dirty_days() == []


async def test_status_updates_the_registry_and_revocation_quarantines(
    ingest: Ingest, mosquitto: MosquittoServer, registry: Registry
) -> None:
    status = wire.seal_status(
        platform=PLATFORM,
        enterprise=ENTERPRISE,
        agent=AGENT,
        sent=T0,
        state="online",
        agent_version="0.1.0",
        config_digest=wire.config_digest(b"cfg"),
        outbox_depth=7,
        key=KEY,
    )
    publish(mosquitto, wire.status_topic(PLATFORM, ENTERPRISE, AGENT), wire.encode(status))
    await wait_until(lambda: registry.agent_status(AGENT) is not None)
    seen = registry.agent_status(AGENT)
    assert seen is not None and (seen.outbox_depth, seen.state) == (7, "online")

    registry.revoke_agent(AGENT, by="test", reason="gateway stolen")
    publish(mosquitto, TOPIC, wire.encode(envelope(9)))
    await wait_until(lambda: ingest.stats.quarantined["revoked_key"] == 1)
    assert ingest.stats.written_records == 0


async def test_quarantined_messages_name_the_registered_agent_their_topic_names(
    ingest: Ingest, mosquitto: MosquittoServer, registry: Registry
) -> None:
    forged = wire.encode(envelope(1, key=Ed25519PrivateKey.generate()))
    stranger = wire.encode(envelope(1, agent="gw-unknown"))
    sent = [
        (TOPIC, forged),  # the registered agent's own topic
        (wire.windows_topic(PLATFORM, "ent-02", AGENT), forged),  # it, under another enterprise
        (wire.windows_topic(PLATFORM, ENTERPRISE, "gw-unknown"), stranger),
        (wire.windows_topic(PLATFORM, ENTERPRISE, "gw-unknown"), b"not json"),
    ]
    for topic, payload in sent:
        publish(mosquitto, topic, payload)
    await wait_until(lambda: sum(ingest.stats.quarantined.values()) == len(sent))
    stored = {(e.topic, e.reason, e.agent_id) for e in registry.quarantine_list()}
    unknown_topic = wire.windows_topic(PLATFORM, ENTERPRISE, "gw-unknown")
    assert stored == {
        (TOPIC, "bad_signature", AGENT),
        (wire.windows_topic(PLATFORM, "ent-02", AGENT), "identity_mismatch", AGENT),
        (unknown_topic, "unknown_agent", None),
        (unknown_topic, "not_json", None),
    }
    # The evidence of the agent's enterprise counts both of its messages, under its id.
    counts = registry.quarantine_counts_for(PLATFORM, ENTERPRISE, [AGENT])
    assert counts[AGENT] == {"bad_signature": 1, "identity_mismatch": 1}


async def test_a_stopped_replica_releases_every_socket_it_opened(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry: Registry
) -> None:
    # paho 2.2 closes the socket pair loop_start() opens only when its client is
    # garbage-collected (eclipse-paho/paho.mqtt.python#627), and the replica's callbacks tie
    # client and replica in a cycle only the cycle collector frees: a ResourceWarning, an error
    # in whichever test it ran. With the collector off, stopping alone must release them.
    gc.disable()
    try:
        open_before = open_fds()
        async with InfluxStore(influxd.url, "rv") as store:
            replica = Ingest(
                IngestSettings(host=mosquitto.host, port=mosquitto.port), registry, store
            )
            stop = asyncio.Event()
            task = asyncio.create_task(replica.run(stop))
            await wait_until(lambda: replica.stats.connected)
            stop.set()
            await task
        assert open_fds() == open_before, "sockets left open"
    finally:
        gc.enable()


async def test_a_clean_stop_is_not_logged_as_a_lost_connection(
    mosquitto: MosquittoServer,
    influxd: InfluxServer,
    registry: Registry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An operator reading the logs must not see a replica's own stop as a broker outage.
    async with InfluxStore(influxd.url, "rv") as store:
        replica = Ingest(IngestSettings(host=mosquitto.host, port=mosquitto.port), registry, store)
        stop = asyncio.Event()
        task = asyncio.create_task(replica.run(stop))
        await wait_until(lambda: replica.stats.connected)
        with caplog.at_level(logging.INFO, logger="collector.ingest"):
            stop.set()
            await task
    assert "disconnected from the broker" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def open_fds() -> int:
    """File descriptors this process holds (Linux)."""
    return sum(1 for _ in Path("/proc/self/fd").iterdir())
