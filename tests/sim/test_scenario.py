"""The demo's scenario documents: valid for the tools that read them, saying what they should."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import load_config
from agent.keys import generate_key_pair
from collector.plan import MIN_DATA_DAYS, MIN_PERIOD_DAYS, load_plan
from sim.plant import MachineConfig, PlantConfig, RetrofitConfig
from sim.scenario import (
    RETROFIT_ENTERPRISE,
    S7_MACHINE,
    AgentSettings,
    DemoEnterprise,
    Timeline,
    agent_document,
    demo_enterprises,
    plan_document,
    plant_document,
    timeline,
)


def _agent_document(
    enterprise: DemoEnterprise, plant: PlantConfig, days: Timeline, folder: Path
) -> dict[str, Any]:
    clock = {"start": days.plant_start.isoformat(), "anchor": days.plant_start.isoformat(),
             "speed": 50_000}  # fmt: skip
    return agent_document(
        enterprise,
        plant,
        modbus=("127.0.0.1", 5020),
        opcua_endpoint="opc.tcp://127.0.0.1:4840/retrofit-sim",
        s7=("127.0.0.1", 1102),
        broker=("127.0.0.1", 1883),
        clock=clock,
        paths={"key": str(folder / "agent.key"), "outbox": str(folder / "outbox.sqlite")},
        settings=AgentSettings(poll_interval_s=600, window_s=3600, comm_loss_after_s=7200),
    )


def test_twelve_enterprises_ten_improve_one_unchanged_one_goes_offline() -> None:
    roles = [enterprise.role for enterprise in demo_enterprises(12)]
    assert roles.count("improves") == 10  # the platform's minimum of 10 can be met
    assert roles[1] == "unchanged" and roles[-1] == "goes_offline"
    assert [e.role for e in demo_enterprises(3)] == ["improves", "unchanged", "goes_offline"]
    with pytest.raises(ValueError, match=r"expected 3\.\.12"):
        demo_enterprises(2)


def test_periods_are_as_long_as_the_plan_rules_ask_and_the_gateway_goes_quiet_too_early() -> None:
    days = timeline(MIN_PERIOD_DAYS["oee"])
    assert (days.baseline[1] - days.baseline[0]).days + 1 == 28
    assert days.baseline[1] < days.go_live < days.reporting[0]
    assert days.plant_start.date() < days.baseline[0]
    assert days.plant_end.date() > days.reporting[1]
    reported = (days.offline_at.date() - days.reporting[0]).days
    assert reported < MIN_DATA_DAYS["oee"]


def test_plant_plan_and_agent_configs_load(tmp_path: Path) -> None:
    days = timeline(42, dt.date(2026, 3, 2))
    enterprises = demo_enterprises(3)
    plant = PlantConfig.model_validate(plant_document(enterprises, days))
    assert len(plant.machines) == 9
    assert {m.protocol for m in plant.machines} == {"modbus", "opcua", "s7", "retrofit"}
    unchanged = next(m for m in plant.machines if m.id.startswith("ent-02"))
    assert unchanged.scenario is not None and unchanged.scenario.cycle_factor == 1.0

    keys = {}
    for enterprise in enterprises:
        key = tmp_path / f"{enterprise.id}.key"
        keys[enterprise.agent_id] = generate_key_pair(key)
    plan = plan_document(enterprises, days, keys, with_energy=True)
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), "utf-8")
    loaded = load_plan(tmp_path / "plan.yaml")
    listed = loaded.plan.platforms[0].enterprises
    assert len(listed) == 12 and [len(e.agents) for e in listed].count(1) == 3

    document = _agent_document(enterprises[0], plant, days, tmp_path)
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(document), "utf-8")
    config = load_config(tmp_path / "agent.yaml").config
    assert [d.id for d in config.devices] == enterprises[0].machine_ids
    assert [d.protocol for d in config.devices] == ["modbus_tcp", "s7", "opcua"]


def test_only_the_unchanged_enterprise_has_an_ideal_cycle_above_the_real_one(
    tmp_path: Path,
) -> None:
    days = timeline(28, dt.date(2026, 3, 2))
    enterprises = demo_enterprises(3)
    plant = PlantConfig.model_validate(plant_document(enterprises, days))
    cycles = {machine.id: machine.cycle_s for machine in plant.machines}
    too_long = []
    for enterprise in enterprises:
        document = _agent_document(enterprise, plant, days, tmp_path)
        for device in document["devices"]:
            ratio = device["ideal_cycle_s"] / cycles[device["id"]]
            assert ratio == pytest.approx(0.9, abs=1e-3) or ratio > 1.05, device["id"]
            if ratio > 1.05:
                too_long.append(device["id"])
    assert too_long == ["ent-02-press"] == [enterprises[1].misconfigured_device]


@pytest.mark.parametrize("count", [3, 12])
def test_one_enterprise_is_read_through_meters_and_one_machine_through_s7(count: int) -> None:
    enterprises = demo_enterprises(count)
    plant = PlantConfig.model_validate(plant_document(enterprises, timeline(28)))
    retrofit = [e for e in enterprises if e.measured_by == "retrofit"]
    assert [e.id for e in retrofit] == [RETROFIT_ENTERPRISE]
    # Quick: the enterprise that goes offline; full: one that improves, so it must pass.
    assert retrofit[0].role == ("goes_offline" if count == 3 else "improves")
    protocols = {m.id: m.protocol for m in plant.machines}
    assert [protocols[m] for m in retrofit[0].machine_ids] == ["retrofit"] * 3
    assert [m for m, protocol in protocols.items() if protocol == "s7"] == [S7_MACHINE]
    units = [u for m in plant.machines for u in m.unit_ids.values()]
    assert len(units) == len(set(units))  # one Modbus server serves them all


def _noisy(kit: RetrofitConfig, kw: float, sign: int) -> float:
    """The draw ``kw`` at the meter's noise bound, above (+1) or below (-1); sim.retrofit."""
    return kw + sign * (kit.noise_pct / 100 * kw + kit.noise_floor_kw)


