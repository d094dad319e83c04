"""sim.opcua_server through a real asyncua client: browse, read, subscribe, security, restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.uaerrors import UaError

from contract.clock import ScaledClock
from sim.certs import make_self_signed
from sim.opcua_server import NAMESPACE_URI, OPCUA_VARIABLES
from sim.registers import STATE_CODES
from sim.runtime import Simulator
from stack import free_port
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CLIENT_URI = "urn:retrofit-verify:sim-test-client"


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """Two OPC UA machines, anonymous plus user op/secret, no ticking."""
    simulator = Simulator(
        plant(
            machine(id="cnc-1", protocol="opcua", unit_id=None, cycle_s=10),
            machine(id="cnc-2", protocol="opcua", unit_id=None, counter_bits=16),
            test_pattern_unit=None,
        ),
        clock=ScaledClock(start=START, anchor=time.time(), speed=1.0),
        seed=3,
        start_ts=START.timestamp(),
        opcua_port=free_port(),
        opcua_users={"op": "secret"},
        work_dir=tmp_path,
        tick_s=0,
    )
    async with simulator:
        yield simulator


def _endpoint(sim: Simulator) -> str:
    assert sim.opcua is not None
    return sim.opcua.endpoint


class _Collector:
    """Subscription handler keeping every data change it receives."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.changed = asyncio.Event()

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        self.values.append(value)
        self.changed.set()


async def test_browse_read_and_subscribe(sim: Simulator) -> None:
    async with Client(_endpoint(sim), timeout=5) as client:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        plant_folder = await client.nodes.objects.get_child(f"{ns}:Plant")
        names = sorted(
            [(await c.read_browse_name()).Name for c in await plant_folder.get_children()]
        )
        assert names == ["cnc-1", "cnc-2"]
        cnc = await plant_folder.get_child(f"{ns}:cnc-1")
        variables = {(await v.read_browse_name()).Name for v in await cnc.get_children()}
        assert variables == {v.name for v in OPCUA_VARIABLES}

        total = client.get_node(f"ns={ns};s=cnc-1.TotalCount")
        collector = _Collector()
        subscription = await client.create_subscription(50, collector)
        await subscription.subscribe_data_change(total)
        async with asyncio.timeout(5):
            await collector.changed.wait()  # the initial value
        collector.changed.clear()

        await sim.advance_to(START.timestamp() + 300)
        expected = sim.values("cnc-1")
        assert expected["total_count"] > 0
        async with asyncio.timeout(5):
            while expected["total_count"] not in collector.values:
                await collector.changed.wait()
                collector.changed.clear()
        state = await client.get_node(f"ns={ns};s=cnc-1.State").read_data_value()
        assert state.Value is not None and state.SourceTimestamp is not None
        assert state.Value.Value == STATE_CODES[sim.machines["cnc-1"].state]
        # Source timestamps carry plant time (asyncua hands them back naive, in UTC).
        assert state.SourceTimestamp.replace(tzinfo=UTC).timestamp() == pytest.approx(
            START.timestamp() + 300
        )
        energy = await client.get_node(f"ns={ns};s=cnc-1.EnergyKWh").read_value()
        assert energy == pytest.approx(expected["energy_kwh"])


async def test_basic256sha256_sign_and_encrypt_with_user_and_password(
    sim: Simulator, tmp_path: Path
) -> None:
    assert sim.opcua is not None
    cert, key = tmp_path / "client.der", tmp_path / "client.pem"
    make_self_signed(cert, key, CLIENT_URI, server=False)

    async def secure_client(password: str, mode: ua.MessageSecurityMode) -> Client:
        client = Client(_endpoint(sim), timeout=5)
        client.application_uri = CLIENT_URI
        client.set_user("op")
        client.set_password(password)
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(cert),
            private_key=str(key),
            server_certificate=str(sim.opcua.cert_path),  # type: ignore[union-attr]
            mode=mode,
        )
        return client

    for mode in (ua.MessageSecurityMode.Sign, ua.MessageSecurityMode.SignAndEncrypt):
        async with await secure_client("secret", mode) as client:
            ns = await client.get_namespace_index(NAMESPACE_URI)
            state = await client.get_node(f"ns={ns};s=cnc-2.State").read_value()
            assert state == STATE_CODES[sim.machines["cnc-2"].state]
    refused = await secure_client("wrong", ua.MessageSecurityMode.SignAndEncrypt)
    with pytest.raises(UaError):
        async with refused:
            pass


async def test_restart_keeps_endpoint_node_ids_and_values(sim: Simulator) -> None:
    await sim.advance_to(START.timestamp() + 120)
    before = sim.values("cnc-1")["total_count"]
    client = Client(_endpoint(sim), timeout=2)
    await client.connect()
    ns = await client.get_namespace_index(NAMESPACE_URI)
    node_id = f"ns={ns};s=cnc-1.TotalCount"
    assert await client.get_node(node_id).read_value() == before

    await sim.restart_opcua(down_s=0.2)
    with pytest.raises((ConnectionError, UaError, asyncio.TimeoutError)):
        await client.get_node(node_id).read_value()  # the old session is gone
    await client.disconnect()

    await sim.advance_to(START.timestamp() + 240)
    async with Client(_endpoint(sim), timeout=5) as again:
        assert await again.get_namespace_index(NAMESPACE_URI) == ns
        after = await again.get_node(node_id).read_value()
        assert after == sim.values("cnc-1")["total_count"] > before


async def test_anonymous_refused_when_disabled(tmp_path: Path) -> None:
    simulator = Simulator(
        plant(machine(id="cnc-1", protocol="opcua", unit_id=None), test_pattern_unit=None),
        clock=ScaledClock(start=START, anchor=time.time(), speed=1.0),
        opcua_port=free_port(),
        opcua_users={"op": "secret"},
        opcua_anonymous=False,
        work_dir=tmp_path,
        tick_s=0,
    )
    async with simulator:
        with pytest.raises(UaError):
            async with Client(_endpoint(simulator), timeout=5):
                pass
        user = Client(_endpoint(simulator), timeout=5)
        user.set_user("op")
        user.set_password("secret")
        async with user:
            ns = await user.get_namespace_index(NAMESPACE_URI)
            assert await user.get_node(f"ns={ns};s=cnc-1.StateName").read_value() == "running"
