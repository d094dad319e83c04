"""agent.sources.opcua against the plant simulator's real asyncua server.

Each test starts its own simulator (about 1.5 s) with ``tick_s=0``: values change only when a
test advances the plant, so every expected value comes from ``sim.values``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.ua.status_codes import StatusCodes

from agent.config import OpcUaDeviceConfig
from agent.sources.base import Quality, Reading
from agent.sources.factory import make_source
from agent.sources.opcua import OpcUaSource, quality_of, scaled_value
from contract.clock import ScaledClock
from sim.certs import make_self_signed
from sim.opcua_server import OPCUA_VARIABLES
from sim.runtime import Simulator
from stack import free_port
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CLIENT_URI = "urn:retrofit-verify:agent-test"
#: Signal name in ``sim.values`` of each OPC UA variable.
SIGNAL = {variable.name: variable.signal for variable in OPCUA_VARIABLES}


def _clock() -> ScaledClock:
    return ScaledClock(start=START, anchor=time.time(), speed=60.0)


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """Two OPC UA machines; anonymous and user op/secret; the plant moves only when told."""
    simulator = Simulator(
        plant(
            machine(id="cnc-1", protocol="opcua", unit_id=None, cycle_s=10),
            machine(id="cnc-2", protocol="opcua", unit_id=None, cycle_s=7),
            test_pattern_unit=None,
        ),
        clock=_clock(),
        seed=5,
        start_ts=START.timestamp(),
        opcua_port=free_port(),
        opcua_users={"op": "secret"},
        work_dir=tmp_path / "sim",
        tick_s=0,
    )
    async with simulator:
        yield simulator


def _device(sim: Simulator, tags: dict[str, Any], **settings: Any) -> OpcUaDeviceConfig:
    assert sim.opcua is not None
    return OpcUaDeviceConfig.model_validate(
        {
            "id": "cell-1",
            "protocol": "opcua",
            "endpoint": sim.opcua.endpoint,
            "timeout_s": 2.0,
            "sampling_interval_s": 0.05,
            "tags": tags,
            **settings,
        }
    )


def _machine_tags(machine_id: str) -> dict[str, Any]:
    """A tag per variable of a machine, by node id, named after the simulator's signal."""
    return {
        f"{machine_id}.{variable.signal}": {"node": f"ns=2;s={machine_id}.{variable.name}"}
        for variable in OPCUA_VARIABLES
    }


def _expected(sim: Simulator, tag: str) -> Any:
    machine_id, signal = tag.split(".")
    return sim.values(machine_id)[signal]


async def _wait_for(
    source: OpcUaSource, done: Callable[[Sequence[Reading]], bool], within_s: float
) -> Sequence[Reading]:
    """Read every 0.1 s until ``done(readings)``; fail with the last readings after ``within_s``."""
    readings = await source.read()
    deadline = time.monotonic() + within_s
    while not done(readings):
        if time.monotonic() > deadline:
            shown = "\n".join(f"{r.tag}: {r.quality} {r.value!r} {r.reason}" for r in readings)
            raise AssertionError(f"not reached within {within_s} s; last readings:\n{shown}")
        await asyncio.sleep(0.1)
        readings = await source.read()
    return readings


def _all_match(sim: Simulator, skip: Collection[str] = ()) -> Callable[[Sequence[Reading]], bool]:
    """True when every reading but ``skip`` is good and equals the simulator's value."""

    def done(readings: Sequence[Reading]) -> bool:
        return all(
            r.quality is Quality.GOOD and r.value == _expected(sim, r.tag)
            for r in readings
            if r.tag not in skip
        )

    return done


async def test_subscription_reads_every_value_and_flags_an_unknown_node(sim: Simulator) -> None:
    tags = _machine_tags("cnc-1") | _machine_tags("cnc-2")
    tags["missing"] = {"node": "ns=2;s=cnc-1.NoSuchVariable"}
    tags["energy_wh"] = {"node": "ns=2;s=cnc-2.EnergyKWh", "scale": 1000, "offset": 5}
    source = make_source(_device(sim, tags))
    assert isinstance(source, OpcUaSource)
    try:
        await source.connect()
        skip = {"missing", "energy_wh"}
        await _wait_for(source, _all_match(sim, skip), within_s=5)

        await sim.advance_to(START.timestamp() + 600)
        assert sim.values("cnc-1")["total_count"] > 0
        readings = await _wait_for(source, _all_match(sim, skip), within_s=5)
        by_tag = {r.tag: r for r in readings}
        assert [r.tag for r in readings] == list(tags)  # one per tag, configuration order

        missing = by_tag["missing"]
        assert (missing.quality, missing.value, missing.reason) == (
            Quality.BAD,
            None,
            "BadNodeIdUnknown",
        )
        energy = by_tag["energy_wh"]
        assert energy.value == pytest.approx(sim.values("cnc-2")["energy_kwh"] * 1000 + 5)
        assert energy.raw == sim.values("cnc-2")["energy_kwh"]
        # Source timestamps are the simulator's plant time of the last change; read_ts is the
        # agent's scaled clock, so plant time too.
        state = by_tag["cnc-1.state"]
        assert state.source_ts is not None and START.timestamp() <= state.source_ts
        assert state.source_ts <= START.timestamp() + 600
        assert state.read_ts >= START.timestamp()
    finally:
        await source.close()
    closed = await source.read()
    assert {(r.quality, r.reason) for r in closed} == {(Quality.BAD, "source closed")}


