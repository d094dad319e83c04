"""The machine model: an event-driven state machine on a shift calendar, with exact ground truth.

Pure: no I/O and no clock of its own. ``advance_to(ts)`` moves it to plant time ``ts`` (epoch
seconds) by jumping from event to event (part completions, failures, repairs, idle episodes,
calendar boundaries, counter resets), so the per-state seconds, parts and kWh it records are exact,
not sampled. The random draws happen only at events, in time order, from one ``random.Random``
per machine: the same seed gives the same plant however ``advance_to`` is chunked.

Rules worth knowing (also in docs/simulator.md):
- Failures (MTBF) and idle episodes count running seconds only; repair (MTTR) and idle episode
  lengths are exponential in plant seconds.
- A break or the end of a shift ends any down or idle episode (the repair is done off-shift).
- A cycle interrupted by a stop resumes where it left off.
- Power is piecewise constant: running = idle_kw + energy_per_part_kwh spread over that cycle;
  idle and down = idle_kw; off and planned_stop = standby_kw.
- A retrofit machine (``config.retrofit``) also has inrush and warm-up: at each power-on (off or
  planned_stop into planned time) it draws ``inrush_factor`` times the new state's power for
  ``inrush_s`` (an event ends it, so the truth books it exactly), and idles ``warmup_s`` before
  it runs (an idle episode with no draw). Other machines have neither: their plant is unchanged.
- Every state change is logged (``transitions``), for bounds that need the instants of change.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from enum import StrEnum

from sim.calendar import Segment, ShiftCalendar
from sim.plant import MachineConfig

__all__ = [
    "STATE_FIELD",
    "Machine",
    "MachineState",
    "Rates",
    "Snapshot",
    "Transition",
    "TruthBin",
    "machine_seed",
]


class MachineState(StrEnum):
    """The five states the KPI engine knows (ISO 22400-2 time model)."""

    RUNNING = "running"
    IDLE = "idle"
    DOWN = "down"
    OFF = "off"
    PLANNED_STOP = "planned_stop"


@dataclass
class TruthBin:
    """Exact quantities over an interval: seconds per state, parts, rejects, kWh, counter resets."""

    run_s: float = 0.0
    idle_s: float = 0.0
    down_s: float = 0.0
    off_s: float = 0.0
    planned_stop_s: float = 0.0
    total_count: int = 0
    reject_count: int = 0
    energy_kwh: float = 0.0
    counter_resets: int = 0

    @property
    def planned_s(self) -> float:
        """Planned production seconds: running + idle + down (breaks and off-shift excluded)."""
        return self.run_s + self.idle_s + self.down_s

    @property
    def good_count(self) -> int:
        """Good parts: total minus rejects."""
        return self.total_count - self.reject_count

    @property
    def elapsed_s(self) -> float:
        """All seconds covered, whatever the state."""
        return self.planned_s + self.off_s + self.planned_stop_s

    def add(self, other: TruthBin) -> None:
        """Add ``other`` into this bin."""
        for name in _TRUTH_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class Snapshot:
    """What the machine's controller shows at plant time ``ts`` (counters as register values)."""

    ts: float
    state: MachineState
    total_count: int
    reject_count: int
    good_count: int
    energy_kwh: float
    power_kw: float
    cycle_time_s: float
    #: Plant time the last part (and the last reject) was completed; -inf before the first.
    last_part_ts: float = -math.inf
    last_reject_ts: float = -math.inf


@dataclass(frozen=True)
class Transition:
    """A change of state at plant time ``ts`` (epoch seconds)."""

    ts: float
    from_state: MachineState
    to_state: MachineState


@dataclass(frozen=True)
class Rates:
    """The rates in force at one instant (before or after go-live)."""

    cycle_s: float
    reject_rate: float
    mtbf_s: float
    mttr_s: float
    energy_per_part_kwh: float


_Handler = Callable[[], None]
_TRUTH_FIELDS = tuple(item.name for item in fields(TruthBin))

#: The TruthBin field each state's time adds to.
STATE_FIELD = {
    MachineState.RUNNING: "run_s",
    MachineState.IDLE: "idle_s",
    MachineState.DOWN: "down_s",
    MachineState.OFF: "off_s",
    MachineState.PLANNED_STOP: "planned_stop_s",
}


