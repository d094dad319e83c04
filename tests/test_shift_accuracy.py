"""A whole shift of three machines, agent to InfluxDB: state times within the derived bound.

Three simulated machines over one 8-hour shift (06:00-14:00 UTC, a 30-minute break, off outside
it), with failures, idle spells and, on the retrofit ones, a motor's inrush and warm-up at each
power-on:

- ``press-power``, power only: the simulator's retrofit power meter (Modbus TCP), the state
  inferred from power thresholds with hysteresis and a dwell (``sim.agent_config``'s block);
- ``lathe-lamp``, run signal: its kit's DI module (Modbus RTU), the run lamp deciding running
  or idle and the power only off;
- ``weld-s7``, a state code in an S7 data block (python-snap7's server, ISO-on-TCP).

The real agent (``AgentService``: sources, inference, KPI windows, outbox, signed batches) reads
the simulator's real servers; real mosquitto carries the batches to the collector's ingest
(``IngestService``), which writes them to a real influxd. The windows are read back through the
store (``InfluxStore.windows``) and compared with the simulator's exact ground truth, per window
and over the shift: each class's time within the bound of docs/kpi.md ("How close the inferred
times are", tests/inference_bound.py), the counts exactly.

The bound comes from the configuration, never a constant: the poll interval and the dwell from
the agent's loaded configuration, the inrush from the plant (``inrush_s`` when the inrush of a
power-on puts the level in another class of the device's inference, else 0), the number of true
changes from the simulator's log. The plant clock is the worked example's
(tests/test_worked_example.py): plant time runs ``SPEED`` times wall time but never past a poll
point, holds still while a poll reads, and the simulator is moved to the poll's instant first.
So every poll lands on its grid point, ``POLL_S`` plant seconds apart, whatever the load, and
the value it reads is the plant at that instant (the source's lag, lambda, is 0); each window's
poll count checks it. No wall time is asserted. The lamp machine's kit is read over Modbus RTU
(the simulator's software null modem), the power meter over Modbus TCP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from agent.config import LoadedConfig, StateInferenceConfig, load_config
from agent.keys import generate_key_pair, load_private_key
from agent.service import AgentService
from collector.evidence import enterprise_days
from collector.evidence.daily import DOWNTIME, DOWNTIME_NOT_MEASURED, left_out_reason
from collector.ingest import IngestService, IngestSettings
from collector.plan import load_plan
from collector.registry import Registry
from collector.store import DailyRow, DayKey, InfluxStore
from contract import wire
from sim.agent_config import agent_devices, retrofit_state_block
from sim.machine import MachineState, TruthBin
from sim.plant import MachineConfig, PlantConfig
from sim.runtime import Simulator
from stack import InfluxServer, MosquittoServer, free_port
from tests.inference_bound import (
    Change,
    LagBound,
    changes_near,
    period_error_bound,
    spells,
)
from tests.sim.plants import machine, plant
from tests.sim.test_scenario import _noisy, _running_kw_range
from tests.test_worked_example import WorkedExampleClock, _broker_connected, eventually

pytestmark = [pytest.mark.anyio]

PLAN = Path(__file__).parents[1] / "deploy" / "examples" / "plan.yaml"
PLATFORM, ENTERPRISE, AGENT = "plat-a", "ent-03", "gw-shift"
TZ = "Asia/Shanghai"  # the plan's zone (its default): the rollups' local days
POWER, LAMP, S7 = "press-power", "lathe-lamp", "weld-s7"
START = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)  # a Monday, half an hour before the shift
SHIFT_START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SHIFT_END = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
END_OF_RUN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
SEED = 18
HOUR = timedelta(hours=1)
SPEED = 1440.0  # plant s per wall s at most; a poll point holds it (10 plant s = 7 ms of wall)
POLL_S = 10.0
RTU_LINK, RTU_BAUD = "ttyRETRO", 19200
WINDOW_S = 300
SHIFT = {"name": "early", "start": "06:00", "end": "14:00", "days": ["mon"],
         "breaks": [{"start": "10:00", "end": "10:30"}]}  # fmt: skip
#: The demo's retrofit kit (sim/scenario.py): a meter's noise, 6 x inrush for 3 s, 5 min warm-up.
KIT = {"noise_pct": 2.0, "noise_floor_kw": 0.05, "inrush_factor": 6.0, "inrush_s": 3.0,
       "warmup_s": 300.0}  # fmt: skip
#: The class a power meter and run lamp can see of each true state: down draws idle power and
#: its lamp is off, a break is off (docs/kpi.md, "Never down, never planned_stop").
SEEN = {
    MachineState.RUNNING: "running",
    MachineState.IDLE: "idle",
    MachineState.DOWN: "idle",
    MachineState.OFF: "off",
    MachineState.PLANNED_STOP: "off",
}
#: The fields of a window (and of a truth bin: the same names) each class's time is in.
INFERRED_FIELDS = {"running": ("run_s",), "idle": ("idle_s", "down_s"),
                   "off": ("off_s", "planned_stop_s"), "planned": ("planned_s",)}  # fmt: skip
CODE_FIELDS = {"running": ("run_s",), "idle": ("idle_s",), "down": ("down_s",),
               "off": ("off_s",), "planned_stop": ("planned_stop_s",),
               "planned": ("planned_s",)}  # fmt: skip
COUNTS = ("total_count", "reject_count", "good_count")
FieldMap = Mapping[str, tuple[str, ...]]


def the_plant() -> PlantConfig:
    calendar = {"timezone": "UTC", "shifts": [SHIFT], "outside_shifts": "off"}
    often = {"mtbf_s": 1800, "mttr_s": 600, "idle_every_s": 1800, "idle_mean_s": 300,
             "calendar": calendar}  # fmt: skip
    return plant(
        machine(id=POWER, protocol="retrofit", unit_id=None, cycle_s=45,
                retrofit={"meter_unit_id": 21, "di_unit_id": 22, **KIT}, **often),
        machine(id=LAMP, protocol="retrofit", unit_id=None, cycle_s=90, idle_kw=1.5,
                standby_kw=0.1, energy_per_part_kwh=0.1,
                retrofit={"meter_unit_id": 23, "di_unit_id": 24, **KIT}, **often),
        machine(id=S7, protocol="s7", unit_id=None, s7_db=12, cycle_s=30, **often),
        test_pattern_unit=None,
    )  # fmt: skip


def run_signal_block(config: MachineConfig) -> dict[str, Any]:
    """The lamp machine's ``state:``: the run lamp says running or idle, the power only off."""
    levels = retrofit_state_block(config)
    power = {key: levels["power"][key] for key in ("tag", "off_below", "hysteresis")}
    return {"power": power, "run_signal": {"tag": "lamp", "running_when": True},
            "min_dwell_s": levels["min_dwell_s"]}  # fmt: skip


