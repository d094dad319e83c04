"""A published OEE worked example played through the whole pipeline, checked to 0.01 points.

Source: Vorne Industries, "Calculating OEE" (https://www.oee.com/calculating-oee/) and its
"Calculating OEE Worksheet" (© Vorne Industries, www.oee.com): a shift of 480 minutes, two
15-minute breaks and a 30-minute meal (planned stops), 47 minutes of down time, an ideal run
rate of 60 parts a minute (ideal cycle 1.0 s), 19,271 parts of which 423 rejected. Planned
production time 420 min, run time 373 min, good 18,848: availability 88.81 %, performance
86.11 %, quality 97.80 %, OEE 74.79 %.

The shift is a script of 480 minutes replayed by the simulator's scripted machine over its real
Modbus TCP server; the agent (``AgentService``, its Modbus source, KPI windows, SQLite outbox and
signed batches) reads it, real mosquitto carries the batches to the collector's ingest
(``IngestService``: admission, signatures, seqs), which writes them to a real influxd and rolls
them up into ``kpi_daily``; the evidence engine computes the four KPIs from those rows. Each
figure is rounded once, to 0.01 percentage points, and must equal the published one.

The plant clock is shared by the simulator and the agent in this process and paced by it (as in
tests/agent/test_service.py): plant time moves with wall time times ``SPEED`` but never past a
time a sleeper waits for, and after each poll's wake-up it holds still until the polling task
sleeps again, with the simulator moved to exactly that instant first. So a busy machine slows
the plant down and never shifts a poll against the script's minute edges; the test asserts no
wall time.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from agent.config import load_config
from agent.keys import generate_key_pair, load_private_key
from agent.service import AgentService
from collector.evidence import enterprise_days, oee_quality
from collector.ingest import IngestService, IngestSettings
from collector.plan import load_plan
from collector.registry import Registry
from collector.store import DailyRow, InfluxStore
from contract import wire
from sim.agent_config import agent_devices
from sim.plant import PlantConfig
from sim.runtime import Simulator
from stack import InfluxServer, MosquittoServer, free_port
from tests.sim.plants import machine, plant

pytestmark = [pytest.mark.anyio]

PLAN = Path(__file__).parents[1] / "deploy" / "examples" / "plan.yaml"
PLATFORM, ENTERPRISE, AGENT = "plat-a", "ent-01", "gw-oee"
# A Monday. The shift is 06:00-14:00 UTC; the agent polls from 05:30 to 14:30, and the day is
# one local day in the enterprise's zone (Asia/Shanghai: 14:00-22:00).
START = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
SHIFT_START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
END_OF_RUN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
DAY = date(2026, 3, 2)
SPEED = 1440.0
POLL_S = 10.0  # divides the minute: every poll falls on the script's grid
WINDOW_S = 300

# The worked example, minute by minute: breaks at 2:00, 6:00 (meal) and 4:00 into the shift,
# the 47 minutes of down time after the first hour; parts spread evenly over the run minutes.
BREAKS = set(range(120, 135)) | set(range(240, 270)) | set(range(360, 375))
DOWN = set(range(60, 107))
TOTAL, REJECTS = 19_271, 423
PUBLISHED = {"availability": 88.81, "performance": 86.11, "quality": 97.80, "oee": 74.79}


def script_text() -> str:
    """The 480 minutes of the shift as the scripted machine's CSV."""
    running = [m for m in range(480) if m not in BREAKS and m not in DOWN]
    parts, extra_parts = divmod(TOTAL, len(running))
    rejects, extra_rejects = divmod(REJECTS, len(running))
    lines = ["minute,state,parts,rejects"]
    for minute in range(480):
        start = datetime.fromtimestamp(SHIFT_START.timestamp() + 60 * minute, UTC).isoformat()
        if minute in BREAKS:
            lines.append(f"{start},planned_stop,0,0")
        elif minute in DOWN:
            lines.append(f"{start},down,0,0")
        else:
            index = running.index(minute)
            made = parts + (index < extra_parts)
            lines.append(f"{start},running,{made},{rejects + (index < extra_rejects)}")
    return "\n".join(lines) + "\n"


