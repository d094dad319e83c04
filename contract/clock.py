"""Clocks: the wall clock for production, a scaled plant clock for the simulator and the demo.

A scaled clock maps wall time onto plant time: ``plant = start + (wall - anchor) * speed``.
The simulator and the agents of a demo are given the same ``start``, ``anchor`` and ``speed``
in their configuration, so they agree on plant time without talking to each other. Production
agents always use :class:`WallClock`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "ScaledClock", "WallClock"]


class Clock(Protocol):
    """Where the time of samples and windows comes from."""

    def now(self) -> datetime:
        """Current plant time, an aware UTC datetime."""
        ...

    def timestamp(self) -> float:
        """Current plant time as seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """A monotonic reading in plant seconds: wall-clock steps show against it."""
        ...

    async def sleep(self, plant_s: float) -> None:
        """Sleep for ``plant_s`` seconds of plant time."""
        ...

    @property
    def speed(self) -> float:
        """Plant seconds per wall second (1 for the wall clock)."""
        ...

    async def started(self) -> None:
        """Return once plant time has begun (at once, except on a scaled clock's anchor)."""
        ...


class WallClock:
    """The real clock: plant time is wall time."""

    @property
    def speed(self) -> float:
        return 1.0

    async def started(self) -> None:
        return None

    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, plant_s: float) -> None:
        await asyncio.sleep(max(0.0, plant_s))


@dataclass(frozen=True)
class ScaledClock:
    """Plant time running ``speed`` times faster than wall time from ``anchor``.

    ``start`` is the plant time at wall time ``anchor`` (seconds since the epoch, wall clock).
    """

    start: datetime
    anchor: float
    speed: float

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("ScaledClock.start must be timezone-aware")
        if not self.speed > 0:
            raise ValueError(f"ScaledClock.speed must be > 0, got {self.speed}")

    def timestamp(self) -> float:
        return self.start.timestamp() + (time.time() - self.anchor) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), UTC)

    def monotonic(self) -> float:
        return time.monotonic() * self.speed

    async def sleep(self, plant_s: float) -> None:
        await asyncio.sleep(max(0.0, plant_s) / self.speed)

    async def started(self) -> None:
        # Before the anchor there is no plant yet: plant time would run before ``start``
        # (at 50,000x, ten wall seconds early are six plant days before it).
        await asyncio.sleep(max(0.0, self.anchor - time.time()))