def agent_file(tmp_path: Path, sim: Simulator, broker: MosquittoServer) -> Path:
    devices = agent_devices(
        sim.plant,
        modbus=sim.modbus_address,
        opcua_endpoint=None,
        s7=sim.s7_address,
        poll_interval_s=POLL_S,
        ideal_cycle_factor=1.0,
    )
    by_id = {device["id"]: device for device in devices}
    by_id[POWER]["tags"] = {  # a meter only: no lamp, no current
        name: tag for name, tag in by_id[POWER]["tags"].items() if name not in ("lamp", "current")
    }
    by_id[LAMP]["state"] = run_signal_block(sim.plant.machines[1])
    # The lamp machine's kit on a serial bus, as installers wire one: Modbus RTU through the
    # simulator's software null modem (8N1, as pymodbus's serial server serves it).
    tcp = ("protocol", "host", "port")
    by_id[LAMP] = {**{k: v for k, v in by_id[LAMP].items() if k not in tcp},
                   "protocol": "modbus_rtu", "serial_port": str(tmp_path / RTU_LINK),
                   "baudrate": RTU_BAUD, "parity": "none"}  # fmt: skip
    devices = list(by_id.values())
    for device in devices:
        # Plant time stands still while the agent reads: a slow read under load must delay a
        # poll, never turn it into comm loss.
        device["timeout_s"] = 30
    config = {
        "agent": {"id": AGENT, "platform": PLATFORM, "enterprise": ENTERPRISE,
                  "key_path": str(tmp_path / "agent.key"),
                  "outbox_path": str(tmp_path / "outbox.sqlite"), "window_s": WINDOW_S},
        "broker": {"host": broker.host, "port": broker.port},
        "devices": devices,
    }  # fmt: skip
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def registry_with_agent(path: Path, key_path: Path) -> Path:
    public_key = wire.public_key_text(load_private_key(key_path).public_key())
    with Registry(path) as registry:
        registry.load_plan(load_plan(PLAN), by="test")
        registry.add_agent(AGENT, platform=PLATFORM, enterprise=ENTERPRISE,
                           public_key=public_key, devices=[POWER, LAMP, S7], by="test")  # fmt: skip
    return path


