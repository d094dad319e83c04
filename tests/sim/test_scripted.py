"""The scripted machine: a minute-by-minute CSV replayed exactly; a bad CSV is located, never a
traceback (sim/scripted.py, docs/simulator.md "Scripted machines")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sim.errors import PlantFileError, ScriptError
from sim.machine import MachineState
from sim.plant import load_plant
from sim.scripted import ScriptedMachine, check_scripts, load_script, parse_script

from .plants import machine

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC).timestamp()
GOOD = """minute,state,parts,rejects
2026-03-02T14:00:00+08:00,running,4,1
2026-03-02T14:01:00+08:00,down,0,0
2026-03-02T14:02:00+08:00,planned_stop,0,0
2026-03-02T14:03:00+08:00,running,60,0
"""


def _machine(text: str = GOOD, **overrides: object) -> ScriptedMachine:
    return ScriptedMachine(machine(**overrides), parse_script(text, "day.csv"), T0 - 120)


def test_counters_step_inside_each_minute_and_hold_the_rows_sums_at_its_end() -> None:
    scripted = _machine(counter_bits=16, counter_start=65_534)
    seen = []
    for offset in (-60, 0, 15, 30, 45, 60, 179, 180, 210, 240, 300):
        scripted.advance_to(T0 + offset)
        snap = scripted.snapshot()
        seen.append((offset, snap.state.value, snap.total_count, snap.reject_count))
    assert seen == [
        (-60, "off", 65_534, 0),  # before the first row: off, counters hold
        (0, "running", 65_534, 0),
        (15, "running", 65_535, 0),  # part 1 of 4 at a quarter of the minute
        (30, "running", 0, 0),  # the 16-bit counter wraps
        (45, "running", 1, 0),
        (60, "down", 2, 1),  # the minute's 4 parts and 1 reject, exactly at its end
        (179, "planned_stop", 2, 1),
        (180, "running", 2, 1),
        (210, "running", 32, 1),
        (240, "off", 62, 1),  # after the last row: off, counters hold
        (300, "off", 62, 1),
    ]
    with pytest.raises(ValueError, match="cannot go back"):
        scripted.advance_to(T0)


def test_truth_is_the_files_minutes_and_off_outside_them() -> None:
    scripted = _machine()
    truth = scripted.truth(T0 - 60, T0 + 300)
    assert (truth.run_s, truth.down_s, truth.planned_stop_s, truth.off_s) == (120, 60, 60, 120)
    assert (truth.total_count, truth.reject_count, truth.good_count) == (64, 1, 63)
    with pytest.raises(ValueError, match="align"):
        scripted.truth(T0 + 1, T0 + 60)


def test_power_and_energy_follow_the_state_and_the_parts() -> None:
    scripted = _machine(idle_kw=3.0, standby_kw=0.5, energy_per_part_kwh=0.01)
    scripted.advance_to(T0 + 240)
    snap = scripted.snapshot()
    assert snap.power_kw == 0.5 and snap.state is MachineState.OFF
    # 3 minutes at 3 kW (running, down, running), 1 at 0.5 kW, 64 parts at 0.01 kWh.
    assert snap.energy_kwh == pytest.approx(3 * 3.0 / 60 + 0.5 / 60 + 0.64)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "day.csv:1: got header 'nothing', expected minute,state,parts,rejects"),
        ("time,state\n", "day.csv:1: got header 'time,state'"),
        ("minute,state,parts,rejects\n", "day.csv: no minutes after the header"),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,runing,1,0\n",
            "day.csv:2 state: got 'runing', expected one of running, idle, down, off, planned_stop",
        ),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:00,running,1,0\n",
            "day.csv:2 minute: got '2026-03-02T06:00:00', expected an ISO 8601 time with its "
            "UTC offset",
        ),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:30+00:00,running,1,0\n",
            "day.csv:2 minute: got '2026-03-02T06:00:30+00:00', expected the start of a minute",
        ),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,running,-1,0\n",
            "day.csv:2 parts: got '-1', expected a whole number 0..999999",
        ),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,running,1.5,0\n",
            "day.csv:2 parts: got '1.5', expected a whole number 0..999999",
        ),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,running,3,4\n",
            "day.csv:2 rejects: got 4, more than the minute's 3 parts",
        ),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,running,3\n",
            "day.csv:2: got 3 columns, expected 4",
        ),
        (
            "minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,running,3,0\n"
            "2026-03-02T06:02:00+00:00,running,3,0\n",
            "day.csv:3 minute: not the minute after the previous row's (2026-03-02T06:00:00+00:00)",
        ),
        (
            'minute,state,parts,rejects\n2026-03-02T06:00:00+00:00,"running,3,0\n',
            "day.csv:",  # an unclosed quote: csv's own message, located
        ),
    ],
    ids=[
        "empty",
        "header",
        "no-rows",
        "state",
        "naive-time",
        "mid-minute",
        "negative",
        "fraction",
        "rejects",
        "columns",
        "gap",
        "quote",
    ],
)
def test_a_bad_script_says_where_and_what(text: str, expected: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "day.csv")
    assert any(problem.startswith(expected) for problem in caught.value.problems), (
        caught.value.problems
    )


def test_every_problem_is_listed_at_once_up_to_a_bound() -> None:
    rows = "".join(f"2026-03-02T06:{m:02d}:00+00:00,jammed,1,0\n" for m in range(30))
    with pytest.raises(ScriptError) as caught:
        parse_script("minute,state,parts,rejects\n" + rows, "day.csv")
    problems = caught.value.problems
    assert problems[0].startswith("day.csv:2 state: got 'jammed'")
    assert len(problems) == 22 and problems[-1].startswith("day.csv: more problems after line")


def test_a_plant_names_its_script_relative_to_itself_and_a_bad_one_is_a_plant_error(
    tmp_path: Path,
) -> None:
    (tmp_path / "day.csv").write_text(GOOD, encoding="utf-8")
    (tmp_path / "plant.yaml").write_text(
        "machines:\n  - id: line-1\n    protocol: modbus\n    unit_id: 1\n    script: day.csv\n",
        encoding="utf-8",
    )
    plant = load_plant(tmp_path / "plant.yaml")
    assert plant.machines[0].script == tmp_path / "day.csv"
    check_scripts(plant)
    assert len(load_script(tmp_path / "day.csv")) == 4
    (tmp_path / "day.csv").write_bytes(b"minute,state,parts,rejects\n\xff\xfe\x00garbage\n")
    with pytest.raises(PlantFileError, match="not UTF-8 text"):
        check_scripts(plant)
    (tmp_path / "day.csv").unlink()
    with pytest.raises(PlantFileError, match="cannot read"):
        check_scripts(plant)


def test_a_scripted_machine_takes_no_scenario() -> None:
    with pytest.raises(ValueError, match="a scripted machine replays its script"):
        machine(script="day.csv", counter_resets_per_day=1.0)
