"""docs/simulator.md lists every register, pattern value, plant key and control command."""

from __future__ import annotations

from pathlib import Path

from sim.control import COMMANDS
from sim.plant import Calendar, MachineConfig, RetrofitConfig, Scenario
from sim.registers import MACHINE_REGISTERS, TEST_PATTERN
from sim.retrofit import DI_INPUTS, DI_REGISTERS, METER_REGISTERS

DOC = (Path(__file__).parents[2] / "docs" / "simulator.md").read_text(encoding="utf-8")


def test_register_maps_match_the_code() -> None:
    for register in MACHINE_REGISTERS + METER_REGISTERS + DI_REGISTERS:
        row = f"| {register.address} | {register.count} | `{register.name}` | {register.kind} |"
        assert row in DOC, register.name
    for digital_input in DI_INPUTS:
        assert f"| {digital_input.address} | `{digital_input.name}` |" in DOC
    for entry in TEST_PATTERN:
        row = f"| {entry.address} | {entry.count} | `{entry.name}` | {entry.dtype} |"
        assert row in DOC, entry.name


def test_every_plant_key_and_command_is_documented() -> None:
    for name in MachineConfig.model_fields:
        assert f"`.{name}" in DOC, name  # `.calendar` and `.scenario` appear as their subkeys
    for name in Calendar.model_fields:
        assert f"`.calendar.{name}" in DOC, name
    for name in RetrofitConfig.model_fields:
        assert f"`.retrofit.{name}`" in DOC, name
    for name in Scenario.model_fields:
        assert f"`.scenario.{name}`" in DOC, name
    for command in COMMANDS:
        assert command.split()[0] in DOC, command
