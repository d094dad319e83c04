"""Honest machines polled minutes apart raise no ``count_faster_than_ideal``, end to end.

The demo's press (the simulator's modelled machine: failures, idle spells, 5 % cycle jitter,
two shifts 06:00-22:00 in Asia/Shanghai) over three plant days, served by the simulator's real
Modbus TCP server, polled every 1,200 plant seconds with comm loss only after 6 h (the demo
polls every 600 s and, under load, keeps half of its polls), by the real agent (``AgentService``:
Modbus source, KPI windows, outbox, signed batches), through real mosquitto to the collector's
ingest, a real influxd and its daily rollups; the plausibility checks then judge the rows.

The agent reads the press twice, as two devices on the same unit: ``ent-01-press`` with its
ideal cycle set to the machine's real mean cycle (the strictest honest setting) and
``ent-01-press-slip`` with it 30 % too long. Sample and hold at these polls counts time the
press ran as idle, so against ``run_s`` alone the honest device beats its ideal cycle on a day
(the test checks that this happens, so it can fail); against ``run_s`` plus the run time the
polls may have missed (``unsampled_run_s``, docs/evidence-method.md §10) it never does, while
the slipped one is flagged serious. The plant clock is the worked example's paced clock
(tests/test_worked_example.py): each poll lands on its grid point; no wall time is asserted.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from agent.config import load_config
from agent.keys import generate_key_pair, load_private_key
from agent.service import AgentService
from collector.evidence import enterprise_days
from collector.evidence.document import FlagDoc
from collector.evidence.plausibility import FlagInputs, plausibility_flags
from collector.evidence.plausibility.production import PERFORMANCE_LIMIT
from collector.ingest import IngestService, IngestSettings
from collector.plan import load_plan
from collector.registry import Registry
from collector.store import DailyRow, InfluxStore
from contract import wire
from sim.agent_config import agent_devices
from sim.machine import Machine
from sim.plant import PlantConfig
from sim.runtime import Simulator
from sim.scenario import demo_enterprises, plant_document, timeline
from stack import InfluxServer, MosquittoServer, free_port
from tests.test_worked_example import WorkedExampleClock, _broker_connected, eventually

pytestmark = [pytest.mark.anyio]

PLAN = Path(__file__).parents[1] / "deploy" / "examples" / "plan.yaml"
PLATFORM, ENTERPRISE, AGENT = "plat-a", "ent-01", "gw-coarse"
HONEST, SLIPPED = "ent-01-press", "ent-01-press-slip"
SLIP = 1.30
FIRST_DAY = date(2026, 6, 1)  # a Monday, after the scenario's go-live (the press is 8 % faster)
DAYS = 3
START = datetime.combine(FIRST_DAY, time(0, 0), ZoneInfo("Asia/Shanghai"))
END_OF_RUN = START + timedelta(days=DAYS, minutes=10)
POLL_S = 1200.0
WINDOW_S = 3600
SPEED = 20_000.0
# The plant's seed: with it the press has a day on which sample and hold alone puts its counts
# past the limit against run_s (checked below, so a change of the model shows here).
PLANT_SEED = 2


def the_plant() -> PlantConfig:
    """The demo's ent-01 press alone (its Modbus unit, calendar and scenario)."""
    document = plant_document(demo_enterprises(3), timeline(28))
    document["machines"] = [m for m in document["machines"] if m["id"] == HONEST]
    return PlantConfig.model_validate(document)


def real_cycle_s(plant: PlantConfig) -> float:
    """The press's mean cycle in these days (after go-live), as the simulator makes parts."""
    (config,) = plant.machines
    return (
        Machine(config, seed=PLANT_SEED, start_ts=START.timestamp())
        .rates(START.timestamp())
        .cycle_s
    )


