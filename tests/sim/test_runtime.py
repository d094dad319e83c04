"""sim.runtime and sim.control: a ticking plant on the scaled clock, and control commands."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from pymodbus.client import AsyncModbusTcpClient

from contract.clock import ScaledClock
from sim.control import COMMANDS, execute
from sim.runtime import Simulator
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _simulator(speed: float, tick_s: float) -> Simulator:
    return Simulator(
        plant(machine(id="press-1", unit_id=1, cycle_s=5)),
        clock=ScaledClock(start=START, anchor=time.time(), speed=speed),
        seed=2,
        start_ts=START.timestamp(),
        modbus_port=0,
        tick_s=tick_s,
    )


async def test_ticking_plant_follows_the_scaled_clock() -> None:
    async with _simulator(speed=600.0, tick_s=0.02) as sim:
        address = sim.modbus_address
        assert address is not None
        client = AsyncModbusTcpClient(address[0], port=address[1], timeout=1, retries=0)
        assert await client.connect()
        try:
            first = (await client.read_holding_registers(2, count=2, device_id=1)).registers
            latest = first
            async with asyncio.timeout(10):  # a hung plant fails here instead of hanging
                for _ in range(500):
                    await asyncio.sleep(0.02)
                    reply = await client.read_holding_registers(2, count=2, device_id=1)
                    latest = reply.registers
                    if latest != first:
                        break
            assert latest != first  # the counter moved with nobody calling step()
        finally:
            client.close()
        plant_now = sim.machines["press-1"].now
        assert START.timestamp() < plant_now <= sim.clock.timestamp()


async def test_control_commands_answer_json_and_name_mistakes() -> None:
    async with _simulator(speed=1.0, tick_s=0) as sim:
        await sim.advance_to(START.timestamp() + 180)
        assert (await execute(sim, "help"))["commands"] == COMMANDS
        truth = await execute(sim, f"truth press-1 {START.timestamp()} {START.timestamp() + 120}")
        expected = sim.truth("press-1", START.timestamp(), START.timestamp() + 120)
        assert truth["ok"] and truth["truth"]["total_count"] == expected.total_count
        assert truth["truth"]["planned_s"] == pytest.approx(120.0)

        answers = {
            line: await execute(sim, line)
            for line in (
                "exception 1 99",
                "freeze press-1 colour",
                "truth press-9 0 60",
                "opcua-restart",
                "silence",
                "warp 9",
                "",
            )
        }
        assert all(answer["ok"] is False for answer in answers.values())
        assert "1..11" in answers["exception 1 99"]["error"]
        assert "unknown signal 'colour'" in answers["freeze press-1 colour"]["error"]
        assert "unknown machine 'press-9'" in answers["truth press-9 0 60"]["error"]
        assert "no OPC UA server" in answers["opcua-restart"]["error"]
        assert "usage: silence UNIT" in answers["silence"]["error"]
        assert "unknown command 'warp'" in answers["warp 9"]["error"]

        assert (await execute(sim, "freeze press-1 state"))["value"] == 1
        status = await execute(sim, "status")
        assert status["machines"]["press-1"]["state_name"] == "running"
