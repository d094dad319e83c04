"""`retrofit-agent run` end to end: the simulator → agent → real mosquitto, against ground truth.

The plant runs on a scaled clock shared with the agent (720x: an hour of plant time in five
seconds). Windows travel the real path (sources, KPI windows, outbox, signed batches, QoS 1)
to a collector stand-in on the shared subscription; their sums must match what the simulator
says really happened, within what sampling every poll interval can resolve.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from agent import wire
from agent.config import load_config
from agent.keys import generate_key_pair
from agent.service import AgentService
from sim.runtime import Simulator
from stack import MosquittoServer, free_port
from tests.mqtt_client import MqttTestClient
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday
SPEED = 720.0
WINDOW_S = 300
POLL_S = 10.0
STATES = {0: "off", 1: "running", 2: "idle", 3: "down", 4: "planned_stop"}


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    anchor = time.time()
    from agent.clock import ScaledClock

    simulator = Simulator(
        plant(
            machine(
                id="cnc-1",
                protocol="opcua",
                unit_id=None,
                cycle_s=45,
                mtbf_s=1800,
                mttr_s=600,
                idle_every_s=1800,
                idle_mean_s=300,
            ),
            test_pattern_unit=None,
        ),
        clock=ScaledClock(start=START, anchor=anchor, speed=SPEED),
        seed=11,
        start_ts=START.timestamp(),
        opcua_port=free_port(),
        work_dir=tmp_path / "sim",
        tick_s=0.02,
        truth_bin_s=WINDOW_S,
    )
    simulator.anchor = anchor  # type: ignore[attr-defined]
    async with simulator:
        yield simulator


def agent_config(tmp_path: Path, sim: Simulator, broker: MosquittoServer) -> Path:
    assert sim.opcua is not None
    key = tmp_path / "agent.key"
    generate_key_pair(key)
    config = {
        "agent": {
            "id": "gw-01",
            "platform": "plat-a",
            "enterprise": "ent-01",
            "key_path": str(key),
            "outbox_path": str(tmp_path / "outbox.sqlite"),
            "window_s": WINDOW_S,
        },
        "broker": {"host": broker.host, "port": broker.port},
        "clock": {
            "start": START.isoformat(),
            "anchor": datetime.fromtimestamp(sim.anchor, UTC).isoformat(),  # type: ignore[attr-defined]
            "speed": SPEED,
        },
        "devices": [
            {
                "id": "cnc-1",
                "protocol": "opcua",
                "endpoint": sim.opcua.endpoint,
                "poll_interval_s": POLL_S,
                # 0.2 s of wall time at 720x: a loaded test machine's hiccups are not outages.
                "comm_loss_after_s": 150,
                "timeout_s": 2,
                "ideal_cycle_s": 40,
                "sampling_interval_s": 0.02,
                "tags": {
                    "state": {
                        "role": "state",
                        "node": "ns=2;s=cnc-1.State",
                        "state_map": STATES,
                    },
                    "total": {
                        "role": "total_count",
                        "node": "ns=2;s=cnc-1.TotalCount",
                        "width": 32,
                    },
                    "rejects": {
                        "role": "reject_count",
                        "node": "ns=2;s=cnc-1.RejectCount",
                        "width": 32,
                    },
                    "energy": {"role": "energy_kwh", "node": "ns=2;s=cnc-1.EnergyKWh"},
                },
            }
        ],
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_windows_match_the_simulators_ground_truth(
    tmp_path: Path, sim: Simulator, mosquitto: MosquittoServer
) -> None:
    collector = MqttTestClient("collector-1")
    collector.connect(mosquitto, clean_start=False)
    collector.subscribe(wire.shared_filter("collectors", "windows"))
    loaded = load_config(agent_config(tmp_path, sim, mosquitto))
    service = AgentService(loaded, health_path=tmp_path / "health.json", metrics_port=0)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await asyncio.sleep(3 * 3600 / SPEED)  # three plant hours
    assert service.metrics is not None
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{service.metrics.port}/metrics")).text
        health = (await http.get(f"http://127.0.0.1:{service.metrics.port}/healthz")).json()
    stop.set()
    await asyncio.wait_for(running, timeout=30)

    records = [r for m in collector.drain() for r in _verified(m.payload, loaded).records]
    collector.close()
    assert records, "no window arrived"
    ends = [r.end for r in records]
    assert len(set(ends)) == len(ends)  # each window once
    # Whole windows, away from the start-up edge: compare their sums with the truth.
    full = [r for r in records if not r.partial and r.start.timestamp() >= START.timestamp() + 600]
    assert len(full) >= 20
    first, last = full[0].start.timestamp(), full[-1].end.timestamp()
    assert [r.start.timestamp() for r in full] == list(range(int(first), int(last), WINDOW_S))
    truth = sim.truth("cnc-1", first, last)
    summed = {
        name: sum(getattr(r, name) or 0 for r in full)
        for name in ("run_s", "idle_s", "down_s", "total_count", "reject_count", "energy_kwh")
    }
    # Sample and hold misplaces each state change by under a poll interval; a window with more
    # than one state holds at least one change.
    mixed = sum(1 for r in full if sum(1 for s in (r.run_s, r.idle_s, r.down_s) if s) > 1)
    comm_loss_s = sum(r.quality.comm_loss_s for r in full)
    assert comm_loss_s <= 0.01 * (last - first)  # the device never stopped answering
    slack_s = (2 * mixed + 2) * POLL_S + comm_loss_s  # a lost second is in no state
    assert summed["run_s"] == pytest.approx(truth.run_s, abs=slack_s)
    assert summed["idle_s"] == pytest.approx(truth.idle_s, abs=slack_s)
    assert summed["down_s"] == pytest.approx(truth.down_s, abs=slack_s)
    parts_per_poll = POLL_S / 40 + 1
    assert summed["total_count"] == pytest.approx(truth.total_count, abs=2 * parts_per_poll)
    assert summed["reject_count"] == pytest.approx(truth.reject_count, abs=2 * parts_per_poll)
    assert summed["energy_kwh"] == pytest.approx(truth.energy_kwh, rel=0.02, abs=0.2)
    # What an operator scrapes while it runs: polls, windows, a connected broker, acks.
    polls = _sample(metrics, 'rv_agent_polls_total{device="cnc-1"}')
    assert polls >= 3 * 3600 / POLL_S * 0.8
    assert _sample(metrics, 'rv_agent_windows_closed_total{device="cnc-1"}') >= 30
    assert _sample(metrics, "rv_agent_broker_connected") == 1
    assert _sample(metrics, "rv_agent_batches_acked_total") >= 1
    assert health["broker_connected"] is True and health["devices"]["cnc-1"]["polls"] > 0
    assert '"pending_windows"' in (tmp_path / "health.json").read_text()


def _sample(metrics: str, name: str) -> float:
    """The value of one sample line of Prometheus text."""
    line = next(line for line in metrics.splitlines() if line.startswith(name + " "))
    return float(line.rsplit(" ", 1)[1])


def _verified(payload: bytes, loaded: object) -> wire.Envelope:
    from agent.keys import load_private_key

    envelope = wire.decode_envelope(payload)
    key = load_private_key(loaded.config.agent.key_path)  # type: ignore[attr-defined]
    wire.verify(envelope, key.public_key())
    return envelope
