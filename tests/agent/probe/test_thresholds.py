"""``agent.probe.thresholds``: level thresholds suggested from a probe's readings (pure)."""

from __future__ import annotations

import random

from agent.config.state import LevelConfig
from agent.probe.thresholds import Sample, otsu_split, suggest_thresholds, transients

INTERVAL_S = 0.5


def noisy(rng: random.Random, start_ts: float, seconds: float, level_kw: float) -> list[Sample]:
    """Readings every INTERVAL_S of a level with the simulator's meter noise (2 % + 0.05 kW)."""
    spread = 0.02 * level_kw + 0.05
    count = round(seconds / INTERVAL_S)
    return [
        Sample(start_ts + i * INTERVAL_S, level_kw + rng.uniform(-spread, spread))
        for i in range(count)
    ]


def off_idle_running(rng: random.Random, inrush_kw: float | None) -> list[Sample]:
    """20 s off (0.3 kW standby), 2 s inrush, 20 s idle (3 kW), 20 s running (10.2 kW)."""
    samples = noisy(rng, 0.0, 20.0, 0.3)
    idle_from = 20.0
    if inrush_kw is not None:
        samples += noisy(rng, 20.0, 2.0, inrush_kw)
        idle_from = 22.0
    samples += noisy(rng, idle_from, 20.0, 3.0)
    samples += noisy(rng, idle_from + 20.0, 20.0, 10.2)
    return samples


def test_three_noisy_levels_and_an_inrush_give_edges_between_the_levels() -> None:
    samples = off_idle_running(random.Random(1), inrush_kw=18.0)
    suggestion = suggest_thresholds(samples, INTERVAL_S)
    assert [level.count for level in suggestion.levels] == [40, 40, 40]
    assert suggestion.off_below is not None and suggestion.running_above is not None
    assert suggestion.hysteresis is not None and suggestion.implausible_above is not None
    # Edges inside the gaps between the noisy levels (0.3 +- 0.056, 3 +- 0.11, 10.2 +- 0.254),
    # and falling edges too: hysteresis keeps them out of the levels.
    assert 0.356 < suggestion.off_below - suggestion.hysteresis < suggestion.off_below < 2.89
    assert 3.11 < suggestion.running_above - suggestion.hysteresis < suggestion.running_above
    assert suggestion.running_above < 9.946
    # The inrush (4 readings = 2 s) is an excursion, not a level; the dwell outlasts it.
    assert suggestion.transient_count == 4
    assert suggestion.longest_excursion_s == 2.0
    assert suggestion.min_dwell_s >= 2 * 2.0
    assert suggestion.implausible_above > 10 * 10.0
    # The block is one the configuration accepts.
    LevelConfig(
        tag="power",
        off_below=suggestion.off_below,
        running_above=suggestion.running_above,
        hysteresis=suggestion.hysteresis,
        implausible_above=suggestion.implausible_above,
    )


def test_without_the_inrush_the_dwell_is_three_intervals() -> None:
    suggestion = suggest_thresholds(off_idle_running(random.Random(2), None), INTERVAL_S)
    assert suggestion.transient_count == 0
    assert suggestion.min_dwell_s == 2.0  # ceil(3 x 0.5 s)
    polled = suggest_thresholds(off_idle_running(random.Random(2), None), INTERVAL_S, 10.0)
    assert polled.min_dwell_s == 20.0  # two polls of the device
    assert suggestion.running_above is not None


def test_the_inrush_alone_is_flagged_not_the_steps() -> None:
    samples = off_idle_running(random.Random(3), inrush_kw=18.0)
    flagged = [s.ts for s, flag in zip(samples, transients(samples), strict=True) if flag]
    assert flagged == [20.0, 20.5, 21.0, 21.5]


def test_two_levels_set_off_below_only_and_say_what_to_do() -> None:
    rng = random.Random(4)
    samples = noisy(rng, 0.0, 30.0, 0.3) + noisy(rng, 30.0, 30.0, 10.2)
    suggestion = suggest_thresholds(samples, INTERVAL_S)
    assert len(suggestion.levels) == 2
    assert suggestion.off_below is not None and 0.356 < suggestion.off_below < 9.946
    assert suggestion.running_above is None
    assert "only two levels" in suggestion.advice
    assert "run_signal" in suggestion.advice


def test_one_level_gives_no_thresholds_and_says_what_to_do() -> None:
    suggestion = suggest_thresholds(noisy(random.Random(5), 0.0, 60.0, 3.0), INTERVAL_S)
    assert len(suggestion.levels) == 1
    assert suggestion.off_below is None and suggestion.running_above is None
    assert "one steady level seen" in suggestion.advice
    assert "nameplate" in suggestion.advice


def test_no_readings_say_so() -> None:
    suggestion = suggest_thresholds([], INTERVAL_S)
    assert suggestion.levels == () and suggestion.off_below is None
    assert "no usable readings" in suggestion.advice


def test_otsu_finds_the_exact_cuts_of_separated_clusters() -> None:
    values = sorted([0.0, 0.1, 0.2, 5.0, 5.1, 5.2, 5.3, 9.0, 9.1, 9.2])
    assert otsu_split(values, 3) == [(0, 3), (3, 7), (7, 10)]
    assert otsu_split(values[:5], 2) is None  # fewer than 3 readings a class


def test_a_negative_level_gives_no_block_and_names_the_wiring() -> None:
    rng = random.Random(6)
    # A CT reversed on one phase of three: idle -1 kW, running -3.4 kW, off at 0.
    samples = noisy(rng, 0.0, 20.0, 0.0) + [
        Sample(s.ts, -s.value) for s in noisy(rng, 20.0, 20.0, 1.0) + noisy(rng, 40.0, 20.0, 3.4)
    ]
    suggestion = suggest_thresholds(samples, INTERVAL_S)
    assert len(suggestion.levels) == 3
    assert suggestion.off_below is None and suggestion.running_above is None
    assert "current transformer is reversed" in suggestion.advice
