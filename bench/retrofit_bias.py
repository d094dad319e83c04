"""Where the demo's inferred idle time goes: ``ent-03``'s machines replayed on the demo's poll grid.

No I/O: each ``ent-03`` machine of the demo's plant (``sim.machine``, seed 1 as the demo's
simulator) is polled as the demo's agent polls it, on its grid (``poll_interval_s`` and the
demo's ``poll_offset_s`` of the device), each poll reading the plant as it was ``lag`` plant
seconds earlier (the simulator's tick: uniform in [0, --lag) per poll, seeded); the readings go
through the agent's own ``StateInference`` with the demo's ``state:`` block; sample and hold
splits the time at local midnight. The sums over the periods' device-days (the quick run's
gateway from its offline day on left out, as the demo's accuracy does) are compared with the
truth: run time with the truth's run, idle with the truth's idle + down (docs/demo.md).

Variants, to split the bias into its parts:

- ``truth``: the machine's true state at each poll's read instant (down as idle, planned stop
  as off): sampling alone, no meter, no inference;
- ``level``: the meter's noisy power, the Schmitt classes, no dwell (``min_dwell_s`` 0);
- ``dwell``: as the demo's agent, ``min_dwell_s`` from the demo's configuration (6 s);
- ``before``: the dwell rule before 2026-12-07, which counted a dwell from the first poll that
  saw a state and so asked for a second poll: the same as ``min_dwell_s`` + one poll now.

Then, per kind of true spell, how many are shorter than a poll and what a second poll asked
for loses of them on average (``2 p - L`` of a spell of length ``L`` between one and two polls,
all of a shorter one): where the bias came from (docs/kpi.md, "Dwell").

    .venv/bin/python bench/retrofit_bias.py [--mode quick|full] [--lag 250] [--draws 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
from collections import defaultdict
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import yaml

from agent.config import DeviceConfig, MachineState, parse_config
from agent.inference import StateInference
from agent.sources.base import Quality, Reading
from sim.agent_config import agent_devices
from sim.machine import Machine, Transition, machine_seed
from sim.machine import MachineState as TrueState
from sim.plant import PlantConfig
from sim.retrofit import meter_reading
from sim.scenario import (
    TIMEZONE,
    AgentSettings,
    DemoEnterprise,
    Timeline,
    demo_enterprises,
    plant_document,
    poll_offset_s,
    timeline,
)

PLANT_SEED = 1  # the demo's simulator: --seed 1
MODES = {"quick": (3, 28, 600.0), "full": (12, 42, 900.0)}  # enterprises, period days, poll s
_AS_METER_SEES = {
    TrueState.RUNNING: MachineState.RUNNING,
    TrueState.IDLE: MachineState.IDLE,
    TrueState.DOWN: MachineState.IDLE,
    TrueState.OFF: MachineState.OFF,
    TrueState.PLANNED_STOP: MachineState.OFF,
}


@dataclass
class Sums:
    """Inferred and true seconds over the compared device-days."""

    run_s: float = 0.0
    idle_s: float = 0.0
    truth_run_s: float = 0.0
    truth_idle_s: float = 0.0  # idle + down

    def add(self, other: Sums) -> None:
        self.run_s += other.run_s
        self.idle_s += other.idle_s
        self.truth_run_s += other.truth_run_s
        self.truth_idle_s += other.truth_idle_s

    def line(self) -> str:
        run = 100 * (self.run_s / self.truth_run_s - 1)
        idle = 100 * (self.idle_s / self.truth_idle_s - 1)
        truth = f"truth idle+down {self.truth_idle_s:,.0f} s"
        return f"run_s {run:+6.2f} %, idle_s {idle:+6.2f} % ({truth})"


def _devices(plant: PlantConfig, poll_s: float) -> dict[str, DeviceConfig]:
    devices = agent_devices(plant, modbus=("127.0.0.1", 502), opcua_endpoint=None,
                            poll_interval_s=poll_s)  # fmt: skip
    text = yaml.safe_dump({"agent": {"id": "gw", "platform": "p", "enterprise": "e",
                                     "key_path": "k", "outbox_path": "o"},
                           "broker": {"host": "127.0.0.1"}, "devices": devices})  # fmt: skip
    return {d.id: d for d in parse_config(text, "bench.yaml").config.devices}


def _days(days: Timeline, enterprise: DemoEnterprise) -> list[dt.date]:
    """The device-days the demo's accuracy compares: both periods, while the gateway was up."""
    offline = days.offline_at.date() if enterprise.role == "goes_offline" else None
    compared = []
    for first, last in (days.baseline, days.reporting):
        day = first
        while day <= last:
            if offline is None or day < offline:
                compared.append(day)
            day += dt.timedelta(days=1)
    return compared


