"""Daily KPI series and data coverage of an enterprise, from the daily rollups in InfluxDB.

The same code path as the evidence bundle (:func:`collector.evidence.plan_days`): device-day
sums are added over the enterprise's devices within the plan's energy boundary, and the KPI is
the ratio of the day's sums, never a mean of ratios. These are for charts and checks; the
verdict is the bundle's.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from collector.evidence import plan_days
from collector.plan import Enterprise
from collector.store import InfluxStore
from collector.store.influxql import measurement_path, quote_literal
from collector.store.schema import KPI_WINDOW
from collector.web.schemas import CoverageDayOut, KpiPointOut

__all__ = ["MAX_SERIES_DAYS", "coverage_days", "kpi_points", "last_window_ends", "place_of"]

#: Longest range one request may ask for: two years of days.
MAX_SERIES_DAYS = 800
#: How far back the fleet page looks for an agent's last window.
_LAST_WINDOW_LOOKBACK = dt.timedelta(days=30)


def place_of(
    enterprise: Enterprise, day: dt.date
) -> Literal["baseline", "between", "reporting", "outside"]:
    """Where a day lies against the plan's baseline and reporting periods (rectifications too)."""
    if enterprise.baseline.start <= day <= enterprise.baseline.end:
        return "baseline"
    periods = [enterprise.reporting, *(r.reporting for r in enterprise.rectifications)]
    if any(p.start <= day <= p.end for p in periods):
        return "reporting"
    last_end = max(p.end for p in periods)
    if enterprise.baseline.end < day <= last_end:
        return "between"
    return "outside"


async def kpi_points(
    store: InfluxStore, enterprise: Enterprise, kpi: str, start: dt.date, end: dt.date
) -> list[KpiPointOut]:
    """One point per day with data, in date order; raises StoreError from the store."""
    rows = await store.daily(enterprise.id, start, end)
    return [
        KpiPointOut(
            day=day.day,
            place=place_of(enterprise, day.day),
            value=day.value(kpi),
            coverage=day.coverage,
        )
        for day in plan_days(enterprise, rows)
    ]


async def coverage_days(
    store: InfluxStore, enterprise: Enterprise, start: dt.date, end: dt.date
) -> list[CoverageDayOut]:
    """One line per day with data: devices, scheduled time, comm loss, coverage, imported."""
    rows = await store.daily(enterprise.id, start, end)
    return [
        CoverageDayOut(
            day=day.day,
            devices=day.devices,
            scheduled_s=day.scheduled_s,
            scheduled_comm_loss_s=day.scheduled_comm_loss_s,
            coverage=day.coverage,
            imported_share=(
                day.imported_scheduled_s / day.scheduled_s if day.scheduled_s > 0 else None
            ),
        )
        for day in plan_days(enterprise, rows)
    ]


async def last_window_ends(
    store: InfluxStore, platform: str, now: dt.datetime
) -> dict[str, dt.datetime]:
    """Agent id → end of its latest raw window of the last 30 days, for one platform."""
    since_ms = int((now - _LAST_WINDOW_LOOKBACK).timestamp() * 1000)
    source = measurement_path(store.database, store.raw_retention_policy, KPI_WINDOW)
    rows = await store.query(
        # The platform id is quoted by quote_literal; the rest are literals.
        f'SELECT last("duration_s") FROM {source} WHERE "platform" = {quote_literal(platform)} '  # noqa: S608
        f'AND time > {since_ms}ms GROUP BY "agent"'
    )
    return {
        str(row["agent"]): dt.datetime.fromtimestamp(int(row["time"]) / 1000, dt.UTC)
        for row in rows
        if row.get("agent") is not None and row.get("time") is not None
    }
