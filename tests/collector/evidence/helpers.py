"""Device-day rows and simulated daily series for the evidence engine's tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from collector.evidence import KpiSeries
from collector.evidence.sufficiency import PeriodRole
from collector.plan import Enterprise
from collector.store import DailyRow

START = date(2026, 1, 5)


def device_day(day: date, device: str = "press-1", **changes: Any) -> DailyRow:
    """A day of one device: 8 h scheduled and planned, every quantity set unless changed."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    values: dict[str, Any] = {
        "platform": "plat-a",
        "enterprise": "ent-1",
        "agent": "agent-1",
        "device": device,
        "provenance": "measured",
        "day": day,
        "tz": "UTC",
        "windows": 1440,
        "partial_windows": 0,
        "config_digests": 1,
        "first_start": midnight,
        "last_end": midnight + timedelta(days=1),
        "scheduled_s": 28800.0,
        "planned_s": 28800.0,
        "run_s": 23040.0,
        "idle_s": 2880.0,
        "down_s": 2880.0,
        "off_s": 0.0,
        "planned_stop_s": 0.0,
        "total_count": 1000,
        "good_count": 980,
        "reject_count": 20,
        "energy_kwh": 500.0,
        "ideal_count_s": 20000.0,
        "duration_s": 86400.0,
        "comm_loss_s": 0.0,
        "scheduled_comm_loss_s": 0.0,
        "samples": 86400,
        "missed_polls": 0,
        "bad_values": 0,
        "counter_resets": 0,
        "meter_resets": 0,
        "clock_jumps": 0,
        "ideal_cycle_s_min": 20.0,
        "ideal_cycle_s_max": 20.0,
    }
    values.update(changes)
    return DailyRow(**values)


def meter_day(day: date, device: str, energy_kwh: float | None, **changes: Any) -> DailyRow:
    """A meter's day (a main feeder, a sub-meter): energy only, no calendar, state or counts."""
    values: dict[str, Any] = {
        "scheduled_s": 0.0, "planned_s": 0.0, "run_s": None, "idle_s": None, "down_s": None,
        "total_count": None, "good_count": None, "reject_count": None, "ideal_count_s": None,
        "ideal_cycle_s_min": None, "ideal_cycle_s_max": None, "energy_kwh": energy_kwh,
    }  # fmt: skip
    return device_day(day, device, **{**values, **changes})


def days(count: int, start: date = START) -> list[date]:
    """``count`` consecutive days from ``start``."""
    return [start + timedelta(days=i) for i in range(count)]


def ar1(rng: np.random.Generator, shape: tuple[int, ...], rho: float, sd: float) -> np.ndarray:
    """AR(1) noise along the last axis with lag-1 correlation ``rho`` and marginal SD ``sd``."""
    shocks = rng.normal(0.0, sd * np.sqrt(1 - rho**2), size=shape)
    noise = np.empty(shape)
    noise[..., 0] = rng.normal(0.0, sd, size=shape[:-1])
    for t in range(1, shape[-1]):
        noise[..., t] = rho * noise[..., t - 1] + shocks[..., t]
    return noise


def availability_series(
    role: PeriodRole, availability: np.ndarray, planned_s: np.ndarray, start: date = START
) -> KpiSeries:
    """An availability series from daily availability and planned time (run = A × planned)."""
    sums = np.column_stack([availability * planned_s, planned_s])
    return KpiSeries(
        "availability", role, tuple(days(len(planned_s), start)), ("run_s", "planned_s"), sums
    )


def simulated_rows(
    first: date,
    last: date,
    *,
    availability: float,
    seed: int,
    devices: tuple[str, ...] = ("press-1", "press-2"),
    energy_factor: float = 1.0,
    **changes: Any,
) -> list[DailyRow]:
    """Device-days from ``first`` to ``last``: availability ± 2 pp a day, ideal cycle 20 s,
    performance 0.85, 2 % rejects, energy 200 kWh + 0.5 kWh a part (× ``energy_factor``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        for device in devices:
            a = float(np.clip(availability + rng.normal(0, 0.02), 0.05, 1.0))
            run = a * 28800.0
            total = int(0.85 * run / 20.0) + int(rng.integers(0, 5))
            rejects = round(float(total * 0.02 + rng.normal(0, 2)))
            rejects = max(0, min(total, rejects))
            good = total - rejects
            energy = energy_factor * (200.0 + 0.5 * good) + float(rng.normal(0, 5))
            values: dict[str, Any] = {
                "run_s": run,
                "idle_s": (1 - a) * 28800.0 / 2,
                "down_s": (1 - a) * 28800.0 / 2,
                "total_count": total,
                "good_count": good,
                "reject_count": rejects,
                "ideal_count_s": 20.0 * total,
                "ideal_good_s": 20.0 * good,
                "energy_kwh": energy,
            }
            rows.append(device_day(day, device=device, **{**values, **changes}))
    return rows


def shift_plant_rows(enterprise: Enterprise, hours_after: float | None) -> list[DailyRow]:
    """Two presses whose planned hours change day to day (8 or 16 h, a second shift on some
    days), each drawing 60 kWh a day + 9 kWh per planned hour + 0.5 kWh a good part before
    go-live, 0.4 after. ``hours_after`` fixes the reporting days' hours (a shift pattern that
    changed); None keeps the baseline's pattern."""
    rng = np.random.default_rng(12)
    rows = []
    first, last = enterprise.baseline.start, enterprise.reporting.end
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        after = day >= enterprise.go_live
        for device in ("press-1", "press-2"):
            hours = 8.0 if (offset * 7 + len(device)) % 3 == 0 else 16.0
            if after and hours_after is not None:
                hours = hours_after
            planned = hours * 3600
            run = float(rng.uniform(0.55, 0.9)) * planned
            good = int(0.85 * run / 20.0)
            per_part = 0.4 if after else 0.5
            energy = 60.0 + 9.0 * hours + per_part * good + float(rng.normal(0, 6))
            rows.append(
                device_day(
                    day, device, scheduled_s=planned, planned_s=planned, run_s=run,
                    idle_s=planned - run, down_s=0.0, total_count=good, good_count=good,
                    reject_count=0, ideal_count_s=20.0 * good, ideal_good_s=20.0 * good,
                    energy_kwh=energy,
                )
            )  # fmt: skip
    return rows