# --- the bound, from the configuration -------------------------------------------------------


def inrush_s(config: MachineConfig, state: StateInferenceConfig | None) -> float:
    """``r``: how long a power-on's inrush can put the reading in a class other than the new
    state's. Only a retrofit machine has one (sim.machine), and it matters only where the level
    decides idle against running: a run signal decides that itself, and a level that only tells
    off from on stays on at a higher draw."""
    kit = config.retrofit
    if kit is None or state is None:
        return 0.0
    level = state.power
    if level is None or level.running_above is None or state.run_signal is not None:
        return 0.0
    running_kw = config.idle_kw + config.energy_per_part_kwh * 3600.0 / config.cycle_s
    new_kw = config.idle_kw if kit.warmup_s > 0 else running_kw  # warm-up idles first
    new_runs = new_kw >= level.running_above
    return kit.inrush_s if (kit.inrush_factor * new_kw >= level.running_above) != new_runs else 0.0


def lag_bound(loaded: LoadedConfig, config: MachineConfig) -> LagBound:
    """The device's bound: its configured poll and dwell, its machine's inrush, lambda 0."""
    (device,) = (d for d in loaded.config.devices if d.id == config.id)
    dwell_s = 0.0 if device.state is None else device.state.min_dwell_s
    return LagBound(device.poll_interval_s, dwell_s, 0.0, inrush_s(config, device.state))


def true_changes(sim: Simulator, machine_id: str, inferred: bool) -> list[Change]:
    """Each change of the class the device can see, from the simulator's own log."""
    named = (lambda s: SEEN[s]) if inferred else (lambda s: s.value)
    changes = []
    for t in sim.transitions(machine_id, START.timestamp(), END_OF_RUN.timestamp()):
        if named(t.from_state) != named(t.to_state):
            changes.append(Change(t.ts, named(t.from_state), named(t.to_state)))
    return changes


def by_class(quantities: wire.KpiWindow | TruthBin, fields: FieldMap) -> dict[str, float]:
    """Seconds per class (and planned) of a window or a truth bin: their fields share names."""
    return {
        name: sum(float(getattr(quantities, quantity) or 0.0) for quantity in names)
        for name, names in fields.items()
    }


@dataclass(frozen=True)
class DeviceResult:
    """What one device's check needs: its whole windows, its truth and its bound."""

    machine_id: str
    inferred: bool
    bound: LagBound
    windows: list[wire.KpiWindow]
    changes: list[Change]

    @property
    def fields(self) -> FieldMap:
        """The fields of each class this device's source can tell apart."""
        return INFERRED_FIELDS if self.inferred else CODE_FIELDS

    @property
    def classes(self) -> list[str]:
        """Its state classes (not ``planned``, which the calendar decides)."""
        return [name for name in self.fields if name != "planned"]


def counted_truth(sim: Simulator, result: DeviceResult, start: float, end: float) -> TruthBin:
    """The parts the windows of ``[start, end)`` must count: a counter's advance belongs to the
    window of the poll that saw it (docs/kpi.md, "How counts and energy are attributed"), and
    polls fall on the window edges, so a window counts the parts made one poll interval before
    its span: ``(start - p, end - p]``."""
    poll_s = result.bound.poll_s
    return sim.truth(result.machine_id, start - poll_s, end - poll_s)


