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
from sim.plant import PlantConfig
from sim.scenario import (
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
    assert {m.protocol for m in plant.machines} == {"modbus", "opcua"}
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
    assert {d.protocol for d in config.devices} == {"modbus_tcp", "opcua"}


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
