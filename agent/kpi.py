"""KPI windows: a device's samples turned into base quantities per clock-aligned window.

Pure computation: it takes samples and times, never clients. ``docs/kpi.md`` defines every
quantity; the rules in short:

- **Time** between two samples belongs to the state seen at the first (sample and hold), split
  exactly at window edges. A gap longer than ``max_gap_s`` is communication loss as a whole,
  never the state last seen: a device that stopped answering is not running.
- **Planned busy time** (ISO 22400-2 PBT): scheduled time (the calendar) not in
  ``planned_stop``, plus any time running outside the schedule (overtime: production happened,
  so it was planned, and availability stays at most 1).
- **Counters** are differences of raw values: a drop is a rollover at the configured width when
  the rolled-over difference is plausible, otherwise a reset (counted from zero, flagged). A
  jump upward beyond what the ideal cycle time allows is treated as a preset and counts nothing
  (flagged). Counts go to the window in which they were observed. A difference across comm
  loss counts in full but is also ``unobserved_count``: those parts were made in time no state
  was known for, so they stay out of performance and OEE (docs/kpi.md).
- **Run time the polls may have missed** ``unsampled_run_s``: sample and hold gives a poll
  interval the state seen at its start, so a machine that started running inside an interval
  held idle makes parts in time counted as idle. Per poll interval held in a state other than
  running over which the parts counter advanced by n (and no comm loss came between), the
  window keeps min(held time, ideal cycle x n), or the held time without an ideal cycle: what
  honest parts can have needed beyond ``run_s``. The plausibility check compares the counts
  with ``run_s`` plus this (docs/evidence-method.md §10).
- **Inferred planned time** ``inferred_planned_s``: the part of planned time held in a state
  that inference gave (``Sample.state_inferred``) rather than a state code. Inference never
  says down, so unplanned downtime is measured only over the rest (docs/kpi.md).
- **Fully productive time** ``ideal_good_s`` = ideal cycle x good parts counted in observed
  time, per window: summed over devices with different ideal cycles it is ISO 22400-2's OEE
  numerator, which A x P x Q of pooled sums is not.
- **Energy** from a cumulative meter (differences, resets flagged) or else by integrating
  power, held between samples like states and never across a comm-loss gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from agent.config.tags import MachineState
from contract import quantities, wire

__all__ = [
    "CounterSpec",
    "KpiSpec",
    "Sample",
    "ScheduleFn",
    "WindowBuilder",
    "always_scheduled",
    "complete_counts",
    "counter_delta",
    "wire_float",
]

#: Scheduled production intervals within ``[start, end)``, seconds since the epoch, in order.
ScheduleFn = Callable[[float, float], Sequence[tuple[float, float]]]

#: A counter rising faster than this many times its ideal rate, plus PRESET_SLACK parts, was
#: preset (written) rather than counted up: the jump counts nothing and is flagged.
PRESET_RATE_FACTOR = 10
PRESET_SLACK = 10

#: A wall clock that disagrees with the monotonic clock by more than this has jumped (wall
#: seconds; on a scaled plant clock the spec multiplies it by the clock's speed).
CLOCK_JUMP_TOLERANCE_S = 2.0


def always_scheduled(start: float, end: float) -> Sequence[tuple[float, float]]:
    """The schedule of a device without a calendar: every second is planned."""
    return [(start, end)] if end > start else []


@dataclass(frozen=True, slots=True)
class Sample:
    """One poll of one device, reduced to what the KPI engine counts.

    ``ts`` is plant time (seconds since the epoch); ``mono`` the clock's monotonic reading in
    plant seconds (None where there is none, e.g. imported rows). ``answered`` is False when the
    device did not answer at all (a missed poll). Values are None when their reading was bad
    or the device has no such tag; ``bad_values`` counts the bad readings of the poll.
    """

    ts: float
    mono: float | None = None
    answered: bool = True
    state: MachineState | None = None
    total_count: int | None = None
    good_count: int | None = None
    reject_count: int | None = None
    energy_meter_kwh: float | None = None
    energy_meter_raw: int | None = None
    power_kw: float | None = None
    bad_values: int = 0
    #: The state was inferred (power, run signal, counter activity: ``agent.inference``), not
    #: read from a state code: its planned time goes to ``inferred_planned_s`` too.
    state_inferred: bool = False
    #: Plant time the poll's request went out (None: ``ts``, as for an import). The device read
    #: its counters somewhere between request and answer, and ``ts`` is taken once the answer
    #: is handled, so an agent descheduled after an answer stamps it late: the time between two
    #: readings of a counter is at most this answer's ``ts`` less the previous ``asked_ts``.
    asked_ts: float | None = None


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """A counter's register width, for rollover (16 rolls over after 65535)."""

    width_bits: int


