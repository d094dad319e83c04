"""Plant builders and a hand-moved plant clock for the simulator tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
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


class StillClock:
    """A plant clock for an agent's sources that the test moves, never the wall: a subclass
    says what its plant time is (:meth:`timestamp`); its sleeps only yield."""

    def timestamp(self) -> float:
        raise NotImplementedError

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def monotonic(self) -> float:
        return self.timestamp()

    async def sleep(self, plant_s: float) -> None:
        await asyncio.sleep(0)

    @property
    def speed(self) -> float:
        return 1.0

    async def started(self) -> None:
        return None