@dataclass
class Tally:
    """What a device's check measured, for the report: the worst window error as a share of
    its bound, and each class's error over the shift with its bound (seconds)."""

    worst_share: float = 0.0
    shift: dict[str, tuple[float, float]] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)

    def line(self, result: DeviceResult) -> str:
        errors = ", ".join(f"{n} {e:+.0f}/{b:.0f}" for n, (e, b) in self.shift.items())
        return (f"{result.machine_id}: B {result.bound.per_change_s:g} s, "
                f"{len(result.changes)} changes, worst window {self.worst_share:.2f} of B x K; "
                f"shift error/bound s: {errors}; counts {self.counted}")  # fmt: skip


def window_failures(sim: Simulator, result: DeviceResult, tally: Tally) -> Iterator[str]:
    """Per window: each class's time within B x K(w), the counts exact."""
    per_change_s = result.bound.per_change_s
    for window in result.windows:
        start, end = window.start.timestamp(), window.end.timestamp()
        truth = sim.truth(result.machine_id, start, end)
        expected, got = by_class(truth, result.fields), by_class(window, result.fields)
        near = changes_near(result.changes, start, end, per_change_s)
        where = f"{result.machine_id} window {window.start:%H:%M}-{window.end:%H:%M}"
        polls = (end - start) / result.bound.poll_s
        if (window.quality.samples, window.quality.missed_polls) != (polls, 0):
            yield (f"{where}: {window.quality.samples} polls answered, "
                   f"{window.quality.missed_polls} missed, expected {polls:g}: the bound "
                   f"assumes a poll every {result.bound.poll_s:g} plant s")  # fmt: skip
        for name, value in got.items():
            error, allowed = value - expected[name], per_change_s * near
            if allowed > 0:
                tally.worst_share = max(tally.worst_share, abs(error) / allowed)
            if abs(error) > allowed + 1e-6:
                yield (f"{where} {name}: inferred {value:g} s, truth {expected[name]:g} s, "
                       f"error {error:+g} s > bound {allowed:g} s (B {per_change_s:g} s x "
                       f"{near} changes)")  # fmt: skip
        made = counted_truth(sim, result, start, end)
        for name in COUNTS:
            if getattr(window, name) != getattr(made, name):
                yield (f"{where} {name}: counted {getattr(window, name)}, truth "
                       f"{getattr(made, name)} (counts must be exact)")  # fmt: skip


def shift_failures(sim: Simulator, result: DeviceResult, tally: Tally) -> Iterator[str]:
    """Over the shift: each class's summed time within the period bound, the counts exact."""
    low, high = SHIFT_START.timestamp(), SHIFT_END.timestamp()
    shift = [w for w in result.windows if low <= w.start.timestamp() and w.end.timestamp() <= high]
    if len(shift) != (high - low) / WINDOW_S:
        yield f"{result.machine_id}: {len(shift)} whole windows in the shift, expected all"
        return
    truth = sim.truth(result.machine_id, low, high)
    expected = by_class(truth, result.fields)
    classes = [*result.classes, "planned"]  # planned: only the ends can differ
    bounds = period_error_bound(result.bound, spells(result.changes, low, high), classes)
    for name in classes:
        value = sum(by_class(w, result.fields)[name] for w in shift)
        error = value - expected[name]
        tally.shift[name] = (error, bounds[name])
        if abs(error) > bounds[name] + 1e-6:
            yield (
                f"{result.machine_id} shift {name}: inferred {value:g} s, truth "
                f"{expected[name]:g} s, error {error:+g} s > bound {bounds[name]:g} s"
            )
    made = counted_truth(sim, result, low, high)
    for name in COUNTS:
        counted = sum(getattr(w, name) or 0 for w in shift)
        tally.counted[name] = counted
        if counted != getattr(made, name):
            yield (
                f"{result.machine_id} shift {name}: counted {counted}, truth "
                f"{getattr(made, name)} (counts must be exact)"
            )


# --- the run ---------------------------------------------------------------------------------