def the_plant(script: Path) -> PlantConfig:
    # The calendar is the agent's: the 480-minute shift, the breaks declared by the machine as
    # planned stops (docs/simulator.md). cycle_s gives the agent its ideal cycle, 1.0 s.
    shift = {"start": "06:00", "end": "14:00", "days": ["mon"]}
    calendar = {"timezone": "UTC", "shifts": [shift], "outside_shifts": "off"}
    return plant(
        machine(id="line-1", unit_id=1, cycle_s=1.0, calendar=calendar, script=script),
        test_pattern_unit=None,
    )


class WorkedExampleClock:
    """The plant clock shared by the simulator and the agent, paced by this process.

    As tests/agent/test_service.py's ``PacedPlantClock``: plant time advances at each reading
    by the wall time since the last one (at most ``MAX_STEP_S``) times ``SPEED``, never past the
    earliest time a sleeper waits for, and is held at ``START`` until the agent's device task
    has connected. Two additions make each poll land exactly on its grid point: when a polling
    task (named ``poll <device>`` by the agent) wakes, the simulator is first moved to that very
    instant, and plant time stays there until the task sleeps again (or ends), so the sample's
    time is the instant the machine was read at. Read from the event loop and from a worker
    thread (the publisher seals batches in ``asyncio.to_thread``): a lock orders the readings.
    """

    MAX_STEP_S = 0.05

    def __init__(self, start: datetime = START, speed: float = SPEED) -> None:
        self.sim: Simulator | None = None
        self._speed = speed  # plant seconds per wall second (tests/test_sampling_gaps.py too)
        self._plant_ts = start.timestamp()
        self._wall: float | None = None
        self._waits: list[float] = []
        self._holds: dict[asyncio.Task[object], float] = {}
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        return self._speed

    async def started(self) -> None:
        with self._lock:
            if self._wall is None:
                self._wall = time.monotonic()

    def timestamp(self) -> float:
        with self._lock:
            if self._wall is not None:
                wall = time.monotonic()
                step_s = min(wall - self._wall, self.MAX_STEP_S) * self._speed
                limit = min((*self._waits, *self._holds.values()), default=math.inf)
                self._plant_ts = max(self._plant_ts, min(self._plant_ts + step_s, limit))
                self._wall = wall
            return self._plant_ts

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def monotonic(self) -> float:
        return self.timestamp()

    async def sleep(self, plant_s: float) -> None:
        task = asyncio.current_task()
        with self._lock:
            if task is not None:
                self._holds.pop(task, None)  # the poll is done: time may move on
            until = self._plant_ts + plant_s
        await self.sleep_until(until)

    async def sleep_until(self, plant_ts: float) -> None:
        """Return once plant time has reached ``plant_ts``; a polling task then holds it."""
        task = asyncio.current_task()
        polling = task is not None and task.get_name().startswith("poll ")
        with self._lock:
            self._waits.append(plant_ts)
        try:
            left_s = plant_ts - self.timestamp()
            while left_s > 0:
                await asyncio.sleep(left_s / self._speed)
                left_s = plant_ts - self.timestamp()
        finally:
            with self._lock:
                self._waits.remove(plant_ts)
                if polling and task is not None and not task.cancelling():
                    self._holds[task] = self._plant_ts
                    task.add_done_callback(self._release)
        if polling and self.sim is not None:
            await self.sim.advance_to(self._plant_ts)

    def _release(self, task: asyncio.Task[object]) -> None:
        with self._lock:
            self._holds.pop(task, None)


async def eventually(condition: Callable[[], Awaitable[bool]], bound_s: float) -> None:
    """Wait for ``condition``; ``bound_s`` only guards against a hang (no timing is asserted)."""
    deadline = time.monotonic() + bound_s
    while not await condition():
        assert time.monotonic() < deadline, "the pipeline did not deliver in the bound"
        await asyncio.sleep(0.2)


def registry_with_agent(path: Path, key_path: Path) -> Path:
    public_key = wire.public_key_text(load_private_key(key_path).public_key())
    with Registry(path) as registry:
        registry.load_plan(load_plan(PLAN), by="test")
        registry.add_agent(
            AGENT,
            platform=PLATFORM,
            enterprise=ENTERPRISE,
            public_key=public_key,
            devices=["line-1"],
            by="test",
        )
    return path


