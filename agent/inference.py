"""A machine state inferred from power or current, a run signal and counter activity. Pure.

For machines with no state code (docs/kpi.md "Inferred state"). A device's
:class:`StateInference` is fed every poll's readings and keeps what inference needs to
remember: the level's Schmitt class (hysteresis), the part counter's last value and when it
last advanced, and the dwell filter. The precedence, first usable source wins:

1. a state tag whose reading is usable (decided in ``agent.samples``, never here);
2. the level (power or current) below off: ``off``;
3. the run signal: ``running`` when it equals ``running_when``, else ``idle``;
4. the level's class with ``running_above`` set: ``idle`` or ``running``;
5. counter activity: ``running`` while the total count advanced within ``within_cycles`` x
   ``ideal_cycle_s`` (W), from W - 1 ideal cycle after the poll that saw the spell's first
   part (so a spell is timed from its first and last part), else ``idle``;
6. the level alone (above off, no running source): ``idle``;
7. nothing usable: None, which the KPI engine counts as communication loss.

Inference never says ``down`` or ``planned_stop``: a power meter cannot tell a breakdown from
waiting, and inside the calendar idle and off count against availability exactly as down does.
A level reading that is not a finite number between ``-hysteresis`` and ``implausible_above``
is garbage from the meter: a bad value, never a state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from agent.config import (
    DeviceConfig,
    LevelConfig,
    MachineState,
    Role,
    StateInferenceConfig,
    TagConfig,
)
from agent.kpi import counter_delta
from agent.sources.base import Quality, Reading

__all__ = ["Inferred", "StateInference", "make_inference"]

_OFF, _IDLE, _RUNNING = MachineState.OFF, MachineState.IDLE, MachineState.RUNNING


@dataclass(frozen=True, slots=True)
class Inferred:
    """One poll's inferred state (None: nothing usable), the level tags found bad, and why."""

    state: MachineState | None
    bad_tags: tuple[str, ...] = ()
    why: str = ""

    @property
    def bad(self) -> int:
        """Readings that were garbage for inference (implausible levels)."""
        return len(self.bad_tags)


class _Schmitt:
    """A level's class with hysteresis: a class is left only past its far edge."""

    def __init__(self, level: LevelConfig) -> None:
        self.level = level
        self.state: MachineState | None = None

    def classify(self, value: float) -> MachineState:
        """The class of ``value`` given the class held so far (the first value: no hysteresis)."""
        level, held = self.level, self.state
        falling = held is not None and held is not _OFF
        off_edge = level.off_below - level.hysteresis if falling else level.off_below
        top = level.running_above
        if value < off_edge:
            self.state = _OFF
        elif top is None:
            self.state = _IDLE
        else:
            run_edge = top - level.hysteresis if held is _RUNNING else top
            self.state = _RUNNING if value >= run_edge else _IDLE
        return self.state


class _Dwell:
    """A new candidate state is adopted once the polls that saw it in a row stand for
    ``min_dwell_s`` (plant seconds), each for the poll interval ``poll_s`` that follows it.

    Why count the interval a poll stands for (docs/kpi.md, "Dwell"): sample and hold gives each
    poll's state the interval after it, so a state seen at ``m`` polls in a row is held ``m``
    poll intervals. Counted from the first of those polls alone, a dwell shorter than a poll
    still asked for a second poll: every spell shorter than one poll was dropped, and some up
    to two, always into the longer spells around them. At the demo's 600-s polls a 6-s dwell
    so dropped 26 % of the idle time (warm-ups of 300 s, idle spells of 10-15 minutes) into
    run time. Now the ``ceil(D / p)``-th poll in a row adopts it (the first when ``D <= p``):
    at 1-s polls and ``D`` 6 s a state must be seen for 5 s, over any 3-s inrush.
    """

    def __init__(self, min_dwell_s: float, poll_s: float) -> None:
        self.min_dwell_s = min_dwell_s
        self.poll_s = poll_s
        self.confirmed: MachineState | None = None
        self._candidate: MachineState | None = None
        self._since = 0.0

    def filter(self, candidate: MachineState | None, ts: float) -> MachineState | None:
        """The confirmed state after this poll's ``candidate`` at plant time ``ts``."""
        if candidate is None or self.confirmed is None:
            # Nothing usable forgets the past; the first state after start or loss is taken at
            # once (holding back would leave the time unattributed, i.e. comm loss, anyway).
            self.confirmed, self._candidate = candidate, None
            return candidate
        if candidate is self.confirmed:
            self._candidate = None
            return candidate
        if candidate is not self._candidate:
            self._candidate, self._since = candidate, ts
        if ts - self._since + self.poll_s >= self.min_dwell_s:
            self.confirmed, self._candidate = candidate, None
        return self.confirmed