async def run_the_shift(
    tmp_path: Path, broker: MosquittoServer, influxd: InfluxServer
) -> tuple[Simulator, LoadedConfig, list[wire.KpiWindow], list[DailyRow]]:
    """Play the shift through simulator, agent, broker, ingest and InfluxDB; the stored windows
    read back through the store, and the day's rollup rows (the simulator is stopped, its truth
    kept)."""
    generate_key_pair(tmp_path / "agent.key")
    registry = registry_with_agent(tmp_path / "registry.sqlite", tmp_path / "agent.key")
    metrics_port = free_port()
    ingest = IngestService(
        settings=IngestSettings(host=broker.host, port=broker.port),
        registry_path=registry,
        store=lambda: InfluxStore(influxd.url, "rv"),
        metrics_port=metrics_port,
    )
    clock = WorkedExampleClock(START, SPEED)
    collector_stop, agent_stop = asyncio.Event(), asyncio.Event()
    collecting = asyncio.create_task(ingest.run(collector_stop))
    sim = Simulator(the_plant(), clock=clock, seed=SEED, start_ts=START.timestamp(),
                    modbus_port=free_port(), s7_port=free_port(), tick_s=0,
                    rtu_links=[tmp_path / RTU_LINK], rtu_baudrate=RTU_BAUD,
                    truth_bin_s=int(POLL_S))  # fmt: skip
    async with sim:
        clock.sim = sim

        async def subscribed() -> bool:
            return await asyncio.to_thread(_broker_connected, metrics_port)

        await eventually(subscribed, bound_s=60)
        await asyncio.sleep(0.3)  # its SUBSCRIBE is on the wire
        loaded = load_config(agent_file(tmp_path, sim, broker))
        service = AgentService(loaded, metrics_port=0, drain_timeout_s=60, clock=clock)
        running = asyncio.create_task(service.run(agent_stop))
        await clock.sleep_until(END_OF_RUN.timestamp())
        agent_stop.set()
        await asyncio.wait_for(running, timeout=120)
    sent = service.publisher.state.records_acked
    async with InfluxStore(influxd.url, "rv") as store:

        async def stored() -> bool:
            got = len(await store.windows(ENTERPRISE, START, END_OF_RUN + HOUR))
            return got >= sent

        await eventually(stored, bound_s=120)
        records = await store.windows(ENTERPRISE, START, END_OF_RUN + HOUR)
        collector_stop.set()
        await asyncio.wait_for(collecting, timeout=60)
        # The day's rollup, refreshed once more now that every window is stored (the ingest's
        # own refresh may have run before the last ones): what the evidence reads.
        day = START.astimezone(ZoneInfo(TZ)).date()
        await store.refresh_days(
            DayKey(ENTERPRISE, device, day, TZ) for device in (POWER, LAMP, S7)
        )
        rows = await store.daily(ENTERPRISE, day, day)
    windows = [r.window for r in records if isinstance(r.window, wire.KpiWindow)]
    return sim, loaded, windows, rows


async def test_a_shift_of_inferred_and_s7_machines_matches_the_truth_within_the_bound(
    tmp_path: Path, mosquitto: MosquittoServer, influxd: InfluxServer
) -> None:
    sim, loaded, windows, rows = await run_the_shift(tmp_path, mosquitto, influxd)
    failures: list[str] = []
    for config in sim.plant.machines:
        inferred = config.protocol == "retrofit"
        mine = sorted((w for w in windows if w.device == config.id), key=lambda w: w.start)
        whole = [w for w in mine if not w.partial and w.quality.comm_loss_s == 0]
        # Every window but the first (the agent's first poll) and the last (its stop).
        assert len(whole) >= (END_OF_RUN - START).total_seconds() / WINDOW_S - 2, config.id
        result = DeviceResult(
            config.id, inferred, lag_bound(loaded, config), whole,
            true_changes(sim, config.id, inferred),
        )  # fmt: skip
        # A shift worth checking: power-on, failures, idle spells, the break, power-off.
        assert len(result.changes) >= 8, (config.id, result.changes)
        if inferred:  # a meter and a lamp never say down or planned_stop
            assert all((w.down_s, w.planned_stop_s) == (0, 0) for w in whole), config.id
            # ... and say so: every planned second of theirs had an inferred state.
            assert all(w.inferred_planned_s == w.planned_s for w in mine), config.id
        else:  # a state code: no state: block, nothing inferred (absent on the wire)
            assert all(w.inferred_planned_s is None for w in mine), config.id
        tally = Tally()
        failures += window_failures(sim, result, tally)
        failures += shift_failures(sim, result, tally)
        print(tally.line(result))  # shown with -s: the figures docs/kpi.md reports
    assert not failures, f"{len(failures)} outside the bound:\n" + "\n".join(failures[:400])
    check_downtime_is_measured_only_by_the_state_code(sim, rows)


