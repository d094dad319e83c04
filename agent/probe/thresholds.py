"""Suggest a ``state:`` block's level thresholds from a minute of readings. Pure: values in.

``retrofit-agent probe state`` reads a power (or current) tag while the installer runs the
machine through off, idle and running; this module turns those readings into thresholds
(docs/installers.md, "A machine with no controller"). The conventions, each with its reason:

- **Transients first.** A reading more than ``TRANSIENT_MARGIN`` (50 %) above the median of the
  ``EXCURSION_S`` seconds both before and after it is an excursion (the inrush at power-on, a
  motor start): it is left out of the levels, or it would become a class of its own.
- **Levels: Otsu's method, multi-level and exhaustive.** The steady readings are sorted and cut
  into three classes at the pair of cut points that maximises the between-class variance (the
  same as minimising the within-class sum of squares); with a few hundred readings every pair
  can be tried. A split is accepted only if each class holds at least ``MIN_CLASS_READINGS`` and
  the gap between neighbouring class means exceeds ``SEPARATION`` (6) times the larger of the
  two classes' standard deviations: a split of one noisy level in two fails that test. Failing
  three classes, two are tried (off and one powered level), then one.
- **Thresholds at the gaps' midpoints.** A gap is the empty interval between the highest
  reading of a class and the lowest of the next; its midpoint is the rising edge.
  ``hysteresis`` is a third of the smaller gap (a falling value leaves a class a third of a gap
  below its edge: still inside the gap, so noise never flaps). ``implausible_above`` is 10 x
  the highest class mean (the config's own default factor, ``IMPLAUSIBLE_FACTOR``).
- **Dwell above the inrush.** ``min_dwell_s`` = max(3 x the reading interval, 2 x the longest
  excursion seen, 2 x the device's ``poll_interval_s``), rounded up to a whole second: an
  inrush never confirms a state, and one noisy poll cannot switch it: a new state needs the
  polls in a row that stand for the dwell, two at least (the configuration warns at one).

A lowest level entirely below zero gives no block: power reads negative when a current
transformer is reversed, and the configuration's edges must be positive.

Numbers are rounded to a step a tenth of the smaller gap's order of magnitude, so the printed
block reads cleanly and its edges stay inside the gaps.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from agent.config.state import IMPLAUSIBLE_FACTOR

__all__ = [
    "EXCURSION_S",
    "MIN_CLASS_READINGS",
    "SEPARATION",
    "TRANSIENT_MARGIN",
    "LevelClass",
    "Sample",
    "Suggestion",
    "otsu_split",
    "suggest_thresholds",
    "transients",
]

#: Window (s) each side of a reading whose median it is compared with to call it an excursion.
EXCURSION_S = 20.0
#: How far above both neighbouring medians (as a fraction of the higher) an excursion reads.
TRANSIENT_MARGIN = 0.5
#: Fewest readings a class may hold.
MIN_CLASS_READINGS = 3
#: Neighbouring class means must be this many standard deviations apart.
SEPARATION = 6.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of the level tag: seconds (any origin) and the value in the tag's unit."""

    ts: float
    value: float


@dataclass(frozen=True, slots=True)
class LevelClass:
    """One steady level found in the readings."""

    low: float
    high: float
    mean: float
    stdev: float
    count: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    """What the readings support: the levels, thresholds (None where unsupported), and advice.

    ``off_below`` is None with fewer than two levels; ``running_above`` None with fewer than
    three. ``advice`` says what was seen and, when a threshold is missing, what to do.
    """

    levels: tuple[LevelClass, ...]
    transient_count: int
    longest_excursion_s: float
    off_below: float | None
    running_above: float | None
    hysteresis: float | None
    implausible_above: float | None
    min_dwell_s: float
    advice: str


def transients(samples: Sequence[Sample]) -> list[bool]:
    """For each sample (in time order), whether it is an excursion above its surroundings."""
    flags: list[bool] = []
    for sample in samples:
        before = [s.value for s in samples if sample.ts - EXCURSION_S <= s.ts < sample.ts]
        after = [s.value for s in samples if sample.ts < s.ts <= sample.ts + EXCURSION_S]
        around = [statistics.median(side) for side in (before, after) if side]
        if not around:
            flags.append(False)
            continue
        reference = max(around)
        flags.append(sample.value > reference + TRANSIENT_MARGIN * abs(reference))
    return flags


def _excursion_lengths(
    samples: Sequence[Sample], flags: Sequence[bool], interval_s: float
) -> list[float]:
    """The duration of each run of consecutive excursion samples (one interval per sample)."""
    lengths: list[float] = []
    start: float | None = None
    last = 0.0
    for sample, flag in zip(samples, flags, strict=True):
        if flag:
            start = sample.ts if start is None else start
            last = sample.ts
        elif start is not None:
            lengths.append(last - start + interval_s)
            start = None
    if start is not None:
        lengths.append(last - start + interval_s)
    return lengths