def replay(
    machine_id: str,
    plant: PlantConfig,
    device: DeviceConfig,
    offset_s: float,
    days: Timeline,
    compared: list[dt.date],
    variant: str,
    lag_s: float,
    draw: int,
) -> Sums:
    """One machine over the timeline, polled as the demo polls it; sums over ``compared``."""
    config = next(m for m in plant.machines if m.id == machine_id)
    kit, block = config.retrofit, device.state
    if kit is None or block is None:
        raise SystemExit(f"{machine_id}: not a retrofit device with a state block")
    if variant == "level":
        block = block.model_copy(update={"min_dwell_s": 0.0})
    elif variant == "before":
        block = block.model_copy(update={"min_dwell_s": block.min_dwell_s + device.poll_interval_s})
    inference = StateInference(block, device)
    zone = ZoneInfo(TIMEZONE)
    start, end = days.plant_start.timestamp(), days.plant_end.timestamp()
    model = Machine(config, PLANT_SEED, start, truth_bin_s=900)
    seed = machine_seed(PLANT_SEED, machine_id)
    lags = random.Random(f"{machine_id}:{draw}")
    poll_s = device.poll_interval_s
    held: dict[tuple[dt.date, MachineState], float] = defaultdict(float)
    poll = (start - offset_s) // poll_s * poll_s + offset_s + poll_s
    last: tuple[MachineState | None, float] | None = None
    while poll < end:
        lag = lags.uniform(0.0, lag_s)
        model.advance_to(max(model.now, poll - lag))
        snapshot = model.snapshot()
        if variant == "truth":
            state: MachineState | None = _AS_METER_SEES[snapshot.state]
        else:
            shown = meter_reading(kit, snapshot.power_kw, seed, snapshot.ts)
            reading = Reading("power", shown.power_kw, None, Quality.GOOD, None, poll)
            state = inference.update([reading], poll).state
        if last is not None and last[0] is not None:
            _hold(held, last[0], last[1], poll, zone)
        last = (state, poll)
        poll += poll_s
    model.advance_to(end)
    sums = Sums()
    for day in compared:
        day_start = dt.datetime.combine(day, dt.time(0), zone).timestamp()
        truth = model.truth(day_start, day_start + 86400)
        sums.run_s += held[(day, MachineState.RUNNING)]
        sums.idle_s += held[(day, MachineState.IDLE)]
        sums.truth_run_s += truth.run_s
        sums.truth_idle_s += truth.idle_s + truth.down_s
    return sums


def _hold(
    held: dict[tuple[dt.date, MachineState], float],
    state: MachineState,
    start: float,
    end: float,
    zone: ZoneInfo,
) -> None:
    """Add [start, end) to ``state``, split at local midnights."""
    while start < end:
        local = dt.datetime.fromtimestamp(start, zone)
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), zone)
        cut = min(end, midnight.timestamp())
        held[(local.date(), state)] += cut - start
        start = cut


def _spell_kind(change: Transition) -> str:
    if change.to_state is TrueState.IDLE:
        warm_up = change.from_state in (TrueState.OFF, TrueState.PLANNED_STOP)
        return "warm-up (idle)" if warm_up else "idle episode"
    return {TrueState.DOWN: "repair (down)", TrueState.RUNNING: "running"}.get(
        change.to_state, "off, planned stop"
    )


def spell_losses(plant: PlantConfig, machine_ids: list[str], days: Timeline, poll_s: float) -> None:
    """Print, per kind of true spell, its count, mean length, share under a poll, and the share
    of its time a second poll asked for loses on average (random poll phase)."""
    start, end = days.plant_start.timestamp(), days.plant_end.timestamp()
    kinds: dict[str, list[float]] = defaultdict(list)
    for machine_id in machine_ids:
        model = Machine(next(m for m in plant.machines if m.id == machine_id), PLANT_SEED, start)
        model.advance_to(end)
        changes = model.transitions(start, end)
        for change, following in itertools.pairwise(changes):
            kinds[_spell_kind(change)].append(following.ts - change.ts)
    for kind, lengths in sorted(kinds.items()):
        lost = sum(length if length < poll_s else max(0.0, 2 * poll_s - length)
                   for length in lengths)  # fmt: skip
        short = 100 * sum(1 for length in lengths if length < poll_s) / len(lengths)
        mean, share = sum(lengths) / len(lengths), 100 * lost / sum(lengths)
        print(f"  spells {kind:18} {len(lengths):5}, mean {mean:6.0f} s, {short:3.0f} % under a "
              f"poll; a second poll loses {share:5.1f} % of their time")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="quick")
    parser.add_argument("--lag", type=float, default=250.0, help="plant s: lag ~ U[0, lag)")
    parser.add_argument("--draws", type=int, default=3, help="lag draws per variant")
    parser.add_argument("--variants", default="truth,level,dwell,before")
    parser.add_argument("--poll", type=float, help="poll interval, plant s (default: mode's)")
    parser.add_argument("--no-offset", action="store_true", help="poll on the 0-offset grid")
    args = parser.parse_args()
    count, period_days, poll_s = MODES[args.mode]
    poll_s = args.poll or poll_s
    enterprises = demo_enterprises(count)
    retrofit = next(e for e in enterprises if e.measured_by == "retrofit")
    days = timeline(period_days)
    plant = PlantConfig.model_validate(plant_document([retrofit], days))
    devices = _devices(plant, poll_s)
    compared = _days(days, retrofit)
    settings = AgentSettings(poll_interval_s=poll_s, window_s=3600, comm_loss_after_s=21600)
    print(f"{args.mode}: poll {poll_s:g} s, lag U[0, {args.lag:g}), {len(compared)} days x 3")
    for variant in args.variants.split(","):
        total = Sums()
        for draw in range(args.draws):
            run = Sums()
            for position, machine_id in enumerate(retrofit.machine_ids):
                offset = (
                    0.0
                    if args.no_offset
                    else poll_offset_s(3 * retrofit.index + position, settings.poll_interval_s)
                )
                sums = replay(machine_id, plant, devices[machine_id], offset, days, compared,
                              variant, args.lag, draw)  # fmt: skip
                if draw == 0:
                    print(f"  {variant:6} {machine_id:15} offset {offset:6.1f}: {sums.line()}")
                run.add(sums)
            total.add(run)
        print(f"  {variant:6} all, {args.draws} draws: {total.line()}")
    spell_losses(plant, retrofit.machine_ids, days, poll_s)


if __name__ == "__main__":
    main()
