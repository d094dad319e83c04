"""retrofit-sim on the command line: help, check, and a running plant driven through control."""

from __future__ import annotations

import asyncio
import json
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from typer.testing import CliRunner

from sim.cli import EXIT_BAD_PLANT, EXIT_CANNOT_START, app
from stack import free_port

EXAMPLE = Path(__file__).parents[2] / "sim" / "examples" / "plant.yaml"
runner = CliRunner()


def test_help_names_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "check", "registers"):
        assert command in result.output
    run_help = runner.invoke(app, ["run", "--help"])
    for option in ("--modbus-port", "--opcua-port", "--rtu-port", "--seed", "--speed", "--anchor"):
        assert option in run_help.output


def test_check_reports_problems_with_lines_and_exit_code(tmp_path: Path) -> None:
    assert runner.invoke(app, ["check", str(EXAMPLE)]).exit_code == 0
    bad = tmp_path / "plant.yaml"
    bad.write_text("machines:\n  - id: a\n    protocol: modbus\n    unit_id: 900\n")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == EXIT_BAD_PLANT
    assert f"{bad}:4 machines[0].unit_id" in result.output
    assert "Traceback" not in result.output


def test_registers_prints_both_maps() -> None:
    result = runner.invoke(app, ["registers"])
    assert result.exit_code == 0
    assert "total_count" in result.output and "float64_bl_wl" in result.output


@pytest.fixture
def running_sim() -> Iterator[tuple[subprocess.Popen[str], dict[str, object]]]:
    modbus_port, control_port = free_port(), free_port()
    command = [
        sys.executable, "-m", "sim.cli", "run", str(EXAMPLE),
        "--modbus-port", str(modbus_port), "--control-port", str(control_port),
        "--seed", "4", "--start", "2026-02-23T06:00:00+08:00", "--speed", "60",
        "--log-level", "WARNING",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 20)
        assert readable, "no ready line within 20 s"
        ready = json.loads(process.stdout.readline())
        yield process, ready
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _control(address: str, *lines: str) -> list[dict[str, object]]:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        stream = connection.makefile("rw")
        answers = []
        for line in lines:
            stream.write(line + "\n")
            stream.flush()
            answers.append(json.loads(stream.readline()))
        return answers


async def _read_units(host: str, port: int, units: tuple[int, ...]) -> list[ModbusPDU]:
    client = AsyncModbusTcpClient(host, port=port, timeout=2, retries=0)
    assert await client.connect()
    try:
        return [await client.read_holding_registers(0, count=2, device_id=u) for u in units]
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_run_serves_and_takes_fault_commands(
    running_sim: tuple[subprocess.Popen[str], dict[str, object]],
) -> None:
    process, ready = running_sim
    assert ready["event"] == "ready" and ready["speed"] == 60.0
    control = str(ready["control"])
    status, exception, counts, bad = _control(
        control, "status", "exception 1 6", "counts 1", "freeze nope state"
    )
    machines = status["machines"]
    assert status["ok"] and isinstance(machines, dict)
    assert set(machines) == {"press-1", "press-2", "cnc-1"}
    assert exception == {"ok": True, "unit": 1, "code": 6, "start": 0, "end": 65535}
    assert counts == {"ok": True, "counts": {}}
    assert bad["ok"] is False and "unknown machine 'nope'" in str(bad["error"])

    host, port = str(ready["modbus"]).rsplit(":", 1)
    busy, fine = asyncio.run(_read_units(host, int(port), (1, 2)))
    assert busy.isError() and busy.exception_code == 6
    assert not fine.isError()
    assert _control(control, "counts 1")[0] == {"ok": True, "counts": {"3": 1}}

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_check_reports_a_bad_script_with_its_line_and_exit_code(tmp_path: Path) -> None:
    (tmp_path / "plant.yaml").write_text(
        "machines:\n  - id: line-1\n    protocol: modbus\n    unit_id: 1\n    script: day.csv\n",
        encoding="utf-8",
    )
    (tmp_path / "day.csv").write_text(
        "minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,running,5,9\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["check", str(tmp_path / "plant.yaml")])
    assert result.exit_code == EXIT_BAD_PLANT
    assert "day.csv:2 rejects: got 9, more than the minute's 5 parts" in result.output
    assert "Traceback" not in result.output


RETROFIT_EXAMPLE = EXAMPLE.parent / "retrofit-plant.yaml"


async def _read_meter_over_rtu(link: str, unit: int) -> ModbusPDU:
    client = AsyncModbusSerialClient(link, framer=FramerType.RTU, timeout=2, retries=0)
    assert await client.connect()
    try:
        return await client.read_input_registers(0, count=10, device_id=unit)
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_run_serves_retrofit_units_on_an_rtu_pty_link(tmp_path: Path) -> None:
    link = tmp_path / "ttyRETRO"
    command = [
        sys.executable, "-m", "sim.cli", "run", str(RETROFIT_EXAMPLE), "--rtu-pty", str(link),
        "--seed", "4", "--start", "2026-02-23T09:00:00+08:00", "--log-level", "WARNING",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], 20)
        assert readable, "no ready line within 20 s"
        ready = json.loads(process.stdout.readline())
        assert ready["rtu_pty"] == [str(link)] and link.is_symlink()
        meter = asyncio.run(_read_meter_over_rtu(str(link), 21))
        assert not meter.isError()
        voltage = AsyncModbusSerialClient.convert_from_registers(
            meter.registers[6:8], AsyncModbusSerialClient.DATATYPE.FLOAT32
        )
        assert voltage == 400.0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not link.is_symlink()  # removed at exit
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_run_refuses_to_replace_a_file_with_the_rtu_pty_link(tmp_path: Path) -> None:
    taken = tmp_path / "ttyRETRO"
    taken.write_text("not a link", encoding="utf-8")
    result = runner.invoke(app, ["run", str(RETROFIT_EXAMPLE), "--rtu-pty", str(taken)])
    assert result.exit_code == EXIT_CANNOT_START
    assert "exists and is not a symlink" in result.output
    assert taken.read_text(encoding="utf-8") == "not a link"