async def test_polling_with_browse_paths_in_one_read_per_poll(sim: Simulator) -> None:
    tags: dict[str, Any] = {
        "cnc-1.total_count": {"browse_path": "2:Plant/2:cnc-1/2:TotalCount"},
        "cnc-1.state_name": {"browse_path": "/2:Plant/2:cnc-1/2:StateName"},
        # No namespace index: matched by name in any namespace.
        "cnc-2.energy_kwh": {"browse_path": "Plant/cnc-2/EnergyKWh"},
        "cnc-2.good_count": {"node": "ns=2;s=cnc-2.GoodCount"},
        "nowhere": {"browse_path": "2:Plant/2:cnc-9/2:State"},
        "nowhere_by_name": {"browse_path": "Plant/cnc-9/State"},
    }
    source = OpcUaSource(_device(sim, tags, read_mode="polling"), _clock())
    try:
        await source.connect()
        await sim.advance_to(START.timestamp() + 900)
        skip = {"nowhere", "nowhere_by_name"}
        readings = await _wait_for(source, _all_match(sim, skip), within_s=5)
        by_tag = {r.tag: r for r in readings}
        assert by_tag["cnc-1.total_count"].value == sim.values("cnc-1")["total_count"] > 0
        assert all(
            r.latency_s is not None and r.latency_s > 0 for r in readings if r.tag not in skip
        )
        assert by_tag["nowhere"].quality is Quality.BAD
        assert by_tag["nowhere"].reason == "BadNoMatch"
        assert by_tag["nowhere_by_name"].reason is not None
        assert by_tag["nowhere_by_name"].reason.startswith("BadNoMatch")
    finally:
        await source.close()


async def test_basic256sha256_sign_and_sign_and_encrypt_with_username(
    sim: Simulator, tmp_path: Path
) -> None:
    assert sim.opcua is not None
    cert, key = tmp_path / "agent-cert.der", tmp_path / "agent-key.pem"
    make_self_signed(cert, key, CLIENT_URI, server=False)
    tags = _machine_tags("cnc-1")
    for mode, server_cert in (("Sign", None), ("SignAndEncrypt", sim.opcua.cert_path)):
        device = _device(
            sim,
            tags,
            security_policy="Basic256Sha256",
            security_mode=mode,
            certificate_path=cert,
            private_key_path=key,
            server_certificate_path=server_cert,
            auth="username",
            username="op",
            password="secret",
        )
        source = OpcUaSource(device, _clock())
        try:
            await source.connect()
            await _wait_for(source, _all_match(sim), within_s=5)
        finally:
            await source.close()


async def test_wrong_password_is_bad_quality_with_the_reason(sim: Simulator) -> None:
    device = _device(sim, _machine_tags("cnc-1"), auth="username", username="op", password="not-it")
    source = OpcUaSource(device, _clock())
    try:
        await source.connect()  # returns after the first attempt, raising nothing
        readings = await source.read()
        assert len(readings) == len(OPCUA_VARIABLES)
        assert {r.quality for r in readings} == {Quality.BAD}
        assert {r.reason for r in readings} == {"connect failed: BadUserAccessDenied"}
        await asyncio.sleep(1.5)  # past the first backoff: a refusal is not retried at once
        assert {r.reason for r in await source.read()} == {"connect failed: BadUserAccessDenied"}
    finally:
        await source.close()


@pytest.mark.parametrize("read_mode", ["subscription", "polling"])
async def test_recovers_after_server_restart(sim: Simulator, read_mode: str) -> None:
    """Values turn bad while the server is down and good again within 20 s of its return.

    The 20 s is a behaviour limit (the reconnect backoff starts at 0.5 s and is capped at 10 s),
    not a timing benchmark: on this machine recovery takes about a second.
    """
    source = OpcUaSource(_device(sim, _machine_tags("cnc-1"), read_mode=read_mode), _clock())
    try:
        await source.connect()
        await _wait_for(source, _all_match(sim), within_s=5)

        restart = asyncio.create_task(sim.restart_opcua(down_s=2))
        down = await _wait_for(
            source, lambda rs: all(r.quality is Quality.BAD for r in rs), within_s=5
        )
        assert all(r.reason and r.reason.startswith("connection lost") for r in down), down
        await restart

        await sim.advance_to(START.timestamp() + 1200)  # new values must flow, not only old ones
        assert sim.values("cnc-1")["total_count"] > 0
        await _wait_for(source, _all_match(sim), within_s=20)
    finally:
        await source.close()


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


def test_status_codes_become_quality_and_numbers_are_scaled() -> None:
    assert quality_of(None) == (Quality.GOOD, None)
    assert quality_of(_status(StatusCodes.Good)) == (Quality.GOOD, None)
    uncertain = _status(StatusCodes.UncertainLastUsableValue)
    assert quality_of(uncertain) == (Quality.UNCERTAIN, "UncertainLastUsableValue")
    bad = _status(StatusCodes.BadNodeIdUnknown)
    assert quality_of(bad) == (Quality.BAD, "BadNodeIdUnknown")

    assert scaled_value(7, 1.0, 0.0) == (7, None)  # identity keeps an integer exact
    assert scaled_value(7, 0.5, 1.0) == (4.5, None)
    assert scaled_value("running", 1.0, 0.0) == ("running", None)
    assert scaled_value(ua.LocalizedText("idle"), 1.0, 0.0) == ("idle", None)
    assert scaled_value(True, 1.0, 0.0) == (True, None)
    value, reason = scaled_value("running", 2.0, 0.0)
    assert value is None and reason == "got str value 'running', expected a number to scale"
    value, reason = scaled_value([1, 2], 1.0, 0.0)
    assert value is None and reason == "unsupported value type list, expected a scalar"