def check_downtime_is_measured_only_by_the_state_code(sim: Simulator, rows: list[DailyRow]) -> None:
    """The day's rollups through the evidence engine (#18): the meter's and the lamp's days are
    left out of unplanned downtime (``downtime_not_measured``: they report down_s 0, which is
    no measurement), the S7 machine's down time is measured and matches its truth."""
    by_device = {row.device: row for row in rows}
    assert sorted(by_device) == sorted([LAMP, POWER, S7])
    for device in (POWER, LAMP):
        row = by_device[device]
        assert row.down_s == 0 and row.planned_s > 0, device
        assert row.inferred_planned_s == pytest.approx(row.planned_s, rel=1e-12), device
        assert left_out_reason(row, DOWNTIME) == DOWNTIME_NOT_MEASURED, device
    weld = by_device[S7]
    assert weld.inferred_planned_s is None and left_out_reason(weld, DOWNTIME) is None
    (day,) = enterprise_days(rows)
    assert day.left_out[DOWNTIME] == tuple(
        (device, DOWNTIME_NOT_MEASURED) for device in sorted((POWER, LAMP))
    )
    assert weld.down_s is not None and weld.down_s > 0  # its failures: a measurement
    assert day.value(DOWNTIME) == pytest.approx(weld.down_s / weld.planned_s, rel=1e-12)
    truth = sim.truth(S7, START.timestamp(), END_OF_RUN.timestamp())
    # Its polled down time against the truth: within a poll per change into or out of down.
    changes = [
        c for c in true_changes(sim, S7, inferred=False) if "down" in (c.from_class, c.to_class)
    ]
    assert abs(weld.down_s - truth.down_s) <= POLL_S * len(changes) + 1e-6
    print(f"{S7}: down {weld.down_s:g} s (truth {truth.down_s:g} s) of planned "
          f"{weld.planned_s:g} s; {POWER}, {LAMP}: {DOWNTIME_NOT_MEASURED}")  # fmt: skip


def test_the_bound_of_each_device_comes_from_its_configuration() -> None:
    """The inrush counts only where the level decides idle against running (docs/kpi.md)."""
    plant_config = the_plant()
    power, lamp, _ = plant_config.machines
    levels = StateInferenceConfig.model_validate(retrofit_state_block(power))
    signal = StateInferenceConfig.model_validate(run_signal_block(lamp))
    # Warm-up idles at 2 kW after power-on; the inrush, 6 x 2 kW, is above running_above.
    assert inrush_s(power, levels) == KIT["inrush_s"]
    assert inrush_s(lamp, signal) == 0.0  # the lamp decides running; more power stays "on"
    assert inrush_s(plant_config.machines[2], None) == 0.0
    bound = LagBound(POLL_S, levels.min_dwell_s, 0.0, inrush_s(power, levels))
    # D = 6 s (twice the inrush) is under a poll: m = 1, and the poll may land in the inrush,
    # its wrong state undone a poll later: B = p + r + p.
    assert bound.per_change_s == 2 * POLL_S + KIT["inrush_s"]
    assert LagBound(POLL_S).per_change_s == POLL_S  # a state code: sampled, no dwell


