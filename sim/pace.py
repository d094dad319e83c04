"""How fast a plant clock this machine carries: the demo's speed from a CPU model.

The demo runs the plant on a scaled clock (plant seconds per wall second). Every process it
starts does work per *plant* second: the simulator advances its machines and answers a poll
of each every ``poll_interval_s``, each agent polls, closes windows and sends them, the
collector writes and rolls them up. So CPU per plant day is a constant of the scenario (and of
the CPU's speed), measured by ``bench/demo_polls.py``; at speed S the run asks
``S / 86,400 × cost`` cores. A poll is kept only when it is answered before the next grid point
(``poll_interval_s / S`` wall seconds): a machine that is asked for more than about half of
its cores, or a simulator (one process, one event loop serving every device) asked for more
than about half a core, answers late and the agents skip polls.

:func:`choose_speed` picks the fastest speed under both bounds, scaled by how fast this CPU runs
a fixed piece of the simulator's own work (:func:`calibrate`) against the machine the costs
were measured on, and on the cores other jobs leave free (:func:`busy_cores`); never above the
mode's own speed, never below the one that keeps the run within its time budget.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sim.machine import Machine
from sim.plant import PlantConfig
from sim.scenario import demo_enterprises, plant_document, timeline

__all__ = [
    "DEMO_COST",
    "PlantCost",
    "SpeedChoice",
    "busy_cores",
    "calibrate",
    "choose_speed",
    "pick_speed",
]

_DAY_S = 86_400.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class PlantCost:
    """What the demo's processes cost: CPU seconds per plant day for each enterprise (three
    machines, one agent), plus the cores they use whatever the speed (timers, threads, idle
    loops), as measured on the reference machine.

    The simulator (one process for every enterprise) is also given alone: it is the one
    process every poll waits on.
    """

    #: CPU s per plant day per enterprise: the simulator's share, the agent, the collector's
    #: share (ingest with its rollups, influxd, mosquitto).
    simulator_day_s: float
    agent_day_s: float
    collector_day_s: float
    #: Cores used at any speed: the simulator, each agent, the collector's processes together.
    simulator_idle_cores: float
    agent_idle_cores: float
    collector_idle_cores: float
    #: What :func:`calibrate` took on the machine these were measured on (CPU s).
    calibration_s: float

    def cores(self, speed: float, enterprises: int, scale: float = 1.0) -> tuple[float, float]:
        """(all processes, the simulator alone) in cores at ``speed``, on a CPU ``scale``
        times slower than the reference."""
        days_per_s = speed / _DAY_S * enterprises
        simulator = self.simulator_idle_cores + days_per_s * self.simulator_day_s
        rest = (
            enterprises * self.agent_idle_cores
            + self.collector_idle_cores
            + days_per_s * (self.agent_day_s + self.collector_day_s)
        )
        return scale * (simulator + rest), scale * simulator

    def fastest(
        self, cores: float, simulator_cores: float, enterprises: int, scale: float
    ) -> float:
        """The speed at which the run asks for ``cores`` in all or the simulator for
        ``simulator_cores``, whichever comes first (0.0 when even a still plant asks more)."""
        idle_all, idle_sim = self.cores(0.0, enterprises, scale)
        per_speed_all = self.cores(1.0, enterprises, scale)[0] - idle_all
        per_speed_sim = self.cores(1.0, enterprises, scale)[1] - idle_sim
        return max(
            0.0,
            min((cores - idle_all) / per_speed_all, (simulator_cores - idle_sim) / per_speed_sim),
        )


#: The full demo's scenario (sim/scenario.py: 3 machines per enterprise polled every 900 plant
#: s, hourly windows), measured with bench/demo_polls.py on the 2-core reference VM, 2026-12-07,
#: at 3,000x and 8,000x: the difference between the two gives the part that goes with wall
#: time (docs/performance.md "demo_polls"). Other jobs kept the load at 14-20 then; the
#: simulator's share is from the one run on a quieter machine (12,500x, 97 % of polls kept).
DEMO_COST = PlantCost(
    simulator_day_s=0.092,
    agent_day_s=0.38,
    collector_day_s=0.076,
    simulator_idle_cores=0.083,
    agent_idle_cores=0.007,
    collector_idle_cores=0.024,
    calibration_s=0.098,
)

#: Share of the free cores the whole run may ask for, and of one core the simulator may.
MACHINE_HEADROOM = 0.5
SIMULATOR_HEADROOM = 0.5


@dataclass(frozen=True, slots=True)
class SpeedChoice:
    """The chosen plant clock speed and why, in one line for the demo's output."""

    speed: float
    reason: str
    #: Cores the model predicts the run asks for at ``speed`` (all, the simulator alone).
    cores: float
    simulator_cores: float