def machine_seed(plant_seed: int, machine_id: str) -> int:
    """Derive a machine's own seed, so adding a machine never changes another's plant."""
    digest = hashlib.sha256(f"{plant_seed}:{machine_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass
class _Counters:
    total: int
    reject: int = 0
    energy_kwh: float = 0.0
    last_cycle_s: float = 0.0
    last_part_ts: float = -math.inf
    last_reject_ts: float = -math.inf


@dataclass
class _Cycle:
    duration_s: float = 0.0
    power_kw: float = 0.0


@dataclass
class _Timers:
    # Running-time budgets while stopped; absolute deadlines while running. Converting only at
    # events (never in _accumulate) keeps the plant identical however advance_to is chunked.
    cycle_left_s: float = 0.0
    to_failure_s: float = math.inf  # running seconds left before the next failure
    to_idle_s: float = math.inf  # running seconds left before the next idle episode
    cycle_end: float = math.inf
    failure_at: float = math.inf
    idle_at: float = math.inf
    episode_end: float = math.inf  # plant time a down or idle episode ends
    next_reset: float = math.inf  # plant time of the next counter reset
    segment_end: float = math.inf  # plant time the calendar segment ends
    inrush_end: float = math.inf  # plant time a power-on's inrush ends (retrofit machines)
    bins: dict[int, TruthBin] = field(default_factory=dict)


class Machine:
    """One simulated machine driven by plant time."""

    def __init__(
        self, config: MachineConfig, seed: int, start_ts: float, truth_bin_s: int = 60
    ) -> None:
        if truth_bin_s <= 0:
            raise ValueError(f"truth_bin_s must be > 0, got {truth_bin_s}")
        self.config = config
        self.truth_bin_s = truth_bin_s
        self._rng = random.Random(machine_seed(seed, config.id))
        self._calendar = ShiftCalendar(config.calendar)
        self._go_live = config.scenario.go_live.timestamp() if config.scenario else math.inf
        self._before, self._after = _rates(config, False), _rates(config, True)
        self._now = start_ts
        self._start = start_ts
        self._counters = _Counters(total=config.counter_start, energy_kwh=config.energy_start_kwh)
        self._cycle = _Cycle()
        self._timers = _Timers()
        self._timers.to_failure_s = self._exp(self.rates(start_ts).mtbf_s)
        self._timers.to_idle_s = self._exp(config.idle_every_s)
        self._timers.next_reset = self._next_reset_after(start_ts)
        kit = config.retrofit
        self._inrush_factor, self._inrush_s = (
            (kit.inrush_factor, kit.inrush_s) if kit else (1.0, 0.0)
        )
        self._warmup_s = kit.warmup_s if kit else 0.0
        self._state = MachineState.OFF
        self._log: list[Transition] = []
        self._log_ts: list[float] = []
        self._enter_segment()

    @property
    def now(self) -> float:
        """Plant time the model has reached, epoch seconds."""
        return self._now

    @property
    def state(self) -> MachineState:
        """Current state."""
        return self._state

    def rates(self, ts: float) -> Rates:
        """Rates in force at plant time ``ts``: the scenario's factors apply from go-live on."""
        return self._after if ts >= self._go_live else self._before

    def advance_to(self, ts: float) -> None:
        """Run the model forward to plant time ``ts``.

        Raises ValueError if ``ts`` lies before the time already reached.
        """
        if ts < self._now:
            raise ValueError(f"machine {self.config.id}: cannot go back from {self._now} to {ts}")
        while True:
            event_at, handler = self._next_event()
            if event_at > ts:
                self._accumulate(ts)
                return
            self._accumulate(event_at)
            handler()

    def snapshot(self) -> Snapshot:
        """The values the machine's controller shows now (counters wrapped at their width)."""
        modulus = 1 << self.config.counter_bits
        counters = self._counters
        return Snapshot(
            ts=self._now,
            state=self._state,
            total_count=counters.total % modulus,
            reject_count=counters.reject % modulus,
            good_count=(counters.total - counters.reject) % modulus,
            energy_kwh=counters.energy_kwh,
            power_kw=self._power_kw(),
            cycle_time_s=counters.last_cycle_s,
            last_part_ts=counters.last_part_ts,
            last_reject_ts=counters.last_reject_ts,
        )

    def truth(self, start_ts: float, end_ts: float) -> TruthBin:
        """Exact sums over plant time [start_ts, end_ts).

        Raises ValueError unless both ends are multiples of ``truth_bin_s`` inside the time
        simulated so far.
        """
        size = self.truth_bin_s
        if start_ts % size or end_ts % size:
            raise ValueError(f"truth interval must align to {size} s, got {start_ts}..{end_ts}")
        if start_ts < math.floor(self._start / size) * size or end_ts > self._now:
            raise ValueError(
                f"truth interval {start_ts}..{end_ts} outside simulated {self._start}..{self._now}"
            )
        total = TruthBin()
        for index in range(int(start_ts // size), int(end_ts // size)):
            if index in self._timers.bins:
                total.add(self._timers.bins[index])
        return total

    def transitions(self, start_ts: float, end_ts: float) -> list[Transition]:
        """The state changes at plant times in [start_ts, end_ts), in time order."""
        low = bisect.bisect_left(self._log_ts, start_ts)
        high = bisect.bisect_left(self._log_ts, end_ts)
        return self._log[low:high]

    def truth_bins(self) -> Iterator[tuple[float, TruthBin]]:
        """Each recorded bin as (bin start, epoch seconds; quantities), in time order."""
        for index in sorted(self._timers.bins):
            yield index * self.truth_bin_s, self._timers.bins[index]

    # -- events ---------------------------------------------------------------------------

    def _next_event(self) -> tuple[float, _Handler]:
        t = self._timers
        candidates: list[tuple[float, _Handler]] = [
            (t.segment_end, self._enter_segment),
            (t.next_reset, self._reset_counters),
        ]
        if self._state is MachineState.RUNNING:
            candidates.append((t.cycle_end, self._complete_part))
            candidates.append((t.failure_at, self._fail))
            candidates.append((t.idle_at, self._go_idle))
        elif self._state in (MachineState.DOWN, MachineState.IDLE):
            candidates.append((t.episode_end, self._end_episode))
        if t.inrush_end < math.inf:
            candidates.append((t.inrush_end, self._end_inrush))  # last: ties keep their order
        # min() keeps the first of equal times, so ties resolve in the list's fixed order.
        return min(candidates, key=lambda candidate: candidate[0])

    def _enter_segment(self) -> None:
        segment, until = self._calendar.segment_at(self._now)
        self._timers.segment_end = until
        if segment is Segment.PLANNED:
            if self._state in (MachineState.OFF, MachineState.PLANNED_STOP):
                self._power_on()
            return
        if self._state is MachineState.DOWN:
            # The repair is finished off-shift; as when a repair ends, the next failure is
            # drawn. (Without it the machine never failed again: _fail sets it to infinity.)
            self._timers.to_failure_s = self._exp(self.rates(self._now).mtbf_s)
        self._stop_running()
        self._timers.episode_end = math.inf
        self._timers.inrush_end = math.inf  # switched off: no inrush left to draw
        if segment is Segment.BREAK or self.config.calendar.outside_shifts == "planned_stop":
            self._set_state(MachineState.PLANNED_STOP)
        else:
            self._set_state(MachineState.OFF)

    def _power_on(self) -> None:
        """Off or planned stop into planned time: inrush, then warm up (idle) or run."""
        if self._inrush_s > 0 and self._inrush_factor != 1:
            self._timers.inrush_end = self._now + self._inrush_s
        if self._warmup_s <= 0:
            self._run()
            return
        # An idle episode with no random draw: the plant's draws stay as they were.
        self._set_state(MachineState.IDLE)
        self._timers.episode_end = self._now + self._warmup_s

    def _end_inrush(self) -> None:
        self._timers.inrush_end = math.inf

    def _set_state(self, state: MachineState) -> None:
        if state is not self._state:
            self._log.append(Transition(self._now, self._state, state))
            self._log_ts.append(self._now)
        self._state = state

    def _run(self) -> None:
        t = self._timers
        self._set_state(MachineState.RUNNING)
        if t.cycle_left_s <= 0:
            self._start_cycle()
        t.cycle_end = self._now + t.cycle_left_s
        t.failure_at = self._now + t.to_failure_s
        t.idle_at = self._now + t.to_idle_s

    def _stop_running(self) -> None:
        t = self._timers
        if self._state is MachineState.RUNNING:
            t.cycle_left_s = t.cycle_end - self._now
            t.to_failure_s = t.failure_at - self._now
            t.to_idle_s = t.idle_at - self._now
        t.cycle_end = t.failure_at = t.idle_at = math.inf

    def _start_cycle(self) -> None:
        rates = self.rates(self._now)
        jitter = self._rng.normalvariate(0.0, self.config.cycle_jitter)
        duration = rates.cycle_s * max(0.5, 1.0 + jitter)
        self._timers.cycle_left_s = duration
        self._cycle.duration_s = duration
        self._cycle.power_kw = self.config.idle_kw + rates.energy_per_part_kwh * 3600.0 / duration

    def _complete_part(self) -> None:
        rates = self.rates(self._now)
        rejected = self._rng.random() < rates.reject_rate
        self._counters.total += 1
        self._counters.reject += int(rejected)
        self._counters.last_cycle_s = self._cycle.duration_s
        self._counters.last_part_ts = self._now
        if rejected:
            self._counters.last_reject_ts = self._now
        current = self._bin(self._now)
        current.total_count += 1
        current.reject_count += int(rejected)
        self._start_cycle()
        self._timers.cycle_end = self._now + self._timers.cycle_left_s

    def _fail(self) -> None:
        self._stop_running()
        self._set_state(MachineState.DOWN)
        self._timers.to_failure_s = math.inf
        self._timers.episode_end = self._now + self._exp(self.rates(self._now).mttr_s)

    def _go_idle(self) -> None:
        if self.config.idle_mean_s <= 0:
            self._timers.idle_at = self._now + self._exp(self.config.idle_every_s)
            return
        self._stop_running()
        self._timers.to_idle_s = self._exp(self.config.idle_every_s)
        self._set_state(MachineState.IDLE)
        self._timers.episode_end = self._now + self._exp(self.config.idle_mean_s)

    def _end_episode(self) -> None:
        if self._state is MachineState.DOWN:
            self._timers.to_failure_s = self._exp(self.rates(self._now).mtbf_s)
        self._timers.episode_end = math.inf
        self._run()

    def _reset_counters(self) -> None:
        self._counters.total = 0
        self._counters.reject = 0
        self._bin(self._now).counter_resets += 1
        self._timers.next_reset = self._next_reset_after(self._now)

    # -- accounting -----------------------------------------------------------------------

    def _accumulate(self, until: float) -> None:
        """Book the time from now to ``until`` (no event in between) and move now there."""
        elapsed = until - self._now
        if elapsed <= 0:
            return
        power_kw = self._power_kw()
        state_field = STATE_FIELD[self._state]
        start = self._now
        size = self.truth_bin_s
        while start < until:
            bin_end = min(until, (math.floor(start / size) + 1) * size)
            current = self._bin(start)
            setattr(current, state_field, getattr(current, state_field) + (bin_end - start))
            current.energy_kwh += power_kw * (bin_end - start) / 3600.0
            start = bin_end
        self._counters.energy_kwh += power_kw * elapsed / 3600.0
        self._now = until

    def _power_kw(self) -> float:
        in_inrush = self._now < self._timers.inrush_end < math.inf  # inf: no inrush pending
        factor = self._inrush_factor if in_inrush else 1.0
        return factor * self._state_power_kw()

    def _state_power_kw(self) -> float:
        if self._state is MachineState.RUNNING:
            return self._cycle.power_kw
        if self._state in (MachineState.IDLE, MachineState.DOWN):
            return self.config.idle_kw
        return self.config.standby_kw

    def _bin(self, ts: float) -> TruthBin:
        index = math.floor(ts / self.truth_bin_s)
        found = self._timers.bins.get(index)
        if found is None:
            found = self._timers.bins[index] = TruthBin()
        return found

    def _exp(self, mean_s: float) -> float:
        return self._rng.expovariate(1.0 / mean_s)

    def _next_reset_after(self, ts: float) -> float:
        per_day = self.config.counter_resets_per_day
        return ts + self._exp(86400.0 / per_day) if per_day > 0 else math.inf


def _rates(config: MachineConfig, after_go_live: bool) -> Rates:
    scenario = config.scenario if after_go_live else None
    if scenario is None:
        return Rates(
            config.cycle_s,
            config.reject_rate,
            config.mtbf_s,
            config.mttr_s,
            config.energy_per_part_kwh,
        )
    return Rates(
        cycle_s=config.cycle_s * scenario.cycle_factor,
        reject_rate=min(1.0, config.reject_rate * scenario.reject_factor),
        mtbf_s=config.mtbf_s * scenario.mtbf_factor,
        mttr_s=config.mttr_s * scenario.mttr_factor,
        energy_per_part_kwh=config.energy_per_part_kwh * scenario.energy_per_part_factor,
    )
