"""The JSON API under ``/api/v1``: every route named, role-gated (access.py) and scoped.

Handlers that only read the registry are plain functions (FastAPI runs them in its thread
pool: sqlite3 blocks); those that ask InfluxDB are async. Every id in a path is resolved with
:mod:`collector.web.scope`, which answers 404 for what the caller may not see.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import logging
import mimetypes
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi import Path as Path_
from fastapi.responses import Response

from collector.bundle import MANIFEST_NAME, BundleDamaged, LoadedBundle
from collector.evidence import DEFAULT_SEED
from collector.registry.records import format_time
from collector.store import InfluxStore, StoreError
from collector.web import scope
from collector.web.auth import CurrentUser
from collector.web.directory import EnterpriseRef
from collector.web.jsonbody import StrictJsonRoute
from collector.web.principal import Principal
from collector.web.problems import Problem, unavailable
from collector.web.routes.common import (
    AgentPath,
    BundleFilePath,
    BundlePath,
    Day,
    EnterprisePath,
    Limit,
    Moment,
    Offset,
    PlatformPath,
    ProvincePath,
    check_kpi,
    check_range,
)
from collector.web.runs import run_queued
from collector.web.schemas import (
    AgentOut,
    AuditOut,
    BundleFileOut,
    BundleOut,
    CoverageOut,
    DecisionIn,
    DecisionOut,
    EnterpriseOut,
    EnterpriseSummaryOut,
    EvidenceOut,
    EvidenceRunIn,
    KpiSeriesOut,
    MeOut,
    Page,
    PlatformOut,
    PlatformSummaryOut,
    ProvinceDetailOut,
    ProvinceOut,
    QuarantineDetailOut,
    QuarantineOut,
    RectificationsOut,
    RollupOut,
    UserOut,
)
from collector.web.series import MAX_SERIES_DAYS, coverage_days, kpi_points, last_window_ends
from collector.web.state import WebState, web_state
from collector.web.summaries import (
    agent_out,
    attempt_out,
    audit_out,
    bundle_out,
    decision_out,
    enterprise_summary,
    platform_rollup,
    platform_summary,
    quarantine_out,
    targets_of,
)

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["api"], route_class=StrictJsonRoute)
State = Annotated[WebState, Depends(web_state)]

_MEDIA_TYPES = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".svg": "image/svg+xml",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def _page(items: list[object], limit: int, offset: int) -> dict[str, object]:
    """A page of an in-memory list (lists built from the plans: hundreds, not millions)."""
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }


def _bundle(state: WebState, ref: EnterpriseRef, bundle_id: str) -> LoadedBundle:
    try:
        loaded = state.bundles.load(ref.id, bundle_id)
    except BundleDamaged as exc:
        raise Problem(409, f"{exc}: changed after it was written", kind="damaged") from None
    if loaded is None:
        raise Problem(404, f"no bundle {bundle_id[:12]}... for enterprise {ref.id}")
    return loaded


def _latest(state: WebState, enterprise_id: str) -> LoadedBundle | None:
    return state.bundles.latest(enterprise_id)


def _store(state: WebState) -> InfluxStore:
    if state.store is None:
        raise Problem(503, "no InfluxDB is configured for this app (influx: in the config)")
    return state.store


# --- the caller ---------------------------------------------------------------------------


@router.get("/me", name="api.me", response_model=MeOut, summary="The caller: role and scope")
def me(user: CurrentUser) -> MeOut:
    """Who the token or session belongs to, with role and scope."""
    return MeOut(
        user_id=user.user_id,
        display_name=user.display_name,
        role=user.role,
        platform=user.platform,
        province=user.province,
        via=user.via,
    )


# --- provinces and platforms ---------------------------------------------------------------


@router.get(
    "/provinces",
    name="api.provinces.list",
    response_model=Page[ProvinceOut],
    summary="Provinces with loaded plans",
)
def provinces(user: CurrentUser, state: State, limit: Limit = 50, offset: Offset = 0) -> object:
    """Provinces the caller sees, by code."""
    directory = state.directory()
    items: list[object] = []
    for code in sorted(directory.provinces):
        if not user.sees_province(code):
            continue
        province = directory.provinces[code]
        platforms = directory.platforms_of(code)
        items.append(
            ProvinceOut(
                code=code,
                name=province.name,
                plan_keys=list(province.plan_keys),
                platforms=len(platforms),
                enterprises=sum(len(p.platform.enterprises) for p in platforms),
            )
        )
    return _page(items, limit, offset)


@router.get(
    "/provinces/{code}",
    name="api.provinces.get",
    response_model=ProvinceDetailOut,
    summary="A province's platforms, pass counts and subsidy",
)
def province(
    code: ProvincePath,
    user: CurrentUser,
    state: State,
) -> ProvinceDetailOut:
    """The province overview: each platform's passes against the minimum of 10, subsidy."""
    directory = state.directory()
    ref = scope.province_in_scope(user, directory, code)
    decisions = state.registry.latest_decisions()
    summaries = [
        platform_summary(p, platform_rollup(p, state.bundles, decisions))
        for p in directory.platforms_of(code)
    ]
    return ProvinceDetailOut(
        code=ref.code,
        name=ref.name,
        plan_keys=list(ref.plan_keys),
        platforms=summaries,
        enterprises=sum(s.enterprises for s in summaries),
        reviewed_passed=sum(s.reviewed_passed for s in summaries),
        subsidy_fen=sum(s.subsidy_fen for s in summaries),
    )


