"""Clocks: a scaled plant clock starts at its anchor; the wall clock has always started."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from contract.clock import ScaledClock, WallClock

pytestmark = pytest.mark.anyio

START = datetime(2026, 2, 28, 6, 0, tzinfo=UTC)


async def test_a_scaled_clock_starts_at_its_anchor_not_before() -> None:
    clock = ScaledClock(start=START, anchor=time.time() + 0.3, speed=50_000)
    assert clock.timestamp() < START.timestamp()  # before the anchor: before the plant exists
    await clock.started()
    assert clock.timestamp() >= START.timestamp()
    assert clock.speed == 50_000


async def test_the_wall_clock_has_started_and_runs_at_speed_one() -> None:
    clock = WallClock()
    await clock.started()
    assert clock.speed == 1.0