@dataclass(frozen=True)
class KpiSpec:
    """What the engine must know of one device."""

    device_id: str
    config_digest: str
    window_s: int = 60
    max_gap_s: float = 5.0
    ideal_cycle_s: float | None = None
    has_state: bool = True
    #: The device has a ``state:`` block, so some of its states may be inferred: its windows
    #: carry ``inferred_planned_s`` (0 when every state came from a code); None otherwise.
    infers_state: bool = False
    counters: dict[str, CounterSpec] = field(default_factory=dict)
    energy_source: str | None = None  # "meter", "power" or None
    #: An integer meter register that rolls over: its width, and kWh per raw unit.
    energy_meter_width: int | None = None
    energy_meter_scale: float = 1.0
    schedule: ScheduleFn = always_scheduled
    #: ``imported`` for windows built from a historian export (``retrofit-agent import``).
    provenance: Literal["measured", "imported"] = "measured"
    #: Plant seconds by which a sample's time may disagree with its monotonic reading before
    #: it counts as a clock jump: CLOCK_JUMP_TOLERANCE_S wall seconds times the clock's speed.
    #: At 50,000x a 2-s tolerance would be 40 us of wall time, less than the gap between the
    #: two clock readings of one poll when the process is preempted.
    clock_jump_tolerance_s: float = CLOCK_JUMP_TOLERANCE_S


def counter_delta(
    previous: int, current: int, width_bits: int, max_plausible: int | None
) -> tuple[int, str | None]:
    """Parts counted between two raw counter values, and what went wrong if anything.

    Returns ``(delta, None)``, ``(delta, "reset")`` when the counter dropped and a rollover
    would be implausible (counting restarts from zero: delta = current), or ``(0, "preset")``
    when it jumped up by more than ``max_plausible``. Never negative.
    """
    span = 1 << width_bits
    limit = span // 2 if max_plausible is None else min(max_plausible, span // 2)
    if current >= previous:
        delta = current - previous
        if max_plausible is not None and delta > max_plausible:
            return 0, "preset"
        return delta, None
    rolled = current + span - previous
    if rolled <= limit:
        return rolled, None
    return current, "reset"


def complete_counts(
    total: int | None, good: int | None, reject: int | None
) -> tuple[int | None, int | None, int | None]:
    """``(total, good, reject)`` parts with the missing one of three derived from the other two.

    Never below zero (a good counter ahead of the total gives no negative rejects); with two or
    more missing, they stay None. The live windows and imported ones both count this way.
    """
    if good is None and total is not None and reject is not None:
        good = max(total - reject, 0)
    elif total is None and good is not None and reject is not None:
        total = good + reject
    elif reject is None and total is not None and good is not None:
        reject = max(total - good, 0)
    return total, good, reject


