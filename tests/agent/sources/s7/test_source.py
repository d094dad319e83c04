"""The S7 source against python-snap7's real S7 server (``sim.s7_server``) on a free port.

Every area and type is read through the agent's configuration path (YAML → SourceFactory →
S7Source); the bad cases are the PLC's own answers: a read beyond a data block (return code
0x05), a PLC whose connections are all in use (it closes the new one during the handshake), and
a PLC switched off and on again during a run.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from agent.config import parse_config
from agent.sources.base import Quality, Reading, Source
from agent.sources.factory import SourceFactory
from agent.sources.s7 import S7Source
from sim.s7_server import S7Sim, SimArea

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

DB = 10
DB_SIZE = 64

# name: (area, byte, data_type, extra keys, bytes written, expected value)
VALUES: dict[str, tuple[SimArea, int, str, dict[str, Any], bytes, object]] = {
    "running": ("db", 0, "bool", {"bit": 3}, bytes([0b0000_1000]), True),
    "stopped": ("db", 0, "bool", {"bit": 2}, b"", False),
    "mode": ("db", 1, "byte", {}, bytes([200]), 200),
    "status": ("db", 2, "word", {}, struct.pack(">H", 0xBEEF), 0xBEEF),
    "count": ("db", 4, "dword", {}, struct.pack(">I", 4_000_000_000), 4_000_000_000),
    "temp": ("db", 8, "int", {}, struct.pack(">h", -1234), -1234),
    "total": ("db", 10, "dint", {}, struct.pack(">i", -70_000), -70_000),
    "power": ("db", 14, "real", {}, struct.pack(">f", 12.5), 12.5),
    "energy": ("db", 18, "lreal", {}, struct.pack(">d", 123456.789), 123456.789),
    "recipe": ("db", 26, "string", {"length": 10}, bytes([10, 4]) + b"A-17", "A-17"),
    "operator": (
        "db",
        38,
        "wstring",
        {"length": 4},
        struct.pack(">HH", 4, 3) + "Zoë".encode("utf-16-be"),
        "Zoë",
    ),
    "marker": ("merker", 5, "bool", {"bit": 7}, bytes([0x80]), True),
    "marker_word": ("merker", 6, "int", {}, struct.pack(">h", 42), 42),
    "input_bit": ("input", 0, "bool", {"bit": 0}, bytes([1]), True),
    "output_byte": ("output", 1, "byte", {}, bytes([0x5A]), 0x5A),
}


def plc(max_clients: int = 8) -> S7Sim:
    sim = S7Sim(max_clients=max_clients)
    sim.add_area("db", DB_SIZE, db=DB)
    areas: tuple[SimArea, ...] = ("merker", "input", "output")
    for memory in areas:
        sim.add_area(memory, 16)
    for area, byte, _, _, data, _ in VALUES.values():
        if data:
            sim.write(area, byte, data, db=DB if area == "db" else 0)
    return sim


@pytest.fixture
def server() -> Iterator[S7Sim]:
    sim = plc()
    sim.start()
    yield sim
    sim.stop()


def tag(area: str, byte: int, data_type: str, extra: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"area": area, "byte": byte, "data_type": data_type, **extra}
    if area == "db":
        found["db"] = DB
    return found


def source(sim: S7Sim, tags: dict[str, dict[str, Any]], **device: Any) -> Source:
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e", "key_path": "k",
                  "outbox_path": "o"},
        "broker": {"host": "127.0.0.1"},
        "devices": [{"id": "press", "protocol": "s7", "host": sim.host, "port": sim.port,
                     "timeout_s": 1, **device, "tags": tags}],
    }  # fmt: skip
    loaded = parse_config(yaml.safe_dump(config, sort_keys=False), "agent.yaml")
    return SourceFactory().make(loaded.config.devices[0])


def all_tags() -> dict[str, dict[str, Any]]:
    return {name: tag(a, b, t, x) for name, (a, b, t, x, _, _) in VALUES.items()}


def by_tag(readings: object) -> dict[str, Reading]:
    assert isinstance(readings, list)
    return {reading.tag: reading for reading in readings}


async def test_every_area_and_type_in_one_read_per_area(server: S7Sim) -> None:
    src = source(server, all_tags())
    assert isinstance(src, S7Source)
    try:
        readings = by_tag(list(await src.read()))
        for name, (*_, want) in VALUES.items():
            reading = readings[name]
            assert reading.quality is Quality.GOOD, (name, reading.reason)
            assert reading.value == (pytest.approx(want) if isinstance(want, float) else want)
        # DB10, M, I, Q: one coalesced read each.
        assert [r.describe() for r in src.plan] == [
            "DB10 bytes 0..49", "I bytes 0..0", "M bytes 5..7", "Q bytes 1..1"
        ]  # fmt: skip
    finally:
        await src.close()


async def test_reads_fit_the_pdu_the_plc_granted(server: S7Sim) -> None:
    # 240-byte PDU: at most 222 data bytes per read. Tags spread over a 600-byte block.
    server.add_area("db", 600, db=20)
    tags = {
        f"w{n}": {"area": "db", "db": 20, "byte": n * 10, "data_type": "int"} for n in range(60)
    }
    for n in range(60):
        server.write("db", n * 10, struct.pack(">h", n - 30), db=20)
    src = source(server, tags, pdu_size_bytes=240)
    assert isinstance(src, S7Source)
    try:
        readings = list(await src.read())
        assert src.pdu_size == 240
        assert [r.value for r in readings] == [n - 30 for n in range(60)]
        assert len(src.plan) == 3
        assert all(request.size <= 240 - 18 for request in src.plan)
    finally:
        await src.close()


async def test_an_address_beyond_the_block_is_bad_with_the_usual_causes(server: S7Sim) -> None:
    tags = all_tags()
    tags["beyond"] = tag("db", DB_SIZE - 2, "dint", {})  # bytes 62..65 of a 64-byte block
    src = source(server, tags)
    try:
        for _ in range(2):  # the first poll splits the refused range; the second reads the parts
            readings = by_tag(list(await src.read()))
            beyond = readings.pop("beyond")
            assert beyond.quality is Quality.BAD and beyond.value is None
            assert beyond.reason is not None
            assert "Invalid address (0x05)" in beyond.reason
            assert "beyond the end of the block" in beyond.reason
            assert "Optimized block access" in beyond.reason
            assert all(r.quality is Quality.GOOD for r in readings.values())
    finally:
        await src.close()


async def test_a_plc_with_no_free_connection_gives_bad_readings_saying_why() -> None:
    sim = plc(max_clients=1)
    host, port = sim.start()
    from snap7.async_client import AsyncClient

    engineering_station = AsyncClient()
    await engineering_station.connect(host, 0, 1, port)
    src = source(sim, all_tags(), connection_type="op")
    try:
        readings = list(await src.read())
        assert {r.quality for r in readings} == {Quality.BAD}
        reason = readings[0].reason or ""
        assert "closed the connection during the handshake" in reason
        assert "max clients" in reason and "connection_type" in reason
        await engineering_station.disconnect()
        readings = await poll_until_good(src)
        assert by_tag(readings)["power"].value == 12.5
    finally:
        await src.close()
        sim.stop()


async def poll_until_good(src: Source, polls: int = 40) -> list[Reading]:
    for _ in range(polls):
        readings = list(await src.read())
        if all(r.quality is Quality.GOOD for r in readings):
            return readings
        await asyncio.sleep(0.25)
    raise AssertionError(f"still bad after {polls} polls: {readings[0].reason}")


async def test_a_plc_restart_is_bad_while_away_and_recovers_by_itself(server: S7Sim) -> None:
    src = source(server, all_tags())
    try:
        assert all(r.quality is Quality.GOOD for r in await src.read())
        server.stop()
        away = [list(await src.read()) for _ in range(3)]
        # Every reading while the PLC is away is bad (never the last value held), with a reason.
        for readings in away[1:]:
            assert {r.quality for r in readings} == {Quality.BAD}
            assert all(r.value is None and r.reason for r in readings)
        assert "refused" in (away[-1][0].reason or "")
        server.write("db", 14, struct.pack(">f", 99.0), db=DB)
        server.start()  # same port, as a PLC coming back
        back = by_tag(await poll_until_good(src))
        assert back["power"].value == 99.0
    finally:
        await src.close()