def agent_file(tmp_path: Path, plant: PlantConfig, sim: Simulator, broker: MosquittoServer) -> Path:
    (device,) = agent_devices(
        plant, modbus=sim.modbus_address, opcua_endpoint=None, poll_interval_s=POLL_S,
        float_table="holding",
    )  # fmt: skip
    cycle = real_cycle_s(plant)
    # Plant time stands still while the agent reads: a long wall timeout never turns a slow
    # read into a missed poll. Comm loss only after 6 h, as the demo's agents.
    honest: dict[str, Any] = {**device, "ideal_cycle_s": round(cycle, 3), "timeout_s": 30,
                              "comm_loss_after_s": 21600}  # fmt: skip
    slipped = {**honest, "id": SLIPPED, "ideal_cycle_s": round(cycle * SLIP, 3)}
    config = {
        "agent": {"id": AGENT, "platform": PLATFORM, "enterprise": ENTERPRISE,
                  "key_path": str(tmp_path / "agent.key"),
                  "outbox_path": str(tmp_path / "outbox.sqlite"), "window_s": WINDOW_S},
        "broker": {"host": broker.host, "port": broker.port},
        "devices": [honest, slipped],
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def registry_with_agent(path: Path, key_path: Path) -> Path:
    public_key = wire.public_key_text(load_private_key(key_path).public_key())
    with Registry(path) as registry:
        registry.load_plan(load_plan(PLAN), by="test")
        registry.add_agent(AGENT, platform=PLATFORM, enterprise=ENTERPRISE,
                           public_key=public_key, devices=[HONEST, SLIPPED], by="test")  # fmt: skip
    return path


async def run_the_days(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> list[DailyRow]:
    """Three plant days through simulator, agent, broker, ingest and InfluxDB; their rows."""
    plant = the_plant()
    generate_key_pair(tmp_path / "agent.key")
    registry = registry_with_agent(tmp_path / "registry.sqlite", tmp_path / "agent.key")
    metrics_port = free_port()
    ingest = IngestService(
        settings=IngestSettings(host=broker.host, port=broker.port, rollup_every_s=0.5),
        registry_path=registry,
        store=lambda: InfluxStore(influxd.url, "rv"),
        metrics_port=metrics_port,
    )
    clock = WorkedExampleClock(START, SPEED)
    collector_stop, agent_stop = asyncio.Event(), asyncio.Event()
    collecting = asyncio.create_task(ingest.run(collector_stop))
    sim = Simulator(
        plant, clock=clock, seed=PLANT_SEED, start_ts=START.timestamp(), modbus_port=free_port(),
        tick_s=0,
    )  # fmt: skip
    async with sim:
        clock.sim = sim

        async def subscribed() -> bool:
            return await asyncio.to_thread(_broker_connected, metrics_port)

        await eventually(subscribed, bound_s=60)
        await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
        loaded = load_config(agent_file(tmp_path, plant, sim, broker))
        service = AgentService(
            loaded, health_path=tmp_path / "health.json", metrics_port=0, drain_timeout_s=60,
            clock=clock,
        )  # fmt: skip
        running = asyncio.create_task(service.run(agent_stop))
        await clock.sleep_until(END_OF_RUN.timestamp())
        agent_stop.set()
        await asyncio.wait_for(running, timeout=120)
    sent = service.publisher.state.records_acked
    last_day = FIRST_DAY + timedelta(days=DAYS)
    async with InfluxStore(influxd.url, "rv") as store:

        async def rolled_up() -> bool:
            rows = await store.daily(ENTERPRISE, FIRST_DAY, last_day)
            return sum(row.windows for row in rows) == sent

        await eventually(rolled_up, bound_s=120)
        rows = await store.daily(ENTERPRISE, FIRST_DAY, last_day)
    collector_stop.set()
    await asyncio.wait_for(collecting, timeout=60)
    return rows


def speed_flags(rows: list[DailyRow]) -> dict[str | None, FlagDoc]:
    plan = load_plan(PLAN).plan
    enterprise = next(e for p in plan.platforms for e in p.enterprises if e.id == ENTERPRISE)
    flags = plausibility_flags(FlagInputs(enterprise, rows, enterprise_days(rows)))
    return {f.device: f for f in flags if f.check == "count_faster_than_ideal"}


async def test_honest_machines_polled_coarsely_raise_no_flag_and_a_slip_still_does(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer
) -> None:
    rows = await run_the_days(tmp_path, mosquitto, influxd)
    honest = [row for row in rows if row.device == HONEST and (row.total_count or 0) > 0]
    assert [row.day for row in honest] == [FIRST_DAY + timedelta(days=n) for n in range(DAYS)]
    # Nothing was lost: every poll answered, no comm loss, so no part is unobserved ...
    assert all(row.comm_loss_s == 0 and row.unobserved_count == 0 for row in honest)
    # ... yet sample and hold counted run time as idle: against run_s alone one day beats the
    # ideal cycle past the limit. The run time the polls may have missed came through the
    # wire, the store and the rollups.
    assert any((row.ideal_count_s or 0) > PERFORMANCE_LIMIT * (row.run_s or 0) for row in honest)
    assert all((row.unsampled_run_s or 0) > 0 for row in honest)
    flags = speed_flags(rows)
    assert HONEST not in flags
    slipped = flags[SLIPPED]
    assert slipped.severity == "serious" and len(slipped.days) == DAYS