@dataclass
class _Window:
    start: float
    end: float
    scheduled: Sequence[tuple[float, float]]
    states: dict[MachineState, float] = field(default_factory=dict)
    planned_s: float = 0.0
    #: The part of ``planned_s`` held in a state that was inferred, not read from a code.
    inferred_planned_s: float = 0.0
    comm_loss_s: float = 0.0
    scheduled_comm_loss_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    #: The part of ``counts`` whose difference spanned comm loss (made while unobserved).
    unobserved: dict[str, int] = field(default_factory=dict)
    #: Held time in a state other than running that the counted parts may have run in.
    unsampled_run_s: float = 0.0
    energy_kwh: float = 0.0
    samples: int = 0
    missed_polls: int = 0
    bad_values: int = 0
    counter_resets: int = 0
    meter_resets: int = 0
    clock_jumps: int = 0

    def scheduled_within(self, low: float, high: float) -> float:
        return sum(max(0.0, min(b, high) - max(a, low)) for a, b in self.scheduled)


_COUNTER_ROLES = quantities.COUNTS


class WindowBuilder:
    """Accumulates one device's samples into windows and hands out the closed ones.

    ``resume_from`` is where the previous run's last window ended (from the outbox): time from
    there to the first sample becomes communication loss, so an agent outage shows as a gap
    in coverage instead of vanishing. Without it the first window starts at the first sample.
    """

    def __init__(self, spec: KpiSpec, *, resume_from: float | None = None) -> None:
        self.spec = spec
        if resume_from is not None:
            resume_from = _floor_ms(resume_from)  # window edges travel at ms precision
        self._cursor = resume_from  # time up to which every second has been attributed
        self._windows: dict[float, _Window] = {}
        self._last: Sample | None = None
        self._last_good: dict[str, tuple[float, float]] = {}  # role -> (ts, raw value)
        self._comm_loss_s = 0.0  # comm loss attributed so far: a counter read marks it
        self._comm_loss_at_read: dict[str, float] = {}  # role -> _comm_loss_s at its last read
        # Pieces of time held in a state other than running since the counters were last read,
        # (window, seconds) in time order: the run time a counter advance may have used.
        self._held_not_running: list[tuple[_Window, float]] = []
        self._counting = bool(spec.counters)
        if resume_from is not None:  # the previous run may have ended mid-window (partial)
            self._window_at(resume_from).start = resume_from

    # --- input ----------------------------------------------------------------------------

    def add(self, sample: Sample) -> None:
        """Account for one poll. Samples must come in plant-time order; see clock jumps."""
        if self._cursor is None:  # first sample of a fresh start: the first window begins here
            self._cursor = _floor_ms(sample.ts)
            self._window_at(self._cursor).start = self._cursor
        if not sample.answered:
            self._window_at(max(sample.ts, self._cursor)).missed_polls += 1
            self._fill_comm_loss_if_stale(sample.ts)
            return
        previous = self._last
        jumped = previous is not None and self._clock_jumped(previous, sample)
        if previous is not None and not jumped and sample.ts > self._cursor:
            gap = sample.ts - previous.ts
            holding = None if gap > self.spec.max_gap_s else previous
            self._attribute(self._cursor, sample.ts, holding)
            self._cursor = sample.ts
        elif previous is None and sample.ts > self._cursor:
            self._attribute(self._cursor, sample.ts, None)  # resumed: unknown until now
            self._cursor = sample.ts
        elif jumped and sample.ts > self._cursor:
            self._attribute(self._cursor, sample.ts, None)
            self._cursor = sample.ts
        window = self._window_at(max(sample.ts, self._cursor))
        window.samples += 1
        window.bad_values += sample.bad_values
        if jumped:
            window.clock_jumps += 1
        self._count(sample, window)
        self._last = sample

    def close_due(self, now: float) -> list[wire.KpiWindow]:
        """Windows complete by ``now``: every second in them attributed. Oldest first."""
        self._fill_comm_loss_if_stale(now)
        if self._cursor is None:
            return []
        done = sorted(s for s, w in self._windows.items() if w.end <= self._cursor)
        if done:  # a closed window takes no more: its pieces are past crediting
            cursor = self._cursor
            self._held_not_running = [p for p in self._held_not_running if p[0].end > cursor]
        return [self._close(self._windows.pop(s)) for s in done]

    def close_partial(self, now: float) -> list[wire.KpiWindow]:
        """On shutdown: everything due, then the open window cut at ``now`` (so partial).

        A window that ended at or before ``now`` but was still open (the stop came before the
        poll that would have closed it) is closed whole: it covers its span, so it is not partial.
        A poll exactly at ``now`` on a window edge has opened the next window with its sample and
        the parts counted since the poll before: the cut then ends 1 ms later, so that window
        closes (1 ms long, partial) instead of being dropped with its parts.
        """
        closed = self.close_due(now)
        if self._cursor is None:
            return closed
        end = _floor_ms(now)
        if any(w.start >= end and (w.samples or w.missed_polls) for w in self._windows.values()):
            end = _floor_ms(end + 0.001)
        if end > self._cursor:
            last = self._last
            stale = last is None or end - last.ts > self.spec.max_gap_s
            self._attribute(self._cursor, end, None if stale else last)
            self._cursor = end
        for start in sorted(self._windows):
            window = self._windows.pop(start)
            if window.start < end:
                window.end = min(window.end, end)
                closed.append(self._close(window))
        return closed

    @property
    def attributed_until(self) -> float | None:
        """Plant time up to which every second is in some window."""
        return self._cursor

    # --- time -----------------------------------------------------------------------------

    def _clock_jumped(self, previous: Sample, sample: Sample) -> bool:
        if sample.ts < previous.ts:
            return True
        if previous.mono is None or sample.mono is None:
            return False
        wall, mono = sample.ts - previous.ts, sample.mono - previous.mono
        return abs(wall - mono) > self.spec.clock_jump_tolerance_s

    def _fill_comm_loss_if_stale(self, now: float) -> None:
        # Once the last sample is older than the allowed gap, the whole gap will be comm loss
        # whatever comes next, so windows can close now instead of waiting for the device.
        last = self._last
        if self._cursor is None or now <= self._cursor:
            return
        if last is None or now - last.ts > self.spec.max_gap_s:
            self._attribute(self._cursor, now, None)
            self._cursor = now

    def _window_at(self, ts: float) -> _Window:
        size = self.spec.window_s
        start = math.floor(ts / size) * size
        window = self._windows.get(start)
        if window is None:
            end = start + size
            window = _Window(start, end, self.spec.schedule(start, end))
            self._windows[start] = window
        return window

    def _attribute(self, low: float, high: float, holding: Sample | None) -> None:
        """Give ``[low, high)`` to the state of ``holding`` (None: comm loss), window by window."""
        while low < high:
            window = self._window_at(low)
            piece_end = min(high, window.end)
            self._attribute_piece(window, low, piece_end, holding)
            if holding is not None and holding.power_kw is not None:
                self._integrate_power(window, low, piece_end, holding)
            low = piece_end

    def _attribute_piece(
        self, window: _Window, low: float, high: float, holding: Sample | None
    ) -> None:
        length = high - low
        scheduled = window.scheduled_within(low, high)
        if holding is None or (self.spec.has_state and holding.state is None):
            window.comm_loss_s += length
            self._comm_loss_s += length
            window.scheduled_comm_loss_s += scheduled
            self._held_not_running.clear()  # a count across comm loss is unobserved instead
            return
        state = holding.state
        if state is None:  # a device without a state tag: only the schedule is known
            window.planned_s += scheduled
            return
        window.states[state] = window.states.get(state, 0.0) + length
        if state is not MachineState.RUNNING and self._counting:
            self._held_not_running.append((window, length))
        planned = length if state is MachineState.RUNNING else scheduled
        if state is not MachineState.PLANNED_STOP:
            window.planned_s += planned
            if holding.state_inferred:  # inference never says down: ADOT not measured here
                window.inferred_planned_s += planned

    def _integrate_power(self, window: _Window, low: float, high: float, holding: Sample) -> None:
        if self.spec.energy_source != "power" or holding.power_kw is None:
            return
        window.energy_kwh += max(0.0, holding.power_kw) * (high - low) / 3600.0

    # --- counters and energy --------------------------------------------------------------

    def _max_plausible(self, since: float, now: float) -> int | None:
        if self.spec.ideal_cycle_s is None:
            return None
        # Ten times the ideal rate plus ten parts: no machine beats its ideal cycle by that,
        # while a value that arrives late (an OPC UA subscription's sampling and publishing
        # intervals, a slow poll) can show several cycles at once. An operator's preset jumps
        # by far more. Tighter bounds mistook late values for presets and lost real parts.
        elapsed = max(0.0, now - since)
        return math.ceil(PRESET_RATE_FACTOR * elapsed / self.spec.ideal_cycle_s) + PRESET_SLACK

    def _count(self, sample: Sample, window: _Window) -> None:
        pending = self._held_not_running  # held time a counter advance may have used
        deltas: dict[str, int] | None = {} if pending else None
        read = across_loss = False
        for role in _COUNTER_ROLES:
            spec = self.spec.counters.get(role)
            value: int | None = getattr(sample, role)
            if spec is None or value is None:
                continue
            read = True
            previous = self._last_good.get(role)
            # From when this poll asked: the longest the next reading can be after this one.
            asked = sample.ts if sample.asked_ts is None else min(sample.asked_ts, sample.ts)
            self._last_good[role] = (asked, value)
            lost_before = self._comm_loss_at_read.get(role, self._comm_loss_s)
            self._comm_loss_at_read[role] = self._comm_loss_s
            if previous is None:
                continue
            since, raw = previous
            delta, fault = counter_delta(
                int(raw), value, spec.width_bits, self._max_plausible(since, sample.ts)
            )
            window.counts[role] = window.counts.get(role, 0) + delta
            if deltas is not None:
                deltas[role] = delta
            if self._comm_loss_s > lost_before:  # the parts were made (partly) while unobserved
                window.unobserved[role] = window.unobserved.get(role, 0) + delta
                across_loss = True
            if fault is not None:
                window.counter_resets += 1
        if pending and read:  # the held time before this read is settled, credited or not
            if deltas and not across_loss and any(deltas.values()):
                self._credit_unsampled_run(_parts_made(deltas))
            pending.clear()
        if self.spec.energy_source == "meter":
            self._meter(sample, window)

    def _credit_unsampled_run(self, parts: int) -> None:
        """Give the held-not-running time since the counters' last read, up to what ``parts``
        need at the ideal cycle, to ``unsampled_run_s``: the latest pieces first (the machine
        ran up to the poll that counted them)."""
        if parts <= 0 or not self._held_not_running:
            return
        held = sum(length for _, length in self._held_not_running)
        ideal = self.spec.ideal_cycle_s
        left = held if ideal is None else min(held, ideal * parts)
        for window, length in reversed(self._held_not_running):
            if left <= 0:
                break
            credit = min(length, left)
            window.unsampled_run_s += credit
            left -= credit

    def _meter(self, sample: Sample, window: _Window) -> None:
        width = self.spec.energy_meter_width
        if width is not None and sample.energy_meter_raw is not None:
            # An integer register (e.g. Wh in a uint32): rollover on the raw value, then scale.
            previous = self._last_good.get("energy")
            self._last_good["energy"] = (sample.ts, sample.energy_meter_raw)
            if previous is not None:
                delta, fault = counter_delta(int(previous[1]), sample.energy_meter_raw, width, None)
                window.energy_kwh += delta * self.spec.energy_meter_scale
                window.meter_resets += fault is not None
            return
        if width is None and sample.energy_meter_kwh is not None:
            previous = self._last_good.get("energy")
            self._last_good["energy"] = (sample.ts, sample.energy_meter_kwh)
            if previous is not None:
                delta_kwh = sample.energy_meter_kwh - previous[1]
                if delta_kwh < 0:  # meter reset or replaced: count from zero, flag it
                    window.meter_resets += 1
                    delta_kwh = sample.energy_meter_kwh
                window.energy_kwh += delta_kwh

    # --- output ---------------------------------------------------------------------------

    def _counts(
        self, window: _Window, *, unobserved: bool = False
    ) -> tuple[int | None, int | None, int | None]:
        counts = window.unobserved if unobserved else window.counts

        def measured(role: str) -> int | None:
            return counts.get(role, 0) if role in self.spec.counters else None

        return complete_counts(
            measured("total_count"), measured("good_count"), measured("reject_count")
        )

    def _close(self, window: _Window) -> wire.KpiWindow:
        states = window.states if self.spec.has_state else None
        total, good, reject = self._counts(window)
        unobserved_total, unobserved_good, _ = self._counts(window, unobserved=True)
        ideal = self.spec.ideal_cycle_s
        ideal_good_s = None
        if ideal is not None and good is not None:
            ideal_good_s = ideal * max(good - (unobserved_good or 0), 0)

        def state_s(state: MachineState) -> float | None:
            return None if states is None else wire_float(states.get(state, 0.0), 6)

        scheduled_s = window.scheduled_within(window.start, window.end)
        return wire.KpiWindow(
            device=self.spec.device_id,
            start=_utc(window.start),
            end=_utc(window.end),
            provenance=self.spec.provenance,
            # Partial means cut short by an agent start or stop (docs/wire-contract.md): shorter
            # than its aligned span. A start on an edge or a stop after one cuts nothing.
            partial=window.end - window.start < self.spec.window_s,
            config_digest=self.spec.config_digest,
            scheduled_s=wire_float(scheduled_s, 6),
            planned_s=wire_float(window.planned_s, 6),
            run_s=state_s(MachineState.RUNNING),
            idle_s=state_s(MachineState.IDLE),
            down_s=state_s(MachineState.DOWN),
            off_s=state_s(MachineState.OFF),
            planned_stop_s=state_s(MachineState.PLANNED_STOP),
            total_count=total,
            good_count=good,
            reject_count=reject,
            energy_kwh=wire_float(window.energy_kwh, 9) if self.spec.energy_source else None,
            ideal_good_s=ideal_good_s,
            unobserved_count=None if total is None else min(unobserved_total or 0, total),
            unsampled_run_s=(
                round(window.unsampled_run_s, 6)
                if self.spec.has_state and self.spec.counters
                else None
            ),
            inferred_planned_s=(
                wire_float(min(window.inferred_planned_s, window.planned_s), 6)
                if self.spec.infers_state
                else None
            ),
            ideal_cycle_s=self.spec.ideal_cycle_s,
            quality=wire.DataQuality(
                samples=window.samples,
                missed_polls=window.missed_polls,
                bad_values=window.bad_values,
                comm_loss_s=wire_float(window.comm_loss_s, 6),
                scheduled_comm_loss_s=wire_float(
                    min(window.scheduled_comm_loss_s, window.comm_loss_s, scheduled_s), 6
                ),
                counter_resets=window.counter_resets,
                meter_resets=window.meter_resets,
                clock_jumps=window.clock_jumps,
            ),
        )


def _parts_made(deltas: dict[str, int]) -> int:
    """Parts completed over one counter difference: the total, or good + reject, or the most
    any counter read says."""
    total, _, _ = complete_counts(
        deltas.get("total_count"), deltas.get("good_count"), deltas.get("reject_count")
    )
    return total if total is not None else max(deltas.values())


def _floor_ms(ts: float) -> float:
    # The 1-us nudge absorbs float noise (T0 + 0.05 is stored a hair below), so a time that is
    # meant to be on a millisecond is not floored to the one before.
    return math.floor(ts * 1000 + 1e-3) / 1000


def wire_float(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` decimals for the wire, never ``-0.0``.

    A tiny negative float noise (-1e-12 s from subtracting edges) rounds to ``-0.0``, which the
    wire refuses (InfluxDB would store it as ``-0`` and the window would no longer rebuild to
    its signed bytes); adding ``0.0`` turns it into ``0.0`` and changes no other value.
    """
    return round(value, digits) + 0.0


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts * 1000) / 1000, UTC)
