"""``/api/v1/enterprises``: the list, one enterprise, its data coverage, KPI series and day-seal
checks."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from collector.store import StoreError
from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.directory import EnterpriseRef
from collector.web.jsonbody import StrictJsonRoute
from collector.web.problems import unavailable
from collector.web.registry_wait import registry_call
from collector.web.routes.common import (
    Day,
    EnterprisePath,
    Limit,
    Offset,
    State,
    check_kpi,
    check_range,
    page_of,
)
from collector.web.schemas import (
    CoverageOut,
    DayCheckOut,
    EnterpriseOut,
    EnterpriseSummaryOut,
    KpiSeriesOut,
    Page,
)
from collector.web.services import (
    MAX_SERIES_DAYS,
    agents_of,
    bundle_out,
    coverage_days,
    day_checks_of,
    decision_out,
    enterprise_summary,
    influx_store,
    kpi_points,
    targets_of,
)

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)


@router.get(
    "/enterprises",
    name="api.enterprises.list",
    response_model=Page[EnterpriseSummaryOut],
    summary="Enterprises the caller sees",
)
def enterprises(
    user: CurrentUser,
    state: State,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    province: Annotated[str | None, Query(max_length=6)] = None,
    status: Annotated[str | None, Query(pattern=r"^(pass|fail|insufficient_data|none)$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Enterprises with their latest verdict and decision; filter by platform, province,
    verdict (``none``: no evidence yet)."""
    directory = state.directory()
    decisions = state.registry.latest_decisions()
    chosen = sorted(
        (
            e
            for e in directory.enterprises.values()
            if user.sees(e.province_code, e.platform.id)
            and (platform is None or e.platform.id == platform)
            and (province is None or e.province_code == province)
        ),
        key=lambda e: (e.platform.id, e.id),
    )
    lines = [
        enterprise_summary(e, state.bundles.latest(e.id), decisions.get((e.platform.id, e.id)))
        for e in chosen
    ]
    if status is not None:
        lines = [line for line in lines if (line.status or "none") == status]
    return page_of(list(lines), limit, offset)


@router.get(
    "/enterprises/{enterprise_id}",
    name="api.enterprises.get",
    response_model=EnterpriseOut,
    summary="An enterprise: plan, targets, periods, agents, devices, evidence, decision",
)
def enterprise(enterprise_id: EnterprisePath, user: CurrentUser, state: State) -> EnterpriseOut:
    """The plan's record of the enterprise, its agents now, its latest bundle and decision."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    e = ref.enterprise
    agents = agents_of(state, ref, dt.datetime.now(dt.UTC))
    latest = state.bundles.latest(e.id)
    decisions = state.registry.decisions(ref.platform.id, e.id)
    return EnterpriseOut(
        id=e.id,
        name=e.name,
        industry=e.industry,
        solution=e.solution,
        timezone=e.timezone,
        retrofit_cost_fen=e.retrofit_cost_fen,
        platform=ref.platform.id,
        platform_name=ref.platform.platform.name,
        province_code=ref.province_code,
        plan_key=ref.platform.plan_key,
        plan_version=ref.platform.plan_version,
        baseline={"start": e.baseline.start, "end": e.baseline.end},
        go_live=e.go_live,
        reporting={"start": e.reporting.start, "end": e.reporting.end},
        rectifications=[r.model_dump(mode="json") for r in e.rectifications],
        targets=targets_of(e),
        devices=sorted({d for a in agents for d in a.devices}),
        agents=agents,
        latest_bundle=None if latest is None else bundle_out(latest.info, latest.document),
        decision=decision_out(decisions[-1]) if decisions else None,
    )


def _days(
    ref: EnterpriseRef, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    e = ref.enterprise
    first = start or e.baseline.start
    last = end or max([e.reporting.end, *(r.reporting.end for r in e.rectifications)])
    check_range(first, last, max_days=MAX_SERIES_DAYS)
    return first, last


@router.get(
    "/enterprises/{enterprise_id}/coverage",
    name="api.enterprises.coverage",
    response_model=CoverageOut,
    summary="Data coverage per day, from the daily rollups",
)
async def coverage(
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
) -> CoverageOut:
    """Per local day: devices, scheduled time, comm loss, coverage, imported share.
    Default range: baseline start to the last reporting end; at most 800 days."""
    ref = scope.enterprise_in_scope(
        user, await registry_call(state, state.directory), enterprise_id
    )
    first, last = _days(ref, start, end)
    store = influx_store(state)
    try:
        days = await coverage_days(store, ref.enterprise, first, last)
    except StoreError as exc:
        raise unavailable("the InfluxDB read", exc, headers=_retry(exc)) from None
    return CoverageOut(enterprise=ref.id, start=first, end=last, days=days)


def _retry(exc: StoreError) -> dict[str, str]:
    after = getattr(exc, "retry_after_s", None)
    return {"Retry-After": str(int(after))} if after else {}


@router.get(
    "/enterprises/{enterprise_id}/kpis/{kpi}",
    name="api.enterprises.kpi_series",
    response_model=KpiSeriesOut,
    summary="A KPI's daily series, from the daily rollups",
)
async def kpi_series(
    enterprise_id: EnterprisePath,
    kpi: str,
    user: CurrentUser,
    state: State,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
) -> KpiSeriesOut:
    """Daily values of one KPI (ratios of each day's summed base quantities)."""
    ref = scope.enterprise_in_scope(
        user, await registry_call(state, state.directory), enterprise_id
    )
    check_kpi(kpi)
    first, last = _days(ref, start, end)
    store = influx_store(state)
    try:
        points = await kpi_points(store, ref.enterprise, kpi, first, last)
    except StoreError as exc:
        raise unavailable("the InfluxDB read", exc, headers=_retry(exc)) from None
    return KpiSeriesOut(enterprise=ref.id, kpi=kpi, start=first, end=last, points=points)


@router.get(
    "/enterprises/{enterprise_id}/day-checks",
    name="api.enterprises.day_checks",
    response_model=Page[DayCheckOut],
    summary="Each daily row checked against its agent's day seal",
)
def day_checks(
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    start: Annotated[Day | None, Query(alias="from")] = None,
    end: Annotated[Day | None, Query(alias="to")] = None,
    outcome: Annotated[
        str | None, Query(pattern=r"^(sealed_equal|sealed_different|unsealed)$")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Per (agent, device, provenance, local day): sealed and equal, sealed and different
    (each figure with the stored and the sealed value) or unsealed (``overdue`` a day after
    the day's end). Default range: baseline start to the last reporting end; at most 800 days.
    """
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    first, last = _days(ref, start, end)
    rows = day_checks_of(state, ref, first, last, outcome, dt.datetime.now(dt.UTC))
    return page_of(list(rows), limit, offset)
