"""``probe s7`` against python-snap7's real S7 server (``sim.s7_server``) on a free port."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import pytest
from rich.console import Console
from snap7.client import Client

from agent.probe.options import EXIT_DEVICE_FAILED, EXIT_OK, EXIT_USAGE
from agent.probe.s7 import parse_s7_range, probe_s7
from agent.sources.s7 import S7MemoryArea
from sim.s7_server import S7Sim

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def plc() -> Iterator[S7Sim]:
    sim = S7Sim(max_clients=1)
    sim.add_area("db", 24, db=10)
    sim.write("db", 0, struct.pack(">f", 12.5) + struct.pack(">i", -123456), db=10)
    sim.write("db", 8, bytes([8, 4]) + b"A-17", db=10)
    sim.start()
    yield sim
    sim.stop()


def run(sim: S7Sim, read: str, **options: object) -> tuple[int, str]:
    console = Console(file=io.StringIO(), width=250, color_system=None)
    code = probe_s7(f"{sim.host}:{sim.port}", read, console, **options)  # type: ignore[arg-type]  # keyword options of probe_s7
    output = console.file.getvalue()  # type: ignore[attr-defined]  # the StringIO given above
    return code, output


def row(output: str, offset: int) -> list[str]:
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if cells and cells[0] == str(offset):
            return cells
    raise AssertionError(f"no row for byte {offset} in:\n{output}")


def test_each_offset_shows_under_every_type(plc: S7Sim) -> None:
    code, output = run(plc, "db10:0-15")
    assert code == EXIT_OK
    assert row(output, 0)[8] == "12.5"  # REAL at DB10.DBD0
    assert row(output, 4)[7] == "-123456"  # DINT at DB10.DBD4
    assert row(output, 8)[-1] == "STRING[8] 'A-17'"
    assert row(output, 1)[4:10] == ["", "", "", "", "", ""]  # odd offsets: bytes only


def test_bytes_beyond_the_block_are_marked_with_the_usual_causes(plc: S7Sim) -> None:
    code, output = run(plc, "db10:20-27")
    assert code == EXIT_OK
    assert row(output, 23)[1] == "00" and row(output, 24)[1] == "--"
    assert "4 bytes unreadable" in output and "Optimized block access" in output


def test_a_missing_block_exits_3_naming_the_causes(plc: S7Sim) -> None:
    code, output = run(plc, "db11:0-3")
    assert code == EXIT_DEVICE_FAILED
    assert "Object does not exist" in output and "Optimized block access" in output


def test_a_plc_with_no_free_connection_exits_3_saying_why(plc: S7Sim) -> None:
    engineering_station = Client()
    engineering_station.connect(plc.host, 0, 1, plc.port)
    try:
        code, output = run(plc, "db10:0-3", connection_type="op")
    finally:
        engineering_station.disconnect()
    assert code == EXIT_DEVICE_FAILED
    assert "max clients" in output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db10:0-31", (S7MemoryArea.DB, 10, 0, 31)),
        ("M:4-5", (S7MemoryArea.MERKER, 0, 4, 5)),
        ("q:0-0", (S7MemoryArea.OUTPUT, 0, 0, 0)),
    ],
)
def test_ranges_parse(text: str, expected: tuple[S7MemoryArea, int, int, int]) -> None:
    assert parse_s7_range(text) == expected


@pytest.mark.parametrize("text", ["db0:0-1", "db1:5-2", "x:0-1", "db1:0-9999", "db1"])
def test_bad_ranges_are_usage_errors(plc: S7Sim, text: str) -> None:
    code, output = run(plc, text)
    assert code == EXIT_USAGE and "--read" in output