def _running_kw_range(machine: MachineConfig) -> tuple[float, float]:
    """The lowest and highest running draw: the cycle's 3-sigma jitter, before and after the
    retrofit's factors (sim.machine: idle_kw + energy per part over the cycle)."""
    draws = []
    scenario = machine.scenario
    factors = [(1.0, 1.0)]
    if scenario is not None:
        factors.append((scenario.energy_per_part_factor, scenario.cycle_factor))
    for energy, cycle in factors:
        for jitter in (1 - 3 * machine.cycle_jitter, 1 + 3 * machine.cycle_jitter):
            per_part = machine.energy_per_part_kwh * energy * 3600.0
            draws.append(machine.idle_kw + per_part / (machine.cycle_s * cycle * jitter))
    return min(draws), max(draws)


def test_retrofit_thresholds_class_every_steady_draw_as_its_own_state(tmp_path: Path) -> None:
    # docs/kpi.md's precondition for its bounds: each steady level with its noise clears both
    # edges of its class, hysteresis included.
    days = timeline(28)
    enterprises = demo_enterprises(3)
    plant = PlantConfig.model_validate(plant_document(enterprises, days))
    retrofit = next(e for e in enterprises if e.measured_by == "retrofit")
    document = _agent_document(retrofit, plant, days, tmp_path)
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(document), "utf-8")
    devices = {d.id: d for d in load_config(tmp_path / "agent.yaml").config.devices}
    for machine in (m for m in plant.machines if m.id in retrofit.machine_ids):
        block = devices[machine.id].state
        assert block is not None and block.power is not None and machine.retrofit is not None
        level, kit = block.power, machine.retrofit
        assert level.running_above is not None
        low_run, high_run = _running_kw_range(machine)
        assert _noisy(kit, machine.standby_kw, +1) < level.off_below - level.hysteresis
        assert level.off_below <= _noisy(kit, machine.idle_kw, -1)
        assert _noisy(kit, machine.idle_kw, +1) < level.running_above - level.hysteresis
        assert level.running_above <= _noisy(kit, low_run, -1)
        inrush = kit.inrush_factor * high_run
        assert inrush < level.implausible_limit
        assert block.min_dwell_s > kit.inrush_s
