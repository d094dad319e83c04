"""Plant builders for the simulator tests."""

from __future__ import annotations

from typing import Any

from sim.plant import MachineConfig, PlantConfig

ALL_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def machine(**overrides: Any) -> MachineConfig:
    """A machine running around the clock (no calendar stops) unless overridden."""
    settings: dict[str, Any] = {
        "id": "m1",
        "protocol": "modbus",
        "unit_id": 1,
        "calendar": {"shifts": [{"start": "00:00", "end": "00:00", "days": ALL_WEEK}]},
    }
    settings.update(overrides)
    return MachineConfig.model_validate(settings)


def plant(*machines: MachineConfig, test_pattern_unit: int | None = 247) -> PlantConfig:
    """A plant of the given machines plus the test-pattern device."""
    pattern = None if test_pattern_unit is None else {"unit_id": test_pattern_unit}
    return PlantConfig.model_validate({"machines": machines, "test_pattern": pattern})