@router.get(
    "/platforms",
    name="api.platforms.list",
    response_model=Page[PlatformSummaryOut],
    summary="Platforms the caller sees",
)
def platforms(
    user: CurrentUser,
    state: State,
    province: Annotated[str | None, Query(pattern=r"^[1-9][0-9]{5}$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Platforms with pass counts and subsidy by review; filter by province code."""
    directory = state.directory()
    decisions = state.registry.latest_decisions()
    chosen = [
        p
        for p in scope.visible_platforms(user, directory)
        if province is None or p.province.code == province
    ]
    page = chosen[offset : offset + limit]
    items: list[object] = [
        platform_summary(p, platform_rollup(p, state.bundles, decisions)) for p in page
    ]
    return {"items": items, "total": len(chosen), "limit": limit, "offset": offset}


@router.get(
    "/platforms/{platform_id}",
    name="api.platforms.get",
    response_model=PlatformOut,
    summary="A platform and its enterprises",
)
def platform(platform_id: PlatformPath, user: CurrentUser, state: State) -> PlatformOut:
    """The platform's enterprises with verdict, flags, coverage and the decision in force."""
    directory = state.directory()
    ref = scope.platform_in_scope(user, directory, platform_id)
    decisions = state.registry.latest_decisions()
    rollup = platform_rollup(ref, state.bundles, decisions)
    summary = platform_summary(ref, rollup)
    lines = [
        enterprise_summary(e, _latest(state, e.id), decisions.get((ref.id, e.id)))
        for e in directory.enterprises_of(ref.id)
    ]
    return PlatformOut(**summary.model_dump(), enterprise_list=lines)


@router.get(
    "/platforms/{platform_id}/rollup",
    name="api.platforms.rollup",
    response_model=RollupOut,
    summary="A platform's roll-up and subsidy",
)
def rollup(platform_id: PlatformPath, user: CurrentUser, state: State) -> RollupOut:
    """Passed enterprises by review decision, the minimum of 10 and the subsidy in fen."""
    ref = scope.platform_in_scope(user, state.directory(), platform_id)
    return platform_rollup(ref, state.bundles, state.registry.latest_decisions())


# --- enterprises ---------------------------------------------------------------------------


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
        enterprise_summary(e, _latest(state, e.id), decisions.get((e.platform.id, e.id)))
        for e in chosen
    ]
    if status is not None:
        lines = [line for line in lines if (line.status or "none") == status]
    return _page(list(lines), limit, offset)


def _agents_of(state: WebState, ref: EnterpriseRef, now: dt.datetime) -> list[AgentOut]:
    statuses = state.registry.agent_statuses()
    gaps = state.registry.open_gap_counts()
    return [
        agent_out(
            a,
            statuses.get(a.agent_id),
            gaps.get(a.agent_id, (0, 0)),
            now=now,
            offline_after_s=state.settings.agent_offline_after_s,
        )
        for a in state.registry.agents(platform=ref.platform.id)
        if a.enterprise == ref.id
    ]


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
    agents = _agents_of(state, ref, dt.datetime.now(dt.UTC))
    latest = _latest(state, e.id)
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
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    first, last = _days(ref, start, end)
    store = _store(state)
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
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    check_kpi(kpi)
    first, last = _days(ref, start, end)
    store = _store(state)
    try:
        points = await kpi_points(store, ref.enterprise, kpi, first, last)
    except StoreError as exc:
        raise unavailable("the InfluxDB read", exc, headers=_retry(exc)) from None
    return KpiSeriesOut(enterprise=ref.id, kpi=kpi, start=first, end=last, points=points)


# --- evidence ------------------------------------------------------------------------------


@router.get(
    "/enterprises/{enterprise_id}/evidence",
    name="api.evidence.list",
    response_model=list[BundleOut],
    summary="An enterprise's stored evidence bundles",
)
def evidence_list(enterprise_id: EnterprisePath, user: CurrentUser, state: State) -> object:
    """Bundles, newest stored first (at most 200)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    items = []
    for info in state.bundles.bundles(ref.id)[:200]:
        try:
            loaded = state.bundles.load(ref.id, info.bundle_id)
        except BundleDamaged:
            continue
        if loaded is not None:
            items.append(bundle_out(loaded.info, loaded.document))
    return items


@router.post(
    "/enterprises/{enterprise_id}/evidence",
    name="api.evidence.run",
    status_code=201,
    response_model=BundleOut,
    summary="Run the evidence engine for an enterprise now",
)
async def evidence_run(
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    body: Annotated[EvidenceRunIn | None, Body()] = None,
) -> BundleOut:
    """Build the evidence from the data now in InfluxDB and store its bundle (idempotent:
    the same data and seed give the same bundle id). Limited per user, per enterprise and in
    all (429 with Retry-After); only an administrator may choose the seed."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    seed = None if body is None else body.seed
    if seed is not None and seed != DEFAULT_SEED and user.role != "admin":
        raise Problem(
            403,
            f"only an administrator may choose the seed; leave it out (default {DEFAULT_SEED})",
            kind="forbidden",
        )
    return await run_and_audit(state, user, ref, seed)


async def run_and_audit(
    state: WebState, user: Principal, ref: EnterpriseRef, seed: int | None
) -> BundleOut:
    """Run the engine for ``ref`` through the shared queue (collector/web/runs.py); the run
    audits itself. Raises Problem 429 (a limit is full) or 503 (failed, or still running)."""
    _store(state)
    info = await run_queued(state, user, ref, DEFAULT_SEED if seed is None else seed)
    loaded = _bundle(state, ref, info.bundle_id)
    return bundle_out(loaded.info, loaded.document)


@router.get(
    "/enterprises/{enterprise_id}/evidence/{bundle_id}",
    name="api.evidence.get",
    response_model=EvidenceOut,
    summary="A bundle's verdicts, intervals, flags and subsidy",
)
def evidence_get(
    enterprise_id: EnterprisePath, bundle_id: BundlePath, user: CurrentUser, state: State
) -> EvidenceOut:
    """Every attempt's KPI verdicts with intervals and targets, the flags, integrity, subsidy."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    loaded = _bundle(state, ref, bundle_id)
    doc = loaded.document
    return EvidenceOut(
        **bundle_out(loaded.info, doc).model_dump(),
        attempt_list=[attempt_out(a) for a in doc.attempts],
        flag_list=list(doc.flags),
        integrity=doc.integrity,
        subsidy=doc.subsidy,
    )


def _media_type(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    return _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


@router.get(
    "/enterprises/{enterprise_id}/evidence/{bundle_id}/files",
    name="api.evidence.files",
    response_model=list[BundleFileOut],
    summary="A bundle's files and their SHA-256",
)
def evidence_files(
    enterprise_id: EnterprisePath, bundle_id: BundlePath, user: CurrentUser, state: State
) -> list[BundleFileOut]:
    """The manifest's files (and the manifest itself, whose SHA-256 is the bundle id)."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    loaded = _bundle(state, ref, bundle_id)
    base = f"/api/v1/enterprises/{ref.id}/evidence/{bundle_id}/files/"
    files = {**loaded.info.files, MANIFEST_NAME: bundle_id}
    return [
        BundleFileOut(name=n, sha256=sha, media_type=_media_type(n), url=base + n)
        for n, sha in sorted(files.items())
    ]


@router.get(
    "/enterprises/{enterprise_id}/evidence/{bundle_id}/files/{name}",
    name="api.evidence.file",
    summary="One file of a bundle, checked against the manifest",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def evidence_file(
    enterprise_id: EnterprisePath,
    bundle_id: BundlePath,
    name: BundleFilePath,
    user: CurrentUser,
    state: State,
) -> Response:
    """The file's bytes; 409 if they no longer match the manifest."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return bundle_file_response(state, ref, bundle_id, name)


def bundle_file_response(
    state: WebState, ref: EnterpriseRef, bundle_id: str, name: str
) -> Response:
    """A bundle file as a response: checked bytes, its type, and a sandbox for HTML and SVG."""
    try:
        data = state.bundles.read_file(ref.id, bundle_id, name)
    except BundleDamaged as exc:
        raise Problem(409, f"{exc}: changed after it was written", kind="damaged") from None
    if data is None:
        raise Problem(404, f"no file {name[:80]!r} in bundle {bundle_id[:12]}...")
    media_type = _media_type(name)
    headers = {"X-Content-SHA256": _sha(data)}
    if media_type.startswith(("text/html", "image/svg")):
        # Bundle HTML is ours, but it quotes plan text; a sandbox keeps it inert whatever it holds.
        headers["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
        )
    if media_type == "application/octet-stream":
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(content=data, media_type=media_type, headers=headers)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- decisions and rectifications ----------------------------------------------------------


@router.get(
    "/enterprises/{enterprise_id}/decisions",
    name="api.decisions.list",
    response_model=list[DecisionOut],
    summary="Review decisions on an enterprise",
)
def decisions_list(enterprise_id: EnterprisePath, user: CurrentUser, state: State) -> object:
    """Every decision, oldest first; the last is in force."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return [decision_out(d) for d in state.registry.decisions(ref.platform.id, ref.id)]


@router.post(
    "/enterprises/{enterprise_id}/decisions",
    name="api.decisions.record",
    status_code=201,
    response_model=DecisionOut,
    summary="Record a review decision on a bundle",
)
def decisions_record(
    enterprise_id: EnterprisePath, body: DecisionIn, user: CurrentUser, state: State
) -> DecisionOut:
    """Pass, fail or rectify, with a comment, on one of the enterprise's bundles."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    return record_decision(state, user, ref, body)


def record_decision(
    state: WebState, user: Principal, ref: EnterpriseRef, body: DecisionIn
) -> DecisionOut:
    """Check the bundle is the enterprise's, append the decision (audited), count it."""
    loaded = _bundle(state, ref, body.bundle_id)

    def still_stored() -> None:
        # Checked again under the registry's write lock, which pruning also holds
        # (runs.prune_bundles): a decision never cites a bundle deleted meanwhile.
        _bundle(state, ref, body.bundle_id)

    try:
        decision = state.registry.record_decision(
            platform=ref.platform.id,
            enterprise=ref.id,
            bundle_sha256=body.bundle_id,
            evidence_status=loaded.document.status,
            outcome=body.outcome,
            comment=body.comment,
            by=user.user_id,
            check_bundle=still_stored,
        )
    except ValueError as exc:
        raise Problem(422, str(exc)) from None
    state.metrics.count(state.metrics.decisions, decision.outcome)
    return decision_out(decision)


@router.get(
    "/enterprises/{enterprise_id}/rectifications",
    name="api.rectifications.list",
    response_model=RectificationsOut,
    summary="Rectifications asked for, planned and attempted",
)
def rectifications(
    enterprise_id: EnterprisePath, user: CurrentUser, state: State
) -> RectificationsOut:
    """Decisions asking for rectification, the plan's rectification periods, and the latest
    bundle's attempts (original and rectifications) with their verdicts."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    asked = [d for d in state.registry.decisions(ref.platform.id, ref.id) if d.outcome == "rectify"]
    latest = _latest(state, ref.id)
    return RectificationsOut(
        enterprise=ref.id,
        requested=[decision_out(d) for d in asked],
        planned=[r.model_dump(mode="json") for r in ref.enterprise.rectifications],
        attempts=[] if latest is None else [attempt_out(a) for a in latest.document.attempts],
    )


# --- fleet, quarantine, audit, users -------------------------------------------------------


@router.get(
    "/fleet",
    name="api.fleet.list",
    response_model=Page[AgentOut],
    summary="Live fleet status: agents online/offline, last window, outbox, seq gaps",
)
async def fleet(
    user: CurrentUser,
    state: State,
    platform: Annotated[str | None, Query(max_length=64)] = None,
    agent_state: Annotated[
        str | None, Query(alias="state", pattern=r"^(online|offline|never_seen|revoked)$")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[AgentOut]:
    """Agents the caller sees, with their last status, open seq gaps and last window."""
    lines = await asyncio.to_thread(fleet_lines, state, user, platform)
    if agent_state is not None:
        lines = [line for line in lines if line.state == agent_state]
    page = lines[offset : offset + limit]
    page = await _with_last_windows(state, page)
    return Page[AgentOut](items=page, total=len(lines), limit=limit, offset=offset)


def fleet_lines(state: WebState, user: Principal, platform: str | None) -> list[AgentOut]:
    """The caller's agents with status (without last windows), by platform and id."""
    directory = state.directory()
    statuses = state.registry.agent_statuses()
    gaps = state.registry.open_gap_counts()
    now = dt.datetime.now(dt.UTC)
    return [
        agent_out(
            a,
            statuses.get(a.agent_id),
            gaps.get(a.agent_id, (0, 0)),
            now=now,
            offline_after_s=state.settings.agent_offline_after_s,
        )
        for a in scope.visible_agents(user, directory, state.registry)
        if platform is None or a.platform == platform
    ]


async def _with_last_windows(state: WebState, page: list[AgentOut]) -> list[AgentOut]:
    # Best effort: the fleet page must show agent state even while InfluxDB is down.
    if state.store is None or not page:
        return page
    ends: dict[str, dt.datetime] = {}
    now = dt.datetime.now(dt.UTC)
    try:
        for platform_id in sorted({line.platform for line in page}):
            ends.update(await last_window_ends(state.store, platform_id, now))
    except StoreError:
        return page
    return [line.model_copy(update={"last_window_end": ends.get(line.agent_id)}) for line in page]


@router.get(
    "/agents/{agent_id}",
    name="api.agents.get",
    response_model=AgentOut,
    summary="One agent's live status",
)
def agent(
    agent_id: AgentPath,
    user: CurrentUser,
    state: State,
) -> AgentOut:
    """The agent's registration, last status and open seq gaps."""
    entry = scope.agent_in_scope(user, state.directory(), state.registry, agent_id)
    gaps = state.registry.seq_gaps(agent_id)
    return agent_out(
        entry,
        state.registry.agent_status(agent_id),
        (len(gaps), sum(g.missing for g in gaps)),
        now=dt.datetime.now(dt.UTC),
        offline_after_s=state.settings.agent_offline_after_s,
    )


@router.get(
    "/quarantine",
    name="api.quarantine.list",
    response_model=Page[QuarantineOut],
    summary="Messages the ingest rejected, newest first",
)
def quarantine_list(
    user: CurrentUser,
    state: State,
    reason: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,39}$")] = None,
    since: Annotated[Moment | None, Query()] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Quarantined messages on the caller's platforms' topics (all, for national roles)."""
    directory = state.directory()
    visible = scope.quarantine_scope(user, directory, state.registry)
    start = None if since is None else format_time(since)
    entries, total = state.registry.quarantine_page(
        scope=visible, reason=reason, since=start, limit=limit, offset=offset
    )
    return {
        "items": [quarantine_out(e) for e in entries],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/quarantine/{entry_id}",
    name="api.quarantine.get",
    response_model=QuarantineDetailOut,
    summary="One quarantined message with its bytes",
)
def quarantine_get(
    entry_id: Annotated[int, Path_(ge=1, le=2**62)], user: CurrentUser, state: State
) -> QuarantineDetailOut:
    """The message's kept bytes (base64, and text when UTF-8), reason and detail."""
    visible = scope.quarantine_scope(user, state.directory(), state.registry)
    entries, _ = state.registry.quarantine_page(scope=visible, entry_id=entry_id, limit=1, offset=0)
    entry = state.registry.quarantine_get(entry_id) if entries else None
    if entry is None:
        raise Problem(404, f"no quarantined message {entry_id} that you may see")
    try:
        text: str | None = entry.raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return QuarantineDetailOut(
        **quarantine_out(entry).model_dump(),
        raw_base64=base64.b64encode(entry.raw).decode(),
        raw_utf8=text,
        truncated=entry.truncated,
    )


@router.get(
    "/audit",
    name="api.audit.list",
    response_model=Page[AuditOut],
    summary="The audit log, newest first",
)
def audit(
    user: CurrentUser,
    state: State,
    action: Annotated[str | None, Query(pattern=r"^[a-z][a-z._]{0,39}$")] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> object:
    """Every change to plans, agents, keys, users, decisions and evidence runs the caller
    may see (their own platform's or province's, or all for national roles)."""
    subjects = scope.audit_subjects(user, state.directory(), state.registry)
    entries, total = state.registry.audit_page(
        subjects=subjects, action=action, subject=subject, limit=limit, offset=offset
    )
    return {
        "items": [audit_out(e) for e in entries],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/users", name="api.users.list", response_model=list[UserOut], summary="Users (admin)")
def users(user: CurrentUser, state: State) -> list[UserOut]:
    """Every user with role and scope; secrets are never stored, so never shown."""
    return [
        UserOut(
            user_id=u.user_id,
            display_name=u.display_name,
            role=u.role,
            platform=u.platform,
            province=u.province,
            created_at=u.created_at,
            created_by=u.created_by,
            disabled_at=u.disabled_at,
        )
        for u in state.registry.users()
    ]


def request_principal(request: Request) -> Principal | None:
    """The principal an earlier dependency put on the request, if any."""
    return getattr(request.state, "principal", None)