def pick_speed(
    cost: PlantCost,
    *,
    enterprises: int,
    top_speed: float,
    floor_speed: float,
    free_cores: float,
    scale: float = 1.0,
) -> SpeedChoice:
    """The fastest speed up to ``top_speed`` whose predicted load stays within the headroom of
    ``free_cores`` (and half a core for the simulator), but at least ``floor_speed``.

    Raises ValueError for a non-positive enterprise count, speed or scale.
    """
    if enterprises <= 0 or top_speed <= 0 or floor_speed <= 0 or scale <= 0:
        raise ValueError(
            f"enterprises {enterprises}, speeds {top_speed}/{floor_speed} and scale {scale} "
            "must all be > 0"
        )
    free = MACHINE_HEADROOM * max(free_cores, 0.0)
    by_machine = cost.fastest(free, float("inf"), enterprises, scale)
    by_simulator = cost.fastest(float("inf"), SIMULATOR_HEADROOM, enterprises, scale)
    sustained = min(by_machine, by_simulator)
    bound = "the cores" if by_machine <= by_simulator else "the simulator's one core"
    if sustained >= top_speed:
        speed = top_speed
        reason = f"this machine carries it: {bound} would carry {sustained:,.0f}x"
    elif sustained >= floor_speed:
        speed = sustained
        reason = f"the fastest {bound} carry with headroom"
    else:
        speed = floor_speed
        carried = f"only {sustained:,.0f}x" if sustained >= 1 else "no plant speed"
        reason = (
            f"{bound} carry {carried} with headroom, but the run must end in time: polls may "
            "be skipped"
        )
    if speed >= 1000:  # to 100x, never below the floor
        speed = max(float(round(speed, -2)), math.ceil(floor_speed / 100) * 100.0)
    cores, sim_cores = cost.cores(speed, enterprises, scale)
    return SpeedChoice(speed, reason, cores, sim_cores)


def calibrate(repeats: int = 3) -> float:
    """CPU seconds this machine takes to simulate the demo's first press for two plant weeks
    (the best of ``repeats``): a fixed piece of the simulator's own pure-Python work."""
    days = timeline(7)
    plant = PlantConfig.model_validate(plant_document(demo_enterprises(3), days))
    config, start_ts = plant.machines[0], days.plant_start.timestamp()
    best = float("inf")
    for _ in range(repeats):
        machine = Machine(config, seed=1, start_ts=start_ts, truth_bin_s=900)
        started = time.process_time()
        machine.advance_to(start_ts + 14 * _DAY_S)
        best = min(best, time.process_time() - started)
    return best


def busy_cores(sample_s: float = 1.0) -> float:
    """Cores the other processes keep busy now, from ``/proc/stat`` over ``sample_s`` (this
    process's own CPU taken out); 0.0 where ``/proc`` cannot be read."""
    try:
        first, own_first = _busy_ticks(), time.process_time()
        time.sleep(sample_s)
        busy = (_busy_ticks() - first) / _CLK_TCK - (time.process_time() - own_first)
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, busy / sample_s)


def _busy_ticks() -> int:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle


def choose_speed(
    cost: PlantCost,
    *,
    enterprises: int,
    top_speed: float,
    floor_speed: float,
    cores: int | None = None,
) -> SpeedChoice:
    """:func:`pick_speed` for this machine now: its cores less what other jobs use, its CPU's
    speed against the reference (:func:`calibrate`)."""
    others = busy_cores()
    # Never faster than the reference: its costs were measured with both cores busy (the demo
    # keeps them busy too), which slows each core's work; an idle machine's calibration would
    # otherwise promise more than the demo's own load leaves.
    scale = max(1.0, calibrate() / cost.calibration_s)
    total = float(cores or os.cpu_count() or 1)
    choice = pick_speed(
        cost,
        enterprises=enterprises,
        top_speed=top_speed,
        floor_speed=floor_speed,
        free_cores=total - others,
        scale=scale,
    )
    return SpeedChoice(
        choice.speed,
        f"{choice.reason}; {total:.0f} cores, other jobs using {others:.1f}, CPU "
        f"{1 / scale:.2f}x the reference",
        choice.cores,
        choice.simulator_cores,
    )