def test_the_plant_meets_the_bounds_precondition() -> None:
    """docs/kpi.md: each steady level with its noise clears both edges of its class."""
    power, lamp, _ = the_plant().machines
    for config, block in ((power, retrofit_state_block(power)), (lamp, run_signal_block(lamp))):
        level = StateInferenceConfig.model_validate(block).power
        kit = config.retrofit
        assert level is not None and kit is not None
        assert _noisy(kit, config.standby_kw, +1) < level.off_below - level.hysteresis
        assert level.off_below <= _noisy(kit, config.idle_kw, -1)
        if level.running_above is not None:
            low_run, _ = _running_kw_range(config)
            assert _noisy(kit, config.idle_kw, +1) < level.running_above - level.hysteresis
            assert level.running_above <= _noisy(kit, low_run, -1)


def _exact_window(sim: Simulator, result: DeviceResult, start: float) -> wire.KpiWindow:
    """A window that says exactly what the truth says (built unvalidated: it tests the check)."""
    truth = sim.truth(result.machine_id, start, start + WINDOW_S)
    made = counted_truth(sim, result, start, start + WINDOW_S)
    quality = wire.DataQuality(samples=round(WINDOW_S / POLL_S), missed_polls=0, bad_values=0,
                               comm_loss_s=0.0, scheduled_comm_loss_s=0.0, counter_resets=0,
                               meter_resets=0, clock_jumps=0)  # fmt: skip
    fields = {quantity: getattr(truth, quantity) for quantity in
              ("run_s", "idle_s", "down_s", "off_s", "planned_stop_s", "planned_s")}  # fmt: skip
    return wire.KpiWindow.model_construct(
        device=result.machine_id,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(start + WINDOW_S, UTC),
        partial=False,
        quality=quality,
        **fields,
        **{name: getattr(made, name) for name in COUNTS},
    )


async def test_the_check_passes_the_truth_and_names_what_leaves_the_bound() -> None:
    """The comparison itself, on windows made from the truth: exact ones pass, and a window
    whose run time is off by one second more than its bound, or a count off by one, fails
    with the window, the quantity, the error and the bound."""
    clock = WorkedExampleClock(START, SPEED)
    sim = Simulator(the_plant(), clock=clock, seed=SEED, start_ts=START.timestamp(), tick_s=0,
                    truth_bin_s=int(POLL_S))  # fmt: skip
    async with sim:  # no server: the model only
        await sim.advance_to(END_OF_RUN.timestamp())
    low, high = SHIFT_START.timestamp(), SHIFT_END.timestamp()
    starts = [low + WINDOW_S * i for i in range(round((high - low) / WINDOW_S))]
    changes = true_changes(sim, S7, inferred=False)
    no_windows = DeviceResult(S7, False, LagBound(POLL_S), [], changes)
    windows = [_exact_window(sim, no_windows, start) for start in starts]
    result = DeviceResult(S7, False, LagBound(POLL_S), windows, changes)
    assert [*window_failures(sim, result, Tally()), *shift_failures(sim, result, Tally())] == []

    index = next(i for i, s in enumerate(starts) if changes_near(changes, s, s + WINDOW_S, POLL_S))
    near = changes_near(changes, starts[index], starts[index] + WINDOW_S, POLL_S)
    moved_s = POLL_S * near + 1.0
    exact_window = windows[index]
    run_s, idle_s = exact_window.run_s or 0.0, exact_window.idle_s or 0.0
    update = {"run_s": run_s + moved_s, "idle_s": idle_s - moved_s,
              "total_count": (exact_window.total_count or 0) + 1}  # fmt: skip
    broken = exact_window.model_copy(update=update)
    result = DeviceResult(S7, False, LagBound(POLL_S), [*windows[:index], broken], changes)
    found = list(window_failures(sim, result, Tally()))
    where = f"weld-s7 window {broken.start:%H:%M}-{broken.end:%H:%M} "
    assert found[0] == (
        f"{where}running: inferred {run_s + moved_s:g} s, truth {run_s:g} s, error "
        f"{moved_s:+g} s > bound {POLL_S * near:g} s (B {POLL_S:g} s x {near} changes)"
    )
    assert all(f.startswith(where) for f in found)
    assert [f.removeprefix(where).split(":")[0] for f in found] == [
        "running",
        "idle",
        "total_count",
    ]
