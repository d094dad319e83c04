"""`retrofit-agent run` end to end: a whole shift, simulator → agent → real mosquitto.

The plant runs on one clock shared by the simulator and the agent (1440x: a plant hour in 2.5
wall seconds, paced by this process so that a busy machine slows the plant instead of making it
skip). An OPC UA machine works one shift with a break, off before and after. Windows travel
the real path (source, KPI windows, outbox, signed batches, QoS 1) to a collector stand-in on
the shared subscription; their sums over the shift must match what the simulator says really
happened, within what sampling every poll interval can resolve.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from agent.config import LoadedConfig, load_config
from agent.keys import generate_key_pair, load_private_key
from agent.service import AgentService
from contract import wire
from sim.agent_config import agent_devices
from sim.plant import PlantConfig
from sim.runtime import Simulator
from stack import MosquittoServer, free_port
from tests.mqtt_client import MqttTestClient
from tests.sim.plants import machine, plant

# No shorter timeout than the project's (300 s), a guard against a hang: on a busy machine the
# paced plant runs slower (80 s against 40 s with both cores loaded), never wrong.
pytestmark = [pytest.mark.anyio]

# A Monday; the shift is 06:00-14:00 UTC. Plant time starts at 03:00 when the agent starts
# polling: the windows before the shift show it polled well before (9 h of polls in all).
START = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
END_OF_RUN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SPEED = 1440.0
WINDOW_S = 300
POLL_S = 10.0
SHIFT = {"name": "early", "start": "06:00", "end": "14:00", "days": ["mon"],
         "breaks": [{"start": "10:00", "end": "10:30"}]}  # fmt: skip


def the_plant() -> PlantConfig:
    return plant(
        machine(
            id="cnc-1",
            protocol="opcua",
            unit_id=None,
            cycle_s=45,
            mtbf_s=1800,
            mttr_s=600,
            idle_every_s=1800,
            idle_mean_s=300,
            calendar={"timezone": "UTC", "shifts": [SHIFT], "outside_shifts": "off"},
        ),
        test_pattern_unit=None,
    )


class PacedPlantClock:
    """The plant clock the simulator and the agent share: ``SPEED`` times wall time, paced.

    At 1440x a busy machine that stops this process for 0.3 wall s would put 7 plant minutes
    between two polls (comm loss, past ``comm_loss_after_s``), and a slow event loop would let
    plant time pass poll after poll unread. So plant time is not computed from the wall clock
    but advanced at each reading, by the wall time since the last one up to ``MAX_STEP_S``
    (the simulator reads it every tick, 0.01 s, and the agent at every poll, so on an idle
    machine it runs at ``SPEED``), and it never passes the time a sleeper waits for until that
    sleeper has woken: the agent polls at every point of its grid, and a stall of this process
    stops the plant as it stops the agent.

    It is held at ``START`` until the agent's device task calls :meth:`started`, after its
    source connected: set-up (the simulator's OPC UA server took 1.9 wall s to start on a
    lightly loaded 2-core machine, the agent's session more) uses up no plant hours before
    the shift. The simulator never moves its machines backwards, so both start at ``START``.
    Read from the event loop and from a worker thread (the publisher seals batches in
    ``asyncio.to_thread``): a lock keeps the readings in order.
    """

    MAX_STEP_S = 0.05

    def __init__(self) -> None:
        self._plant_ts = START.timestamp()
        self._wall: float | None = None  # time.monotonic() at the last reading; None: held
        self._waits: list[float] = []  # plant times sleepers wait for: time stops at the first
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        return SPEED

    async def started(self) -> None:
        """Start plant time (at ``START``) if it is still held."""
        with self._lock:
            if self._wall is None:
                self._wall = time.monotonic()

    def timestamp(self) -> float:
        with self._lock:
            if self._wall is not None:
                wall = time.monotonic()
                step_s = min(wall - self._wall, self.MAX_STEP_S) * SPEED
                limit = min(self._waits, default=math.inf)
                self._plant_ts = max(self._plant_ts, min(self._plant_ts + step_s, limit))
                self._wall = wall
            return self._plant_ts

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def monotonic(self) -> float:
        return self.timestamp()  # plant time never steps here, so no clock jump shows

    async def sleep(self, plant_s: float) -> None:
        with self._lock:  # from the time last read, the one the caller computed plant_s from
            until = self._plant_ts + plant_s
        await self.sleep_until(until)

    async def sleep_until(self, plant_ts: float) -> None:
        """Return once plant time has reached ``plant_ts`` (never while it is held)."""
        with self._lock:
            self._waits.append(plant_ts)
        try:
            # No event to wait on: plant time moves only when read, so read it after each sleep.
            left_s = plant_ts - self.timestamp()
            while left_s > 0:
                await asyncio.sleep(left_s / SPEED)
                left_s = plant_ts - self.timestamp()
        finally:
            with self._lock:
                self._waits.remove(plant_ts)


@pytest.fixture
def plant_clock() -> PacedPlantClock:
    return PacedPlantClock()


@pytest.fixture
async def sim(tmp_path: Path, plant_clock: PacedPlantClock) -> AsyncIterator[Simulator]:
    simulator = Simulator(
        the_plant(),
        clock=plant_clock,
        seed=11,
        start_ts=START.timestamp(),
        opcua_port=free_port(),
        work_dir=tmp_path / "sim",
        tick_s=0.01,
        truth_bin_s=WINDOW_S,
    )
    async with simulator:
        yield simulator


def agent_config(tmp_path: Path, sim: Simulator, broker: MosquittoServer) -> Path:
    """The agent's file; its plant clock is the test's (given to ``AgentService``), no block."""
    assert sim.opcua is not None
    key = tmp_path / "agent.key"
    generate_key_pair(key)
    (device,) = agent_devices(
        the_plant(), modbus=None, opcua_endpoint=sim.opcua.endpoint, poll_interval_s=POLL_S
    )
    # 0.2 s of wall time at 1440x: a loaded test machine's hiccups are not device outages.
    device["comm_loss_after_s"] = 300
    config = {
        "agent": {"id": "gw-01", "platform": "plat-a", "enterprise": "ent-01",
                  "key_path": str(key), "outbox_path": str(tmp_path / "outbox.sqlite"),
                  "window_s": WINDOW_S},
        "broker": {"host": broker.host, "port": broker.port},
        "devices": [device],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def test_a_whole_shift_of_windows_matches_the_simulators_ground_truth(
    tmp_path: Path, plant_clock: PacedPlantClock, sim: Simulator, mosquitto: MosquittoServer
) -> None:
    collector = MqttTestClient("collector-1")
    collector.connect(mosquitto, clean_start=False)
    collector.subscribe(wire.shared_filter("collectors", "windows"))
    loaded = load_config(agent_config(tmp_path, sim, mosquitto))
    # The drain bound only caps a stop on a busy machine: it returns once all are acked.
    service = AgentService(
        loaded,
        health_path=tmp_path / "health.json",
        metrics_port=0,
        drain_timeout_s=60,
        clock=plant_clock,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    await plant_clock.sleep_until(END_OF_RUN.timestamp())
    assert service.metrics is not None
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://127.0.0.1:{service.metrics.port}/metrics")).text
        health = (await http.get(f"http://127.0.0.1:{service.metrics.port}/healthz")).json()
    stop.set()
    await asyncio.wait_for(running, timeout=90)

    published = service.publisher.state.records_acked
    records = _received(collector, loaded, published)
    collector.close()
    assert len(records) == published  # every window the broker acknowledged came, once
    # The agent connected and polled before the shift (its first window starts before 05:30).
    assert min(r.start for r in records) < START.replace(hour=5, minute=30)
    ends = [r.end for r in records]
    assert len(set(ends)) == len(ends)  # each window once
    shift_start, shift_end = (START.replace(hour=h, minute=0) for h in (6, 14))
    shift = [r for r in records if shift_start <= r.start and r.end <= shift_end]
    assert [r.start.timestamp() for r in shift] == list(
        range(int(shift_start.timestamp()), int(shift_end.timestamp()), WINDOW_S)
    )  # the shift tiled by whole windows
    truth = sim.truth("cnc-1", shift_start.timestamp(), shift_end.timestamp())
    summed = {
        name: sum(getattr(r, name) or 0 for r in shift)
        for name in ("run_s", "idle_s", "down_s", "off_s", "planned_s", "scheduled_s",
                     "energy_kwh")
    }  # fmt: skip
    assert summed["scheduled_s"] == 7.5 * 3600  # the calendar: 8 h less a 30-min break
    # Sample and hold misplaces each state change by under a poll interval; a window with more
    # than one state holds at least one change.
    mixed = sum(1 for r in shift if sum(1 for s in (r.run_s, r.idle_s, r.down_s, r.off_s) if s) > 1)
    comm_loss_s = sum(r.quality.comm_loss_s for r in shift)
    assert comm_loss_s <= 0.01 * 8 * 3600  # the device never stopped answering
    slack_s = (2 * mixed + 2) * POLL_S + comm_loss_s  # a lost second is in no state
    for name in ("run_s", "idle_s", "down_s", "off_s", "planned_s"):
        assert summed[name] == pytest.approx(getattr(truth, name), abs=slack_s), name
    # Parts count in the window whose poll saw them. The OPC UA subscription publishes every
    # 100 wall ms (144 plant s here), so parts made in the shift's last minutes can be seen after
    # 14:00 (2 or 3 of them on a loaded machine). Counts are summed from the shift's start until
    # the agent stopped: after the shift the machine is off and makes nothing, so parts seen late
    # are in the sum, and the slack is what it says, a poll's worth at each end.
    assert sim.truth("cnc-1", shift_end.timestamp(), END_OF_RUN.timestamp()).total_count == 0
    counted = [r for r in records if shift_start <= r.start]
    parts_per_poll = POLL_S / 40 + 1
    for name in ("total_count", "reject_count"):
        summed_parts = sum(getattr(r, name) or 0 for r in counted)
        assert summed_parts == pytest.approx(getattr(truth, name), abs=2 * parts_per_poll), name
    assert summed["energy_kwh"] == pytest.approx(truth.energy_kwh, rel=0.02, abs=0.2)
    assert truth.total_count > 100 and truth.down_s + truth.idle_s > 0  # a shift worth testing

    # What an operator scrapes while it runs: polls, windows, a connected broker, acks.
    polls = _sample(metrics, 'rv_agent_polls_total{device="cnc-1"}')
    assert polls >= 9 * 3600 / POLL_S * 0.8
    assert _sample(metrics, 'rv_agent_windows_closed_total{device="cnc-1"}') >= 100
    assert _sample(metrics, "rv_agent_broker_connected") == 1
    assert _sample(metrics, "rv_agent_batches_acked_total") >= 1
    assert health["broker_connected"] is True and health["devices"]["cnc-1"]["polls"] > 0
    assert '"pending_windows"' in (tmp_path / "health.json").read_text()


def _sample(metrics: str, name: str) -> float:
    """The value of one sample line of Prometheus text."""
    line = next(line for line in metrics.splitlines() if line.startswith(name + " "))
    return float(line.rsplit(" ", 1)[1])


def _received(
    collector: MqttTestClient, loaded: LoadedConfig, windows: int
) -> list[wire.KpiWindow]:
    """The windows of verified batches until ``windows`` have come, then any more (duplicates)."""
    records: list[wire.KpiWindow] = []
    while len(records) < windows:
        message = collector.messages.get(timeout=30)  # a bound: mosquitto has them all already
        records.extend(_verified(message.payload, loaded).records)
    return records + [r for m in collector.drain() for r in _verified(m.payload, loaded).records]


def _verified(payload: bytes | bytearray, loaded: LoadedConfig) -> wire.Envelope:
    envelope = wire.decode_envelope(payload)
    wire.verify(envelope, load_private_key(loaded.config.agent.key_path).public_key())
    return envelope