class _CounterActivity:
    """Whether the total count advanced within ``within_s`` before a poll (rollover-aware),
    running said only ``hold_s`` after the poll that saw the spell's first part.

    Why the hold (docs/kpi.md, "How close the inferred times are"): running is lost only
    ``within_s`` after the poll that saw the last part, but seen at the poll after the first
    part, so unheld every running spell came out about ``within_s`` - 1 cycle too long (62 s a
    spell with 3 cycles, measured). Held back by ``within_s`` - 1 ideal cycle, a spell is
    inferred as long as its parts prove: from one ideal cycle before its first part to its
    last part (the poll grid adds the same half poll at both ends), never longer on average.
    """

    def __init__(self, tag: tuple[str, TagConfig], within_s: float, ideal_cycle_s: float) -> None:
        self.tag, self._config = tag
        self.width_bits = self._config.width or 64
        self.within_s = within_s
        self.hold_s = max(0.0, within_s - ideal_cycle_s)
        self._last: int | None = None
        self._advanced_at: float | None = None
        self._spell_from: float | None = None  # the poll that saw the spell's first part

    def active(self, reading: Reading | None, ts: float) -> bool | None:
        """True/False once two values have been seen; None while the counter is unusable."""
        raw = _native_int(reading, self._config)
        if raw is None:
            return None
        previous, self._last = self._last, raw
        if previous is None:
            return None  # one value says nothing of activity
        delta, fault = counter_delta(previous, raw, self.width_bits, None)
        if delta > 0 and fault is None:  # a reset to zero is an operator, not a part
            self._advanced_at = ts
        if self._advanced_at is None or ts - self._advanced_at > self.within_s:
            self._spell_from = None
            return False
        if self._spell_from is None:
            self._spell_from = ts
        return ts - self._spell_from >= self.hold_s


class StateInference:
    """One device's inferred state, poll by poll; see the module docstring for the rules."""

    def __init__(self, config: StateInferenceConfig, device: DeviceConfig) -> None:
        self.config = config
        level = config.level
        self._level = None if level is None else _Schmitt(level)
        self._level_name = config.level_name
        self._dwell = _Dwell(config.min_dwell_s, device.poll_interval_s)
        self._counter: _CounterActivity | None = None
        counter_tag = device.role_tag(Role.TOTAL_COUNT)
        if config.counter is not None and counter_tag is not None and device.ideal_cycle_s:
            within_s = config.counter.within_cycles * device.ideal_cycle_s
            self._counter = _CounterActivity(counter_tag, within_s, device.ideal_cycle_s)

    def update(self, readings: Iterable[Reading], ts: float) -> Inferred:
        """This poll's state at plant time ``ts``, after hysteresis and dwell."""
        by_tag = {reading.tag: reading for reading in readings}
        candidate = self._candidate(by_tag, ts, self._level)
        state = self._dwell.filter(candidate.state, ts)
        if state is not candidate.state and candidate.state is not None:
            why = f"{state} held ({candidate.state} for less than {self.config.min_dwell_s:g} s)"
            return Inferred(state, candidate.bad_tags, why)
        return candidate

    def classify_once(self, readings: Iterable[Reading]) -> Inferred:
        """One reading's state with no memory: no hysteresis, no dwell, no counter activity."""
        by_tag = {reading.tag: reading for reading in readings}
        level = None if self.config.level is None else _Schmitt(self.config.level)
        return self._candidate(by_tag, None, level)

    def _candidate(
        self, by_tag: Mapping[str, Reading], ts: float | None, level: _Schmitt | None
    ) -> Inferred:
        bad: tuple[str, ...] = ()
        level_class: MachineState | None = None
        shown = ""
        if level is not None:
            value = _number(by_tag.get(level.level.tag))
            if value is not None and not _plausible(value, level.level):
                bad, shown = (level.level.tag,), f"{self._level_name} {value:g} implausible; "
                value = None
            if value is not None:
                level_class = level.classify(value)
                shown = f"{self._level_name} {value:g}"
        if level_class is _OFF:
            return Inferred(_OFF, bad, f"{shown} below off_below")
        signal = self._signal(by_tag)
        if signal is not None:
            return Inferred(_RUNNING if signal else _IDLE, bad, f"run signal {signal}")
        if level_class is not None and level is not None and level.level.running_above is not None:
            return Inferred(level_class, bad, f"{shown}: {level_class}")
        active = None
        if self._counter is not None and ts is not None:
            active = self._counter.active(by_tag.get(self._counter.tag), ts)
        if active is not None:
            return Inferred(_RUNNING if active else _IDLE, bad, f"counter active: {active}")
        if level_class is not None:
            return Inferred(_IDLE, bad, f"{shown}: powered")
        return Inferred(None, bad, f"{shown}no usable signal")

    def _signal(self, by_tag: Mapping[str, Reading]) -> bool | None:
        """Whether the run signal says running; None when there is none or it is unusable."""
        signal = self.config.run_signal
        if signal is None:
            return None
        reading = by_tag.get(signal.tag)
        if reading is None or reading.quality is Quality.BAD or reading.value is None:
            return None
        value = reading.value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, bool | int):
            return None
        return value == signal.running_when


def make_inference(device: DeviceConfig) -> StateInference | None:
    """The device's inference if it has a ``state`` block, else None."""
    return None if device.state is None else StateInference(device.state, device)


def _number(reading: Reading | None) -> float | None:
    if reading is None or reading.quality is Quality.BAD:
        return None
    value = reading.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _native_int(reading: Reading | None, tag: TagConfig) -> int | None:
    """The device's own counter value (before scale and offset): it rolls over on that."""
    value = _number(reading)
    if value is None:
        return None
    native = (value - tag.offset) / tag.scale
    return round(native) if math.isfinite(native) else None


def _plausible(value: float, level: LevelConfig) -> bool:
    return math.isfinite(value) and -level.hysteresis <= value <= level.implausible_limit
