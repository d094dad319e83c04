"""sim.plant: the example loads; mistakes are reported all at once, with file, line and key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.errors import PlantFileError
from sim.plant import load_plant, parse_plant

EXAMPLE = Path(__file__).parents[2] / "sim" / "examples" / "plant.yaml"


def test_example_plant_file_is_valid() -> None:
    plant = load_plant(EXAMPLE)
    assert [m.id for m in plant.machines] == ["press-1", "press-2", "cnc-1"]
    assert plant.test_pattern is not None
    assert plant.machines[0].calendar.outside_shifts == "off"


def test_the_retrofit_example_plant_file_is_valid() -> None:
    plant = load_plant(EXAMPLE.parent / "retrofit-plant.yaml")
    assert {m.protocol for m in plant.machines} == {"retrofit"}
    assert [m.retrofit.meter_unit_id for m in plant.machines if m.retrofit] == [21, 23]


def test_every_problem_is_reported_with_line_and_key_path() -> None:
    text = """\
machines:
  - id: a
    protocol: modbus
    unit_id: 1
    cycle_s: -3
  - id: b
    protocol: profinet
    calendar:
      timezone: Mars/Olympus
    colour: red
"""
    with pytest.raises(PlantFileError) as caught:
        parse_plant(text, "plant.yaml")
    problems = caught.value.problems
    assert len(problems) == 4
    assert problems[0].startswith("plant.yaml:5 machines[0].cycle_s: ")
    assert problems[1].startswith("plant.yaml:7 machines[1].protocol: ")
    assert "Mars/Olympus" in problems[2] and problems[2].startswith("plant.yaml:9 ")
    assert problems[3].startswith("plant.yaml:10 machines[1].colour: unknown key")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("machines: [{id: a, protocol: modbus}]", "needs unit_id"),
        ("machines: [{id: a, protocol: opcua, unit_id: 3}]", "only for protocol modbus"),
        (
            "machines: [{id: a, protocol: modbus, unit_id: 1}, {id: a, protocol: opcua}]",
            "duplicate machine ids: a",
        ),
        (
            "machines: [{id: a, protocol: modbus, unit_id: 5}]\ntest_pattern: {unit_id: 5}",
            "unit_id used twice: 5",
        ),
        ("machines: [{id: a, protocol: opcua, scenario: {go_live: 2026-03-01}}]", "go_live"),
        ("machines: [", "YAML syntax error"),
    ],
)
def test_cross_field_mistakes(text: str, expected: str) -> None:
    with pytest.raises(PlantFileError, match=expected):
        parse_plant(text, "plant.yaml")


def test_the_plant_file_is_yaml_as_every_configuration_file_reads_it() -> None:
    """One YAML loader (contract.configfile): YAML 1.2 scalars, duplicate keys refused.

    The simulator had its own YAML 1.1 loader: a bare ``off`` was false (and needed a
    workaround), an unquoted ``06:00`` was the sexagesimal integer 360, a duplicate key won
    silently.
    """
    text = """\
machines:
  - id: a
    protocol: opcua
    calendar:
      outside_shifts: off
      shifts: [{start: 06:00, end: 14:00}]
"""
    calendar = parse_plant(text, "plant.yaml").machines[0].calendar
    assert calendar.outside_shifts == "off"
    assert calendar.shifts[0].start.hour == 6 and calendar.shifts[0].start.minute == 0
    with pytest.raises(PlantFileError, match=r"plant\.yaml:3 .*duplicate"):
        parse_plant("machines:\n  - id: a\n    id: b\n    protocol: opcua\n", "plant.yaml")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PlantFileError, match="cannot read"):
        load_plant(tmp_path / "missing.yaml")


@pytest.mark.timeout(30)  # a safety net: a FIFO must be refused, never waited on
def test_a_plant_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "plant.yaml"
    os.mkfifo(fifo)
    with pytest.raises(PlantFileError, match="not a regular file"):
        load_plant(fifo)
    with pytest.raises(PlantFileError, match="not a regular file"):
        load_plant(Path("/dev/zero"))


RETROFIT = """\
machines:
  - id: press
    protocol: modbus
    unit_id: 5
  - id: old-lathe
    protocol: retrofit
    retrofit:
      meter_unit_id: {meter}
      di_unit_id: {di}
test_pattern:
  unit_id: 247
"""


def test_a_retrofit_machine_takes_two_unit_ids() -> None:
    machine = parse_plant(RETROFIT.format(meter=6, di=7), "plant.yaml").machines[1]
    assert machine.unit_ids == {("retrofit", "meter_unit_id"): 6, ("retrofit", "di_unit_id"): 7}
    assert machine.retrofit is not None and machine.retrofit.inrush_factor == 6.0


@pytest.mark.parametrize(
    ("meter", "di", "expected"),
    [
        (5, 7, "plant.yaml:8 machines[1].retrofit.meter_unit_id: unit_id used twice: 5 "
               "(first at machines[0].unit_id)"),
        (6, 247, "plant.yaml:11 test_pattern.unit_id: unit_id used twice: 247 "
                 "(first at machines[1].retrofit.di_unit_id)"),
        (6, 6, "plant.yaml:9 machines[1].retrofit.di_unit_id: got 6, the same as "
               "retrofit.meter_unit_id"),
    ],
)  # fmt: skip
def test_unit_id_clashes_are_located(meter: int, di: int, expected: str) -> None:
    with pytest.raises(PlantFileError) as caught:
        parse_plant(RETROFIT.format(meter=meter, di=di), "plant.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(expected)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("    unit_id: 9\n", "plant.yaml:6 machines[1].unit_id: machine 'old-lathe': unit_id is "
                           "only for protocol modbus (a retrofit machine's units are"),
        ("    script: day.csv\n", "plant.yaml:6 machines[1].script: machine 'old-lathe': a "
                                  "retrofit machine is modelled"),
        ("      noise_pct: 80\n", "plant.yaml:8 machines[1].retrofit.noise_pct: "),
        ("      inrush_s: -1\n", "plant.yaml:8 machines[1].retrofit.inrush_s: "),
        ("      power_factor: 0\n", "plant.yaml:8 machines[1].retrofit.power_factor: "),
        ("      relay: on\n", "plant.yaml:8 machines[1].retrofit.relay: unknown key"),
    ],
)  # fmt: skip
def test_forbidden_and_bad_retrofit_keys_are_located(extra: str, expected: str) -> None:
    lines = RETROFIT.format(meter=6, di=7).splitlines(keepends=True)
    at = 7 if extra.startswith("      ") else 5  # in the retrofit block, or the machine's key
    text = "".join(lines[:at]) + extra + "".join(lines[at:])
    with pytest.raises(PlantFileError) as caught:
        parse_plant(text, "plant.yaml")
    assert caught.value.problems[0].startswith(expected), caught.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("machines: [{id: a, protocol: retrofit}]", "plant.yaml:1 machines[0]: machine 'a': "
         "protocol retrofit needs a retrofit block"),
        ("machines:\n  - id: a\n    protocol: opcua\n    retrofit: {meter_unit_id: 1, "
         "di_unit_id: 2}\n", "plant.yaml:4 machines[0].retrofit: machine 'a': retrofit is only "
         "for protocol retrofit"),
    ],
)  # fmt: skip
def test_the_retrofit_block_goes_with_protocol_retrofit(text: str, expected: str) -> None:
    with pytest.raises(PlantFileError) as caught:
        parse_plant(text, "plant.yaml")
    assert caught.value.problems[0].startswith(expected), caught.value.problems
