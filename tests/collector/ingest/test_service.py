"""The ingest service against the real mosquitto and influxd: replica, metrics endpoint and
fleet feed start together, work side by side and stop together."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from collector.ingest import IngestService, IngestSettings
from collector.ingest.service import _sole
from collector.plan import load_plan
from collector.registry import Registry
from collector.store import InfluxStore, StoreError
from contract import wire
from stack import InfluxServer, MosquittoServer, free_port
from tests.collector.ingest.test_replica import (
    AGENT,
    ENTERPRISE,
    KEY,
    PLAN,
    PLATFORM,
    TOPIC,
    envelope,
    points,
    publish,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


@pytest.fixture
def registry_path(registry_location: Path | str) -> Path | str:
    """A registry with the test agent, on SQLite and on PostgreSQL (tests/collector/conftest.py)."""
    path = registry_location
    with Registry(path) as registry:
        registry.load_plan(load_plan(PLAN), by="test")
        registry.add_agent(
            AGENT,
            platform=PLATFORM,
            enterprise=ENTERPRISE,
            public_key=wire.public_key_text(KEY.public_key()),
            devices=["press-1"],
            by="test",
        )
    return path


def health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
        document: dict[str, object] = json.load(reply)
    return document


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def eventually(condition: Callable[[], Awaitable[bool]], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_replica_metrics_and_fleet_feed_run_together_and_stop_together(
    mosquitto: MosquittoServer, influxd: InfluxServer, registry_path: Path | str
) -> None:
    port = free_port()
    ingest = IngestService(
        settings=IngestSettings(host=mosquitto.host, port=mosquitto.port, inflight=16),
        registry_path=registry_path,
        store=lambda: InfluxStore(influxd.url, "rv"),
        metrics_port=port,
        fleet_snapshot_s=0.5,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(ingest.run(stop))

    async def connected() -> bool:
        # The endpoint is served by this test's own event loop: ask from another thread.
        return (
            listening(port) and (await asyncio.to_thread(health, port))["broker_connected"] is True
        )

    await eventually(connected)
    await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
    publish(mosquitto, TOPIC, wire.encode(envelope(1)))

    async def stored() -> bool:
        return len(await asyncio.to_thread(points, influxd)) == 1

    async def snapshot_written() -> bool:
        query = 'SELECT * FROM "rv"."fleet"."fleet_agent"'
        return bool(await asyncio.to_thread(influxd.query_rows, "rv", query))

    await eventually(stored)
    await eventually(snapshot_written)
    stop.set()
    await asyncio.wait_for(running, 30)
    assert not listening(port)
    with Registry(registry_path) as registry:  # the window's seq went through the registry
        assert registry.highest_seq(AGENT) == 1 and registry.quarantine_counts() == {}


async def test_influxdb_that_cannot_be_prepared_stops_the_service_before_the_broker(
    mosquitto: MosquittoServer, registry_path: Path | str
) -> None:
    dead = IngestService(
        settings=IngestSettings(host=mosquitto.host, port=mosquitto.port),
        registry_path=registry_path,
        store=lambda: InfluxStore(f"http://127.0.0.1:{free_port()}", "rv", timeout_s=2),
    )
    with pytest.raises(StoreError):
        await dead.run(asyncio.Event())


def test_a_single_failure_is_raised_without_its_groups() -> None:
    failure = StoreError("down")
    assert _sole(BaseExceptionGroup("outer", [ExceptionGroup("inner", [failure])])) is failure
    several = ExceptionGroup("both", [failure, ValueError("feed")])
    assert _sole(several) is several
