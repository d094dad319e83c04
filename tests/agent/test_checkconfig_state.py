"""``check-config`` online on a machine with no controller: the state inferred from one reading.

The real simulator's retrofit machine (a power meter and a DI module, sim/retrofit.py) serves
Modbus TCP, running once its warm-up is over; the agent's device for it has a ``state:`` block
on its power and its run lamp. check-config prints the inferred state with why, warns when the
lamp and the power disagree, and the simulator's ``meter-garbage`` fault (NaN, then 3.4e38 W) is
a bad reading with exit code 3, never a traceback. The installers' example
(deploy/agent/examples/press-power-meter-rtu.yaml) reads the simulator's kit over RTU as it is.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from agent.checkconfig import EXIT_DEVICES_FAILED, EXIT_OK, check_config
from sim.agent_config import agent_devices
from stack import free_port
from tests.agent.probe.test_state import PLANT, the_plant

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "deploy" / "agent" / "examples" / "press-power-meter-rtu.yaml"
RETROFIT_PLANT = ROOT / "sim" / "examples" / "retrofit-plant.yaml"
STATE = {
    "power": {"tag": "power", "off_below": 1.5, "running_above": 6.0, "hysteresis": 0.5},
    "run_signal": {"tag": "lamp", "running_when": True},
    "min_dwell_s": 20,
}


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[dict[str, str]]:
    plant_path = tmp_path / "plant.yaml"
    plant_path.write_text(PLANT)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("retrofit-sim")), "run", str(plant_path),
         "--modbus-port", "0", "--control-port", str(free_port()), "--speed", "30",
         "--start", "2026-03-02T08:00:00+00:00", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready: dict[str, str] = json.loads(process.stdout.readline())
        # The shift starts with the power-on inrush and a 60-s warm-up (2 wall s at 30x).
        deadline = time.monotonic() + 20
        while running_state(ready["control"]) != "running":
            assert time.monotonic() < deadline, "old-press not running within 20 s"
            time.sleep(0.2)
        yield ready
    finally:
        process.terminate()
        process.communicate(timeout=10)


def control(address: str, line: str) -> dict[str, Any]:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        stream = connection.makefile("rw")
        stream.write(line + "\n")
        stream.flush()
        answer: dict[str, Any] = json.loads(stream.readline())
        return answer


def running_state(control_address: str) -> str:
    status = control(control_address, "status")
    name: str = status["machines"]["old-press"]["state_name"]
    return name


def check(tmp_path: Path, ready: dict[str, str], state: dict[str, Any]) -> tuple[int, str]:
    host, port = ready["modbus"].rsplit(":", 1)
    (device,) = agent_devices(the_plant(), modbus=(host, int(port)), opcua_endpoint=None)
    config = {
        "agent": {"id": "gw", "platform": "p", "enterprise": "e",
                  "key_path": str(tmp_path / "k"), "outbox_path": str(tmp_path / "o")},
        "broker": {"host": "127.0.0.1"},
        "devices": [{**device, "state": state}],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    buffer = io.StringIO()
    console = Console(file=buffer, width=400, color_system=None)
    return check_config(path, False, console, env={}), buffer.getvalue()


def line_of(output: str, marker: str) -> str:
    return next(line for line in output.splitlines() if marker in line)


def test_the_inferred_state_is_printed_with_why(tmp_path: Path, simulator: dict[str, str]) -> None:
    code, output = check(tmp_path, simulator, STATE)
    assert code == EXIT_OK, output
    line = line_of(output, "old-press inferred state:")
    assert line.startswith("old-press inferred state: running (power ")
    assert " kW: ≥ off_below 1.5, ≥ running_above 6; lamp true;" in line
    assert line.endswith("one reading: min_dwell_s not applied)")
    assert "old-press warning:" not in output


def test_a_lamp_and_a_power_that_disagree_are_flagged(
    tmp_path: Path, simulator: dict[str, str]
) -> None:
    wrong_polarity = {**STATE, "run_signal": {"tag": "lamp", "running_when": False}}
    code, output = check(tmp_path, simulator, wrong_polarity)
    assert code == EXIT_OK, output  # a warning: the readings themselves are good
    assert "old-press inferred state: idle (" in output  # the signal wins over the level
    warning = line_of(output, "old-press warning:")
    assert "is at or above running_above 6 but lamp says not running" in warning


def test_a_meter_serving_garbage_is_a_bad_reading_and_exit_3(
    tmp_path: Path, simulator: dict[str, str]
) -> None:
    assert control(simulator["control"], "meter-garbage old-press on")["ok"] is True
    seen: set[str] = set()
    # NaN in even plant seconds, 3.4e38 W in odd ones: check until both were read.
    for _ in range(20):
        code, output = check(tmp_path, simulator, STATE)
        assert code == EXIT_DEVICES_FAILED, output
        assert "Traceback" not in output
        assert "1 of 1 devices failed: old-press" in output
        power_row = line_of(output, "power ")
        if "implausible" in power_row:
            seen.add("implausible")
            assert "bad: implausible level (see the inferred state)" in power_row
            state_line = line_of(output, "inferred state:")
            assert "power 3.4e+35: implausible, a bad value (expected -0.5..60)" in state_line
        elif "decode error" in power_row:
            seen.add("nan")
            assert "bad: decode error: float32 register holds nan" in power_row
            assert "(power: no usable value; lamp true;" in output
        if seen == {"implausible", "nan"}:
            break
    assert seen == {"implausible", "nan"}


def test_the_installers_example_reads_the_simulators_kit_over_rtu(tmp_path: Path) -> None:
    link = tmp_path / "ttyRV0"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("retrofit-sim")), "run", str(RETROFIT_PLANT),
         "--rtu-pty", str(link), "--speed", "30", "--start", "2026-02-23T09:00:00+08:00",
         "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        json.loads(process.stdout.readline())
        config = tmp_path / "agent.yaml"
        config.write_text(EXAMPLE.read_text(encoding="utf-8").replace("/dev/ttyUSB0", str(link)))
        buffer = io.StringIO()
        console = Console(file=buffer, width=400, color_system=None)
        code = check_config(config, False, console, env={})
        output = buffer.getvalue()
        assert code == EXIT_OK, output
        assert "all 1 devices answered" in output
        line = line_of(output, "old-press inferred state: ")
        assert "power " in line and " kW: " in line and "; lamp " in line
    finally:
        process.terminate()
        process.communicate(timeout=10)
