"""``check-config`` online against python-snap7's real S7 server (``sim.s7_server``).

Issue 18: a DB address beyond the block and a PLC refusing the connection (its max clients
reached) give a clear error, never a crash or a silently wrong value.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from snap7.client import Client

from agent.checkconfig import EXIT_DEVICES_FAILED, EXIT_OK, check_config
from sim.s7_server import S7Sim

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def plc() -> Iterator[S7Sim]:
    sim = S7Sim(max_clients=1)
    sim.add_area("db", 16, db=10)
    sim.write("db", 2, struct.pack(">i", 4321) + struct.pack(">f", 7.5), db=10)
    sim.start()
    yield sim
    sim.stop()


def write_config(tmp_path: Path, sim: S7Sim, extra_tags: dict[str, object]) -> Path:
    tags = {
        "strokes": {"role": "total_count", "area": "db", "db": 10, "byte": 2,
                    "data_type": "dint", "width": 32},
        "power": {"role": "power_kw", "area": "db", "db": 10, "byte": 6, "data_type": "real"},
        **extra_tags,
    }  # fmt: skip
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e",
                  "key_path": str(tmp_path / "k"), "outbox_path": str(tmp_path / "o")},
        "broker": {"host": "127.0.0.1"},
        "devices": [{"id": "press-1", "protocol": "s7", "host": sim.host, "port": sim.port,
                     "connection_type": "op", "tags": tags}],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def check(path: Path) -> tuple[int, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=400, color_system=None)
    return check_config(path, False, console, env={}), buffer.getvalue()


def test_every_tag_read_once(tmp_path: Path, plc: S7Sim) -> None:
    code, output = check(write_config(tmp_path, plc, {}))
    assert code == EXIT_OK, output
    assert "4321" in output and "7.5" in output


def test_an_address_beyond_the_block_fails_that_tag_only_with_the_causes(
    tmp_path: Path, plc: S7Sim
) -> None:
    beyond = {"area": "db", "db": 10, "byte": 14, "data_type": "dint"}  # bytes 14..17 of 16
    code, output = check(write_config(tmp_path, plc, {"beyond": beyond}))
    assert code == EXIT_DEVICES_FAILED
    beyond_row = next(line for line in output.splitlines() if line.startswith("beyond"))
    assert "bad: PLC refused the read" in beyond_row and "Invalid address" in beyond_row
    assert "Optimized block access" in beyond_row
    assert "4321" in output and "7.5" in output  # the other tags still read, and right
    assert "1 of 1 devices failed: press-1" in output


def test_a_plc_with_no_free_connection_fails_with_the_reason(tmp_path: Path, plc: S7Sim) -> None:
    engineering_station = Client()
    engineering_station.connect(plc.host, 0, 1, plc.port)
    try:
        code, output = check(write_config(tmp_path, plc, {}))
    finally:
        engineering_station.disconnect()
    assert code == EXIT_DEVICES_FAILED
    assert "closed the connection during the handshake" in output
    assert "max clients reached" in output
    assert "Traceback" not in output
