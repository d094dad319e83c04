"""A real ``retrofit-agent run`` imports only the protocol stacks its devices use.

Each test runs the agent's own run path (``agent.run.run_lean``: config, service, signals) in a
child process against the plant simulator (in this process) and a real mosquitto, stops it
with SIGTERM after it has polled, and reads the child's ``sys.modules`` and health file. A
Modbus-only agent must not have imported asyncua (about 20 MB of a gateway's memory), an OPC
UA-only one not pymodbus; both must have read good values, so the test cannot pass on an agent
that never built its sources.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.keys import generate_key_pair
from contract.clock import ScaledClock
from sim.agent_config import agent_devices
from sim.runtime import Simulator
from stack import MosquittoServer, free_port
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
#: Protocol stacks, and libraries a gateway's run path should not carry: cryptography (the agent
#: signs through the libcrypto ssl loads, contract.ed25519), rich and typer (interactive CLI).
STACKS = ("asyncua", "cryptography", "pymodbus", "rich", "snap7", "typer")

#: The child: the real run path, SIGTERM to itself once every device has polled well (its
#: health file says so; at the latest after argv[2] seconds), then what it imported. Not after a
#: fixed time: on a busy machine the agent can take longer than that to start, and a SIGTERM
#: before its handler is installed kills it.
CHILD = """
import json, os, signal, sys, threading, time
from agent.run import run_lean
def stop_once_polled():
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        try:
            with open(sys.argv[3]) as health:
                devices = json.load(health)["devices"]
            if devices and all(d["polls"] > d["missed_polls"] for d in devices.values()):
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    os.kill(os.getpid(), signal.SIGTERM)
threading.Thread(target=stop_once_polled, daemon=True).start()
code = run_lean([sys.argv[1], "--health-file", sys.argv[3]])
stacks = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[4].split(",")))
print(json.dumps({"exit": code, "stacks": stacks}))
"""


def _config(tmp_path: Path, broker: MosquittoServer, devices: list[dict[str, Any]]) -> Path:
    key = tmp_path / "agent.key"
    generate_key_pair(key)
    document = {
        "agent": {
            "id": "gw-lazy",
            "platform": "plat-a",
            "enterprise": "ent-01",
            "key_path": str(key),
            "outbox_path": str(tmp_path / "outbox.sqlite"),
        },
        "broker": {"host": broker.host, "port": broker.port},
        "devices": devices,
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


async def _run_agent(config: Path, health: Path, max_s: float = 50.0) -> dict[str, Any]:
    argv = [sys.executable, "-c", CHILD, str(config), str(max_s), str(health), ",".join(STACKS)]
    result = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=max_s + 20, check=False
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0, result.stderr
    return report


def _good_polls(health: Path) -> dict[str, int]:
    devices = json.loads(health.read_text())["devices"]
    return {name: d["polls"] - d["missed_polls"] for name, d in devices.items()}


async def test_a_modbus_only_agent_imports_pymodbus_and_no_other_heavy_library(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    presses = plant(
        machine(id="press-1", unit_id=1, cycle_s=5),
        machine(id="press-2", unit_id=2, cycle_s=7),
        test_pattern_unit=None,
    )
    clock = ScaledClock(start=START, anchor=time.time(), speed=1.0)
    async with Simulator(presses, clock=clock, start_ts=START.timestamp(), modbus_port=0) as sim:
        assert sim.modbus_address is not None
        devices = agent_devices(presses, modbus=sim.modbus_address, opcua_endpoint=None,
                                poll_interval_s=0.5)  # fmt: skip
        health = tmp_path / "health.json"
        report = await _run_agent(_config(tmp_path, mosquitto, devices), health)
    assert report["stacks"] == ["pymodbus"]
    assert all(polls > 0 for polls in _good_polls(health).values()), health.read_text()


async def test_an_opcua_only_agent_never_imports_pymodbus(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    cells = plant(
        machine(id="cnc-1", protocol="opcua", unit_id=None, cycle_s=10), test_pattern_unit=None
    )
    clock = ScaledClock(start=START, anchor=time.time(), speed=1.0)
    simulator = Simulator(
        cells, clock=clock, start_ts=START.timestamp(), opcua_port=free_port(),
        work_dir=tmp_path / "sim",
    )  # fmt: skip
    async with simulator as sim:
        assert sim.opcua is not None
        devices = agent_devices(cells, modbus=None, opcua_endpoint=sim.opcua.endpoint,
                                poll_interval_s=0.5)  # fmt: skip
        health = tmp_path / "health.json"
        report = await _run_agent(_config(tmp_path, mosquitto, devices), health)
    assert report["stacks"] == ["asyncua", "cryptography"]  # asyncua's own security needs it
    assert all(polls > 0 for polls in _good_polls(health).values()), health.read_text()
