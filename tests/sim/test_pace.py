"""sim/pace.py: the demo's speed from its CPU model (pure arithmetic, plus the two probes)."""

from __future__ import annotations

import math

import pytest

from sim.pace import (
    MACHINE_HEADROOM,
    SIMULATOR_HEADROOM,
    PlantCost,
    busy_cores,
    calibrate,
    pick_speed,
)

#: 1 CPU s per plant day per enterprise in all (0.2 of it the simulator's), nothing idle.
COST = PlantCost(
    simulator_day_s=0.2,
    agent_day_s=0.6,
    collector_day_s=0.2,
    simulator_idle_cores=0.0,
    agent_idle_cores=0.0,
    collector_idle_cores=0.0,
    calibration_s=0.1,
)


def test_a_machine_with_room_runs_at_the_top_speed() -> None:
    choice = pick_speed(COST, enterprises=1, top_speed=10_000, floor_speed=1_000, free_cores=64.0)
    assert choice.speed == 10_000
    assert choice.cores == pytest.approx(10_000 / 86_400)
    assert "carries it" in choice.reason


def test_the_speed_is_the_fastest_whose_load_fits_the_headroom() -> None:
    # 12 enterprises ask 12 CPU s per plant day: 1 core (half of 2) carries 7,200x.
    choice = pick_speed(COST, enterprises=12, top_speed=15_000, floor_speed=1_000, free_cores=2.0)
    assert choice.speed == 7_200
    assert choice.cores == pytest.approx(MACHINE_HEADROOM * 2.0)
    assert choice.simulator_cores < SIMULATOR_HEADROOM
    assert "the cores" in choice.reason


def test_the_simulator_alone_can_bound_the_speed() -> None:
    heavy = PlantCost(
        simulator_day_s=1.0, agent_day_s=0.0, collector_day_s=0.0, simulator_idle_cores=0.1,
        agent_idle_cores=0.0, collector_idle_cores=0.0, calibration_s=0.1,
    )  # fmt: skip
    choice = pick_speed(heavy, enterprises=4, top_speed=50_000, floor_speed=100, free_cores=8.0)
    # 0.1 idle + 4 x S / 86,400 = 0.5 core
    assert choice.speed == pytest.approx(8_640, abs=50)
    assert choice.simulator_cores == pytest.approx(SIMULATOR_HEADROOM, abs=0.01)
    assert "simulator" in choice.reason


def test_a_slower_cpu_or_a_busy_machine_gets_a_slower_speed() -> None:
    base = pick_speed(COST, enterprises=12, top_speed=15_000, floor_speed=100, free_cores=2.0)
    slower = pick_speed(
        COST, enterprises=12, top_speed=15_000, floor_speed=100, free_cores=2.0, scale=2.0
    )
    busy = pick_speed(COST, enterprises=12, top_speed=15_000, floor_speed=100, free_cores=1.0)
    assert slower.speed == pytest.approx(base.speed / 2, abs=100)
    assert busy.speed == pytest.approx(base.speed / 2, abs=100)


def test_the_time_budget_sets_the_slowest_speed_and_says_polls_will_be_skipped() -> None:
    choice = pick_speed(COST, enterprises=12, top_speed=15_000, floor_speed=12_400, free_cores=0.5)
    assert choice.speed == 12_400
    assert choice.cores > MACHINE_HEADROOM * 0.5
    assert "polls may be skipped" in choice.reason
    # The floor rounds up to 100x: the plant never takes longer than its budget.
    budget = pick_speed(COST, enterprises=12, top_speed=15_000, floor_speed=12_437, free_cores=0.0)
    assert budget.speed == 12_500
    assert "no plant speed" in budget.reason


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="must all be > 0"):
        pick_speed(COST, enterprises=0, top_speed=1, floor_speed=1, free_cores=1.0)


def test_the_probes_measure_this_machine() -> None:
    seconds = calibrate(repeats=1)
    assert 0 < seconds < 60
    others = busy_cores(sample_s=0.2)
    assert others >= 0.0 and math.isfinite(others)
