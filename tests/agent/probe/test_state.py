"""``retrofit-agent probe state`` against the real simulator's retrofit machine over Modbus TCP.

The simulator runs a machine with no controller (a power meter and a DI module, sim/retrofit.py)
at 10x: off (standby 0.3 kW) for 12 wall seconds, then at the shift's start an inrush
(6 x idle for 10 plant s = 1 wall s), idle (3 kW) for a 60-s warm-up (6 wall s), then running
(about 10.2 kW). The probe watches its power meanwhile; the block it prints, pasted into the
configuration, must pass check-config offline and put its edges between the levels.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from agent.checkconfig import EXIT_OK, check_config
from agent.probe.options import EXIT_DEVICE_FAILED, EXIT_USAGE
from agent.probe.state import probe_state
from sim.agent_config import agent_devices
from sim.plant import PlantConfig, parse_plant

pytestmark = pytest.mark.timeout(90)

SHIFT_START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday
PLANT = """
plant: probe-plant
machines:
  - id: old-press
    protocol: retrofit
    retrofit: {meter_unit_id: 21, di_unit_id: 22, inrush_factor: 6, inrush_s: 10, warmup_s: 60}
    counter_bits: 16
    cycle_s: 20
    idle_kw: 3.0
    standby_kw: 0.3
    energy_per_part_kwh: 0.04
    mtbf_s: 360000
    idle_every_s: 360000
    calendar:
      timezone: UTC
      shifts: [{start: "07:00", end: "15:00"}]
"""
SPEED = 10.0
#: Wall seconds from the simulator's start to the shift start (plant 06:58:00 at the start):
#: however long the simulator takes to come up under load (up to this), the probe sees off.
OFF_WALL_S = 120 / SPEED


def the_plant() -> PlantConfig:
    return parse_plant(PLANT, "probe-plant.yaml")


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[tuple[str, int, float]]:
    """The simulator's Modbus address and the wall time its plant reaches the shift start."""
    plant_path = tmp_path / "plant.yaml"
    plant_path.write_text(PLANT)
    anchor = time.time()
    start = SHIFT_START.timestamp() - OFF_WALL_S * SPEED
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("retrofit-sim")), "run", str(plant_path),
         "--modbus-port", "0", "--speed", str(SPEED), "--anchor", str(anchor),
         "--start", datetime.fromtimestamp(start, UTC).isoformat()],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        host, port = ready["modbus"].rsplit(":", 1)
        yield host, int(port), anchor + OFF_WALL_S
    finally:
        process.terminate()
        process.communicate(timeout=10)


def write_config(tmp_path: Path, device: dict[str, Any]) -> Path:
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e",
                  "key_path": str(tmp_path / "k"), "outbox_path": str(tmp_path / "o")},
        "broker": {"host": "127.0.0.1"},
        "devices": [device],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def test_the_printed_block_pasted_into_the_config_passes_check_config(
    tmp_path: Path, simulator: tuple[str, int, float]
) -> None:
    host, port, shift_start_wall = simulator
    (device,) = agent_devices(the_plant(), modbus=(host, port), opcua_endpoint=None)
    path = write_config(tmp_path, device)
    out, buffer = console()
    # From now (the simulator is up) to well into running: off, inrush, idle 6 s, running.
    seconds = shift_start_wall + 12 - time.time()
    code = probe_state(path, "old-press", seconds, 0.2, out)
    output = buffer.getvalue()
    assert code == EXIT_OK, output
    block_text = output.split("paste under the device (replacing any state: block):\n", 1)[1]
    block = yaml.safe_load(block_text)["state"]
    power = block["power"]
    assert power["tag"] == "power"
    # The edges sit between the noisy levels: standby 0.3, idle 3, running about 10.2 kW.
    assert 0.36 < power["off_below"] - power["hysteresis"] < power["off_below"] < 2.89
    assert 3.11 < power["running_above"] - power["hysteresis"] < power["running_above"] < 9.0
    assert "(inrush?) left out of the levels" in output  # the 18-kW inrush: not a level
    assert block["min_dwell_s"] == 10  # two polls (5 s) of the device, above 2 x the inrush
    pasted = write_config(tmp_path, {**device, "state": block})
    check_out, check_buffer = console()
    assert check_config(pasted, True, check_out, env={}) == EXIT_OK, check_buffer.getvalue()
    assert "devices[0].state" not in check_buffer.getvalue()  # no warning about the block


def test_an_unknown_device_is_a_usage_error(tmp_path: Path) -> None:
    (device,) = agent_devices(the_plant(), modbus=("127.0.0.1", 1), opcua_endpoint=None)
    out, buffer = console()
    assert probe_state(write_config(tmp_path, device), "press-9", 1, 0.5, out) == EXIT_USAGE
    assert "--device 'press-9': not in" in buffer.getvalue()
    assert "its devices: old-press" in buffer.getvalue()


def test_an_unreachable_device_fails_with_exit_3(tmp_path: Path) -> None:
    from stack import free_port

    (device,) = agent_devices(the_plant(), modbus=("127.0.0.1", free_port()), opcua_endpoint=None)
    out, buffer = console()
    assert probe_state(write_config(tmp_path, device), "old-press", 1, 0.5, out) == (
        EXIT_DEVICE_FAILED
    )
    assert "no usable reading of power" in buffer.getvalue()


def test_too_many_readings_is_a_usage_error(tmp_path: Path) -> None:
    (device,) = agent_devices(the_plant(), modbus=("127.0.0.1", 1), opcua_endpoint=None)
    out, buffer = console()
    path = write_config(tmp_path, device)
    assert probe_state(path, "old-press", 3600, 0.1, out) == EXIT_USAGE
    assert "36000 readings; expected at most 1200: raise --interval" in buffer.getvalue()