def agent_file(
    tmp_path: Path, plant_config: PlantConfig, sim: Simulator, broker: MosquittoServer
) -> Path:
    (device,) = agent_devices(
        plant_config,
        modbus=sim.modbus_address,
        opcua_endpoint=None,
        poll_interval_s=POLL_S,
        ideal_cycle_factor=1.0,
        float_table="holding",
    )
    # The poll's wall-clock timeout is long: plant time stands still while the agent reads, so
    # a busy machine must delay a read, never turn it into a missed poll (which would hold the
    # last state over a minute edge of the script).
    device["timeout_s"] = 30
    device["comm_loss_after_s"] = 300
    config = {
        "agent": {"id": AGENT, "platform": PLATFORM, "enterprise": ENTERPRISE,
                  "key_path": str(tmp_path / "agent.key"),
                  "outbox_path": str(tmp_path / "outbox.sqlite"), "window_s": WINDOW_S},
        "broker": {"host": broker.host, "port": broker.port},
        "devices": [device],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


async def run_the_shift(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> list[DailyRow]:
    """Play the script through simulator, agent, broker, ingest and InfluxDB; the day's rows."""
    script = tmp_path / "vorne-shift.csv"
    script.write_text(script_text(), encoding="utf-8")
    plant_config = the_plant(script)
    generate_key_pair(tmp_path / "agent.key")
    registry = registry_with_agent(tmp_path / "registry.sqlite", tmp_path / "agent.key")
    metrics_port = free_port()
    ingest = IngestService(
        settings=IngestSettings(host=broker.host, port=broker.port, rollup_every_s=0.5),
        registry_path=registry,
        store=lambda: InfluxStore(influxd.url, "rv"),
        metrics_port=metrics_port,
    )
    clock = WorkedExampleClock()
    collector_stop, agent_stop = asyncio.Event(), asyncio.Event()
    collecting = asyncio.create_task(ingest.run(collector_stop))
    sim = Simulator(
        plant_config, clock=clock, start_ts=START.timestamp(), modbus_port=free_port(), tick_s=0
    )
    async with sim:
        clock.sim = sim

        async def subscribed() -> bool:
            # The endpoint is served by this event loop: ask from another thread.
            return await asyncio.to_thread(_broker_connected, metrics_port)

        await eventually(subscribed, bound_s=60)
        await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
        loaded = load_config(agent_file(tmp_path, plant_config, sim, broker))
        service = AgentService(
            loaded,
            health_path=tmp_path / "health.json",
            metrics_port=0,
            drain_timeout_s=60,
            clock=clock,
        )
        running = asyncio.create_task(service.run(agent_stop))
        await clock.sleep_until(END_OF_RUN.timestamp())
        agent_stop.set()
        await asyncio.wait_for(running, timeout=120)
    sent = service.publisher.state.records_acked
    async with InfluxStore(influxd.url, "rv") as store:

        async def rolled_up() -> bool:
            rows = await store.daily(ENTERPRISE, DAY, DAY)
            return sum(row.windows for row in rows) == sent

        await eventually(rolled_up, bound_s=120)
        rows = await store.daily(ENTERPRISE, DAY, DAY)
    collector_stop.set()
    await asyncio.wait_for(collecting, timeout=60)
    return rows


def _broker_connected(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return json.load(reply).get("broker_connected") is True
    except OSError:
        return False  # not listening yet


async def test_the_published_worked_example_through_the_whole_pipeline(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer
) -> None:
    rows = await run_the_shift(tmp_path, mosquitto, influxd)
    (row,) = rows  # one device, one day, measured
    assert (row.device, row.provenance, row.day) == ("line-1", "measured", DAY)
    # The sums the published figures come from, exactly (seconds and parts).
    assert row.scheduled_s == 480 * 60
    assert row.planned_s == 420 * 60
    assert row.run_s == 373 * 60 and row.down_s == 47 * 60 and row.planned_stop_s == 60 * 60
    assert (row.total_count, row.reject_count, row.good_count) == (TOTAL, REJECTS, 18_848)
    assert row.comm_loss_s == 0 and row.unobserved_count == 0
    assert row.ideal_count_s == 1.0 * TOTAL and row.ideal_good_s == 1.0 * 18_848
    (day,) = enterprise_days(rows)
    for kpi, percent in PUBLISHED.items():
        value = day.value(kpi)
        assert value is not None, kpi
        assert round(100 * value, 2) == percent, kpi  # rounded once, to 0.01 points
    # One device with one ideal cycle: the OEE's quality factor is the count ratio.
    q_oee = oee_quality(day.kpi_sums["oee"])
    assert q_oee is not None and round(100 * q_oee, 2) == PUBLISHED["quality"]
