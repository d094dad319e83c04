"""The web's KPI series and the bundle use one code path, measurement boundary included
(issue #16, method §1): on a facility-metered plan (IPMVP option C) the API's energy per unit
equals the bundle's, day by day, from the same daily rollups in a real influxd."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.evidence import EnterpriseInputs, enterprise_days, enterprise_evidence
from collector.evidence.document import PlanRefDoc, SoftwareDoc
from collector.plan import parse_plan
from collector.store import WindowRecord, affected_days
from collector.web.services.series import kpi_points
from stack import InfluxServer
from tests.collector.store_helpers import open_store, quality, window

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

PLAN = Path(__file__).parents[1] / "plan_cases" / "valid_minimal" / "plan.yaml"
ENTERPRISE, AGENT = "plat-a-e01", "plat-a-e01-gw"
UTC8 = dt.timezone(dt.timedelta(hours=8))
HOUR = 3600
FIRST, LAST = dt.date(2026, 3, 23), dt.date(2026, 3, 29)  # the baseline's last week
SOFTWARE = SoftwareDoc(retrofit_verify="0.test", python="3", numpy="2", scipy="1", statsmodels="0")


def _facility_plan_text() -> str:
    """The minimal plan with energy per unit measured at the main meter ``meter-1``."""
    text = PLAN.read_text(encoding="utf-8")
    old = 'energy_per_unit: {direction: decrease, size: 8, unit: "%", required: false}'
    new = (
        'energy_per_unit: {direction: decrease, size: 8, unit: "%", required: false, '
        "boundary: facility, meters: [meter-1]}"
    )
    if old not in text:
        raise ValueError(f"{PLAN}: the energy target line changed; update this test")
    return text.replace(old, new)


def _windows() -> list[WindowRecord]:
    """press-1 counts parts 08–16 without a meter; meter-1 measures energy every hour."""
    records: list[WindowRecord] = []
    for offset in range((LAST - FIRST).days + 1):
        day = FIRST + dt.timedelta(days=offset)
        for hour in range(24):
            end = dt.datetime.combine(day, dt.time(hour), tzinfo=UTC8) + dt.timedelta(hours=1)
            end = end.astimezone(dt.UTC)
            meter = window(
                end, device="meter-1", seconds=HOUR, quality=quality(samples=HOUR),
                scheduled_s=0.0, planned_s=0.0, run_s=None, idle_s=None, down_s=None,
                off_s=None, planned_stop_s=None, total_count=None, good_count=None,
                reject_count=None, ideal_cycle_s=None, energy_kwh=20.0 + offset + hour / 10,
            )  # fmt: skip
            records.append(WindowRecord("plat-a", ENTERPRISE, AGENT, len(records) + 1, meter))
            if 8 <= hour < 16:
                press = window(
                    end, device="press-1", seconds=HOUR, quality=quality(samples=HOUR),
                    total_count=100 + offset, good_count=98 + offset, reject_count=2,
                    energy_kwh=None,
                )  # fmt: skip
                records.append(WindowRecord("plat-a", ENTERPRISE, AGENT, len(records) + 1, press))
    return records


async def test_api_energy_series_equals_the_bundles_on_a_facility_plan(
    influxd: InfluxServer,
) -> None:
    plan = parse_plan(_facility_plan_text(), "plan.yaml").plan
    platform = plan.platforms[0]
    enterprise = platform.enterprises[0]
    records = _windows()
    async with open_store(influxd) as store:
        await store.write(records)
        await store.refresh_days(affected_days(records, {ENTERPRISE: "Asia/Shanghai"}))
        rows = await store.daily(ENTERPRISE, FIRST, LAST)
        points = await kpi_points(store, enterprise, "energy_per_unit", FIRST, LAST)
    doc = enterprise_evidence(
        EnterpriseInputs(
            plan=plan,
            plan_ref=PlanRefDoc(key=plan.key, version=1, digest="sha256:" + "0" * 64),
            platform=platform,
            enterprise=enterprise,
            rows=tuple(rows),
        ),
        software=SOFTWARE,
    )
    kpi = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    bundle = {p.day: p.value for p in kpi.daily if FIRST <= p.day <= LAST}
    api = {p.day: p.value for p in points}
    assert len(api) == 7 and all(value is not None for value in api.values())
    assert api == bundle  # equal floats: one code path, not two that agree to rounding
    # Without the boundary (what the API did before) the meter is outside it, the press has no
    # energy, and energy per unit is undefined every day: the series above could differ.
    assert all(day.value("energy_per_unit") is None for day in enterprise_days(rows))