def otsu_split(values: Sequence[float], classes: int) -> list[tuple[int, int]] | None:
    """Cut sorted ``values`` into ``classes`` (1..3) contiguous index ranges ``[start, end)``
    with the least within-class sum of squares, each range at least ``MIN_CLASS_READINGS``
    long; None when there are too few values."""
    count = len(values)
    if classes < 1 or count < classes * MIN_CLASS_READINGS:
        return None
    sums = [0.0]
    squares = [0.0]
    for value in values:
        sums.append(sums[-1] + value)
        squares.append(squares[-1] + value * value)

    def sse(start: int, end: int) -> float:
        total = sums[end] - sums[start]
        return squares[end] - squares[start] - total * total / (end - start)

    least = MIN_CLASS_READINGS
    if classes == 1:
        return [(0, count)]
    if classes == 2:
        cut = min(range(least, count - least + 1), key=lambda i: sse(0, i) + sse(i, count))
        return [(0, cut), (cut, count)]
    best: tuple[float, int, int] | None = None
    for first in range(least, count - 2 * least + 1):
        for second in range(first + least, count - least + 1):
            cost = sse(0, first) + sse(first, second) + sse(second, count)
            if best is None or cost < best[0]:
                best = (cost, first, second)
    if best is None:
        return None
    _, first, second = best
    return [(0, first), (first, second), (second, count)]


def _level(values: Sequence[float]) -> LevelClass:
    stdev = statistics.pstdev(values) if len(values) > 1 else 0.0
    return LevelClass(values[0], values[-1], statistics.fmean(values), stdev, len(values))


def _separated(levels: Sequence[LevelClass]) -> bool:
    """Whether neighbouring class means are more than SEPARATION spreads apart."""
    return all(
        upper.mean - lower.mean > SEPARATION * max(lower.stdev, upper.stdev)
        and upper.low > lower.high
        for lower, upper in itertools.pairwise(levels)
    )


def _levels(values: Sequence[float]) -> tuple[LevelClass, ...]:
    """The most classes (3, 2, then 1) the sorted ``values`` support."""
    for classes in (3, 2):
        ranges = otsu_split(values, classes)
        if ranges is None:
            continue
        levels = tuple(_level(values[start:end]) for start, end in ranges)
        if _separated(levels):
            return levels
    return (_level(values),) if values else ()


def _round_step(smallest_gap: float) -> float:
    return 10.0 ** math.floor(math.log10(smallest_gap / 10))


def _rounded(value: float, step: float) -> float:
    return round(round(value / step) * step, 10)


def suggest_thresholds(
    samples: Sequence[Sample], interval_s: float, poll_interval_s: float = 0.0
) -> Suggestion:
    """Thresholds for a ``state:`` level block from ``samples`` read every ``interval_s`` s,
    for a device polled every ``poll_interval_s``.

    See the module docstring for the method. Never raises: with fewer than three levels the
    suggestion's missing thresholds are None and ``advice`` says what to do.
    """
    ordered = sorted(samples, key=lambda sample: sample.ts)
    flags = transients(ordered)
    lengths = _excursion_lengths(ordered, flags, interval_s)
    longest = max(lengths, default=0.0)
    dwell = float(math.ceil(max(3 * interval_s, 2 * longest, 2 * poll_interval_s)))
    steady = sorted(s.value for s, flag in zip(ordered, flags, strict=True) if not flag)
    levels = _levels(steady)
    seen = ", ".join(f"{level.mean:.3g} ({level.count} readings)" for level in levels) or "none"
    if len(levels) < 2:
        advice = (
            f"one steady level seen: {seen}; run the machine through off, idle and running "
            "while probing, or take the levels from its nameplate"
        )
        if not levels:
            advice = "no usable readings; check the tag with check-config and probe again"
        return Suggestion(levels, sum(flags), longest, None, None, None, None, dwell, advice)
    if levels[0].high < 0:
        advice = (
            f"levels seen: {seen}; the lowest is below zero: a current transformer is reversed "
            "or on the wrong phase. Fix the wiring (arrows towards the load) and probe again"
        )
        return Suggestion(levels, sum(flags), longest, None, None, None, None, dwell, advice)
    gaps = [upper.low - lower.high for lower, upper in itertools.pairwise(levels)]
    step = _round_step(min(gaps))
    edges = [_rounded(lower.high + gap / 2, step) for lower, gap in zip(levels, gaps, strict=False)]
    hysteresis = _rounded(min(gaps) / 3, step)
    implausible = _rounded(IMPLAUSIBLE_FACTOR * levels[-1].mean, step)
    running = edges[1] if len(edges) > 1 else None
    advice = f"levels seen: {seen}"
    if running is None:
        advice += (
            "; only two levels: off_below is set, running_above is not (the upper level may be "
            "idle or running). Run the machine through off, idle and running while probing, "
            "or add a run_signal or counter to tell running"
        )
    return Suggestion(
        levels, sum(flags), longest, edges[0], running, hysteresis, implausible, dwell, advice
    )
