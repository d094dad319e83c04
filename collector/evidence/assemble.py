"""One enterprise's evidence document from its inputs; platform and province roll-ups (pure).

:func:`enterprise_evidence` takes what :mod:`collector.bundle.gather` reads (the plan record,
the enterprise's daily rows, its agents, seq gaps and quarantine counts) and returns the
:class:`~collector.evidence.document.EnterpriseEvidence` a bundle holds: per attempt and KPI
the sufficiency, change, energy model, verdict, chart points and device values; the
plausibility flags; integrity; subsidy; the device-day inputs; the method's constants.
:func:`platform_rollup` and :func:`province_summary` build the roll-ups from those documents.

No clock, host or path enters a document, so the same inputs and seed give byte-identical
:func:`~collector.evidence.document.canonical_json` (docs/evidence-bundle.md).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import platform as python_platform
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import scipy  # type: ignore[import-untyped]  # scipy ships no type hints
import statsmodels  # type: ignore[import-untyped]  # statsmodels ships no type hints

from collector.evidence.change import (
    CONFIDENCE,
    DEFAULT_SEED,
    MDE_FACTOR,
    POWER,
    REPLICATES,
    ChangeEstimate,
)
from collector.evidence.daily import (
    KPI_INPUTS,
    EnterpriseDay,
    MeasurementBoundary,
    energy_boundary,
    enterprise_days,
    kpi_value,
)
from collector.evidence.document import (
    AgentDoc,
    AttemptDoc,
    ChangeDoc,
    DailyPointDoc,
    DayPlace,
    DeviceDayDoc,
    DeviceValueDoc,
    EffectiveDaysDoc,
    EnergyDoc,
    EnergyModelDoc,
    EnergyPointDoc,
    EnterpriseDoc,
    EnterpriseEvidence,
    EnterpriseSummaryDoc,
    FlagDoc,
    IntegrityDoc,
    IntervalDoc,
    KpiDoc,
    MethodDoc,
    PeriodDoc,
    PlanRefDoc,
    PlatformDoc,
    PlatformRollup,
    PlatformSummaryDoc,
    ProvinceDoc,
    ProvinceSummary,
    SeqGapDoc,
    SoftwareDoc,
    SubIndustryDoc,
    SubsidyDoc,
    SufficiencyDoc,
    TargetDoc,
    canonical_json,
)
from collector.evidence.energy import (
    G14_MAX_ABS_NMBE_PCT,
    G14_MAX_CV_RMSE_PCT,
    G14_MAX_FSU_68,
    EnergySavings,
)
from collector.evidence.inputs import AgentRecord, DailySums, SeqGapRecord
from collector.evidence.plausibility import FlagInputs, plausibility_flags
from collector.evidence.subsidy import (
    EnterpriseOutcome,
    EnterpriseSubsidy,
    enterprise_subsidy,
    platform_subsidy,
)
from collector.evidence.sufficiency import (
    MAX_REPORTING_IMPORTED_SHARE,
    MIN_COVERAGE,
    KpiSeries,
    PeriodRole,
    Sufficiency,
    is_usable,
    period_series,
)
from collector.evidence.verdict import KpiVerdict, enterprise_status, judge_kpi
from collector.plan import MIN_DATA_DAYS, Enterprise, Period, Plan, Platform, Target

__all__ = [
    "EnterpriseInputs",
    "current_software",
    "enterprise_evidence",
    "evidence_sha256",
    "method_doc",
    "platform_rollup",
    "province_summary",
]


@dataclass(frozen=True, slots=True)
class EnterpriseInputs:
    """Everything one enterprise's evidence is computed from, as read from the registry and
    InfluxDB's daily rollups (:func:`collector.bundle.gather.gather_enterprise`).

    ``rows`` are the enterprise's ``kpi_daily`` rows from the baseline's first day to the last
    attempt's last day; ``highest_seqs`` and ``quarantined`` are per agent id.
    """

    plan: Plan
    plan_ref: PlanRefDoc
    platform: Platform
    enterprise: Enterprise
    rows: tuple[DailySums, ...]
    agents: tuple[AgentRecord, ...] = ()
    seq_gaps: tuple[SeqGapRecord, ...] = ()
    highest_seqs: Mapping[str, int] = field(default_factory=dict)
    quarantined: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


def current_software() -> SoftwareDoc:
    """The versions of this process's code and libraries that decide the figures."""
    try:
        ours = importlib.metadata.version("retrofit-verify")
    except importlib.metadata.PackageNotFoundError:
        ours = "unknown"
    return SoftwareDoc(
        retrofit_verify=ours,
        python=python_platform.python_version(),
        numpy=np.__version__,
        scipy=str(scipy.__version__),
        statsmodels=str(statsmodels.__version__),
    )


def method_doc(seed: int) -> MethodDoc:
    """The method's constants as this engine applies them (docs/evidence-method.md)."""
    return MethodDoc(
        seed=seed,
        replicates=REPLICATES,
        confidence=CONFIDENCE,
        power=POWER,
        mde_factor=MDE_FACTOR,
        min_coverage=MIN_COVERAGE,
        max_reporting_imported_share=MAX_REPORTING_IMPORTED_SHARE,
        min_data_days=dict(MIN_DATA_DAYS),
        g14_max_cv_rmse_pct=G14_MAX_CV_RMSE_PCT,
        g14_max_abs_nmbe_pct=G14_MAX_ABS_NMBE_PCT,
        g14_max_fsu_68=G14_MAX_FSU_68,
    )


def evidence_sha256(document: EnterpriseEvidence | PlatformRollup) -> str:
    """SHA-256 (hex) of a document's canonical JSON: the bytes its bundle file holds."""
    return hashlib.sha256(canonical_json(document)).hexdigest()


# --- small conversions ----------------------------------------------------------------------


def _period(period: Period) -> PeriodDoc:
    return PeriodDoc(start=period.start, end=period.end)


def _target(kpi: str, target: Target) -> TargetDoc:
    energy = kpi == "energy_per_unit"
    return TargetDoc(
        kpi=kpi,
        direction=target.direction,
        size=target.size,
        unit=target.unit,
        required=target.required,
        boundary=target.boundary if energy else None,
        meters=sorted(target.meters) if energy else [],
        drivers=list(target.drivers) if energy else [],
    )


def _platform(plan: Plan, platform: Platform) -> PlatformDoc:
    sub = next(s for s in plan.sub_industries if s.id == platform.sub_industry)
    return PlatformDoc(
        id=platform.id,
        name=platform.name,
        sub_industry=SubIndustryDoc(id=sub.id, name=sub.name, category=sub.category),
    )


def _province(plan: Plan) -> ProvinceDoc:
    return ProvinceDoc(code=plan.province.code, name=plan.province.name)


def _subsidy(item: EnterpriseSubsidy) -> SubsidyDoc:
    return SubsidyDoc(
        passed=item.passed,
        cost_fen=item.cost_fen,
        share_fen=item.share_fen,
        subsidy_fen=item.subsidy_fen,
        capped=item.capped,
    )


def _enterprise(enterprise: Enterprise) -> EnterpriseDoc:
    return EnterpriseDoc(
        id=enterprise.id,
        name=enterprise.name,
        industry=enterprise.industry,
        solution=enterprise.solution,
        timezone=enterprise.timezone,
        retrofit_cost_fen=enterprise.retrofit_cost_fen,
        baseline=_period(enterprise.baseline),
        go_live=enterprise.go_live,
        reporting=_period(enterprise.reporting),
        targets=[_target(kpi, target) for kpi, target in enterprise.targets.items()],
    )


def _device_day(row: DailySums) -> DeviceDayDoc:
    # Every field of the document from the row's field of the same name; a provenance other
    # than "imported" (a stray tag) reads as measured. model_fields holds no extra key, so the
    # document's extra="forbid" never fires.
    values = {name: getattr(row, name) for name in DeviceDayDoc.model_fields}
    values["provenance"] = "imported" if row.provenance == "imported" else "measured"
    return DeviceDayDoc.model_validate(values)


def _row_order(row: DailySums) -> tuple[date, str, str, str]:
    return (row.day, row.device, row.agent, row.provenance)


# --- one KPI of one attempt -----------------------------------------------------------------


def _sufficiency(record: Sufficiency, series: KpiSeries) -> SufficiencyDoc:
    return SufficiencyDoc(
        role=record.role,
        period=PeriodDoc(start=record.start, end=record.end),
        calendar_days=record.calendar_days,
        scheduled_days=record.scheduled_days,
        usable_days=record.usable_days,
        min_days=record.min_days,
        coverage=record.coverage,
        imported_share=record.imported_share,
        comm_loss_share=record.comm_loss_share,
        reasons=list(record.reasons),
        sums={name: float(series.column(name).sum()) for name in series.fields},
        value=series.value,
    )


def _change(change: ChangeEstimate) -> ChangeDoc:
    return ChangeDoc(
        unit=change.unit,
        baseline_value=change.baseline_value,
        reporting_value=change.reporting_value,
        change=change.change,
        confidence=change.confidence,
        bootstrap=IntervalDoc(low=change.bootstrap.low, high=change.bootstrap.high),
        bootstrap_se=change.bootstrap_se,
        block_lengths=change.block_lengths,
        replicates=change.replicates,
        seed=change.seed,
        undefined_replicates=change.undefined_replicates,
        hac_change=change.hac_change,
        hac=IntervalDoc(low=change.hac.low, high=change.hac.high),
        hac_se=change.hac_se,
        hac_maxlags=change.hac_maxlags,
        mde=change.mde,
        power=change.power,
        effective=IntervalDoc(low=change.effective.low, high=change.effective.high),
        effective_se=change.effective_se,
        effective_days=[
            EffectiveDaysDoc(
                role=role,
                n=days.n,
                jackknife_variance=days.jackknife_variance,
                rho=days.rho,
                variance=days.variance,
                n_effective=days.n_effective,
            )
            for role, days in zip(("baseline", "reporting"), change.effective_days, strict=True)
        ],
        effective_dof=None if math.isinf(change.effective_dof) else change.effective_dof,
        mde_factor=change.mde_factor,
    )


def _energy_points(savings: EnergySavings, series: Sequence[KpiSeries]) -> Iterator[EnergyPointDoc]:
    model = savings.model
    for part in series:
        role: PeriodRole = part.role
        output = part.column("good_count")
        hours = part.column("planned_s") / 3600.0
        modelled = model.predict(output, hours if "planned_h" in model.drivers else None)
        for i, day in enumerate(part.days):
            yield EnergyPointDoc(
                day=day,
                role=role,
                good_count=float(output[i]),
                planned_h=float(hours[i]),
                energy_kwh=float(part.column("energy_kwh")[i]),
                model_kwh=float(modelled[i]),
            )


def _energy(savings: EnergySavings, series: Sequence[KpiSeries]) -> EnergyDoc:
    model = savings.model
    return EnergyDoc(
        model=EnergyModelDoc(
            drivers=list(model.drivers),
            coefficients=list(model.coefficients),
            n=model.n,
            p=model.p,
            mean_kwh=model.mean_kwh,
            r_squared=model.r_squared,
            cv_rmse_pct=model.cv_rmse_pct,
            nmbe_pct=model.nmbe_pct,
            rho=model.rho,
            n_effective=model.n_effective,
            output_range=model.output_range,
            meets_g14=model.meets_g14,
            failures=list(model.failures),
            hours_range=model.hours_range,
        ),
        reporting_days=savings.reporting_days,
        actual_kwh=savings.actual_kwh,
        adjusted_baseline_kwh=savings.adjusted_baseline_kwh,
        avoided_kwh=savings.avoided_kwh,
        savings_pct=savings.savings_pct,
        se_pct=savings.se_pct,
        half_width_68_pct=savings.half_width_68_pct,
        half_width_95_pct=savings.half_width_95_pct,
        fsu_68=savings.fsu_68,
        g14_uncertainty_ok=savings.g14_uncertainty_ok,
        extrapolated_days=savings.extrapolated_days,
        points=list(_energy_points(savings, series)),
        extrapolated_hours_days=savings.extrapolated_hours_days,
    )


def _place(day: date, baseline: Period, reporting: Period) -> DayPlace:
    if baseline.start <= day <= baseline.end:
        return "baseline"
    if reporting.start <= day <= reporting.end:
        return "reporting"
    if baseline.end < day < reporting.start:
        return "between"
    return "outside"


def _daily_points(
    kpi: str, by_day: Mapping[date, EnterpriseDay], baseline: Period, reporting: Period
) -> list[DailyPointDoc]:
    """Every calendar day from the baseline's start to the reporting period's end."""
    points = []
    for offset in range((reporting.end - baseline.start).days + 1):
        day = baseline.start + timedelta(days=offset)
        found = by_day.get(day)
        points.append(
            DailyPointDoc(
                day=day,
                place=_place(day, baseline, reporting),
                value=None if found is None else found.value(kpi),
                coverage=None if found is None else found.coverage,
                usable=found is not None and is_usable(found, kpi),
            )
        )
    return points


def _device_sums(
    kpi: str, rows: Sequence[DailySums], days: frozenset[date]
) -> dict[str, dict[str, float]]:
    """Per device, the KPI's input sums over the given days (rows measuring every input)."""
    sums: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.day not in days:
            continue
        values = [getattr(row, name) for name in KPI_INPUTS[kpi]]
        if any(value is None for value in values):
            continue
        device = sums.setdefault(row.device, dict.fromkeys(KPI_INPUTS[kpi], 0.0))
        for name, value in zip(KPI_INPUTS[kpi], values, strict=True):
            device[name] += float(value)
    return sums


def _device_values(
    kpi: str, rows: Sequence[DailySums], baseline: KpiSeries, reporting: KpiSeries
) -> list[DeviceValueDoc]:
    """The KPI per device over the days the enterprise value used (shown, does not decide)."""
    base = _device_sums(kpi, rows, frozenset(baseline.days))
    report = _device_sums(kpi, rows, frozenset(reporting.days))
    return [
        DeviceValueDoc(
            device=device,
            baseline_value=kpi_value(kpi, base[device]) if device in base else None,
            reporting_value=kpi_value(kpi, report[device]) if device in report else None,
        )
        for device in sorted(set(base) | set(report))
    ]


def _facility_parts(
    rows: Sequence[DailySums], meters: frozenset[str], days: frozenset[date]
) -> tuple[dict[str, float], dict[str, float]]:
    """Over ``days``: each listed meter's energy, each counting device's good output: the
    parts of the facility boundary's sums (``daily._facility_energy_sums``)."""
    energy: dict[str, float] = {}
    output: dict[str, float] = {}
    for row in rows:
        if row.day not in days:
            continue
        if row.device in meters and row.energy_kwh is not None:
            energy[row.device] = energy.get(row.device, 0.0) + row.energy_kwh
        if row.good_count is not None:
            output[row.device] = output.get(row.device, 0.0) + row.good_count
    return energy, output


def _facility_device_values(
    rows: Sequence[DailySums], meters: frozenset[str], baseline: KpiSeries, reporting: KpiSeries
) -> list[DeviceValueDoc]:
    """Energy per unit on the facility boundary: no value per device (none measures its own
    energy and output); the listed meters' energy and the counting devices' good output."""
    base_energy, base_output = _facility_parts(rows, meters, frozenset(baseline.days))
    report_energy, report_output = _facility_parts(rows, meters, frozenset(reporting.days))
    devices = set(meters) | set(base_output) | set(report_output)
    return [
        DeviceValueDoc(
            device=device,
            baseline_value=None,
            reporting_value=None,
            baseline_energy_kwh=base_energy.get(device),
            reporting_energy_kwh=report_energy.get(device),
            baseline_good_count=base_output.get(device),
            reporting_good_count=report_output.get(device),
        )
        for device in sorted(devices)
    ]


@dataclass(frozen=True, slots=True)
class _Attempt:
    number: int
    rectification_date: date | None
    reporting: Period


def _attempts(enterprise: Enterprise) -> list[_Attempt]:
    attempts = [_Attempt(1, None, enterprise.reporting)]
    for n, rectification in enumerate(enterprise.rectifications, start=2):
        attempts.append(_Attempt(n, rectification.date, rectification.reporting))
    return attempts


@dataclass(frozen=True, slots=True)
class _Context:
    enterprise: Enterprise
    boundary: MeasurementBoundary
    rows: tuple[DailySums, ...]
    days: tuple[EnterpriseDay, ...]
    by_day: Mapping[date, EnterpriseDay]
    seed: int


def _kpi(context: _Context, kpi: str, target: Target, reporting: Period) -> KpiDoc:
    baseline = context.enterprise.baseline
    verdict: KpiVerdict = judge_kpi(
        kpi, target, context.days, baseline, reporting, seed=context.seed
    )
    base, _ = period_series(context.days, kpi, "baseline", baseline.start, baseline.end)
    report, _ = period_series(context.days, kpi, "reporting", reporting.start, reporting.end)
    interval = verdict.interval
    return KpiDoc(
        kpi=kpi,
        target=_target(kpi, target),
        status=verdict.status,
        reasons=list(verdict.reasons),
        baseline=_sufficiency(verdict.baseline, base),
        reporting=_sufficiency(verdict.reporting, report),
        change=None if verdict.change is None else _change(verdict.change),
        energy=None if verdict.energy is None else _energy(verdict.energy, (base, report)),
        interval=None if interval is None else IntervalDoc(low=interval.low, high=interval.high),
        needed_for_80pct_pass=verdict.needed_for_80pct_pass,
        daily=_daily_points(kpi, context.by_day, baseline, reporting),
        devices=_kpi_devices(context, kpi, base, report),
    )


def _kpi_devices(
    context: _Context, kpi: str, baseline: KpiSeries, reporting: KpiSeries
) -> list[DeviceValueDoc]:
    boundary = context.boundary
    if kpi == "energy_per_unit" and boundary.kind == "facility":
        return _facility_device_values(context.rows, boundary.meters, baseline, reporting)
    return _device_values(kpi, context.rows, baseline, reporting)


def _attempt(context: _Context, attempt: _Attempt) -> AttemptDoc:
    kpis = [
        _kpi(context, kpi, target, attempt.reporting)
        for kpi, target in context.enterprise.targets.items()
    ]
    return AttemptDoc(
        number=attempt.number,
        kind="original" if attempt.number == 1 else "rectification",
        rectification_date=attempt.rectification_date,
        reporting=_period(attempt.reporting),
        status=enterprise_status(kpis),
        kpis=kpis,
    )


def _integrity(inputs: EnterpriseInputs) -> IntegrityDoc:
    gaps = sorted(inputs.seq_gaps, key=lambda g: (g.agent_id, g.first_seq, g.last_seq))
    return IntegrityDoc(
        seq_gaps=[
            SeqGapDoc(
                agent=gap.agent_id,
                first_seq=gap.first_seq,
                last_seq=gap.last_seq,
                closed=gap.closed_at is not None,
            )
            for gap in gaps
        ],
        quarantined={
            agent: dict(sorted(reasons.items()))
            for agent, reasons in sorted(inputs.quarantined.items())
        },
    )


def enterprise_evidence(
    inputs: EnterpriseInputs, *, software: SoftwareDoc, seed: int = DEFAULT_SEED
) -> EnterpriseEvidence:
    """The enterprise's evidence document: every attempt's verdicts, flags, subsidy, inputs.

    Pure: the same inputs, software and seed give the same document (and byte-identical
    canonical JSON). The enterprise's status is its last attempt's (rectification, 整改).
    """
    enterprise = inputs.enterprise
    rows = tuple(sorted(inputs.rows, key=_row_order))
    boundary = energy_boundary(enterprise)
    days = tuple(enterprise_days(rows, boundary))
    context = _Context(enterprise, boundary, rows, days, {day.day: day for day in days}, seed)
    attempts = [_attempt(context, attempt) for attempt in _attempts(enterprise)]
    status = attempts[-1].status
    subsidy = enterprise_subsidy(
        EnterpriseOutcome(enterprise.id, status == "pass", enterprise.retrofit_cost_fen)
    )
    flags: list[FlagDoc] = plausibility_flags(
        FlagInputs(
            enterprise=enterprise,
            rows=rows,
            days=days,
            agents=inputs.agents,
            seq_gaps=inputs.seq_gaps,
            highest_seqs=inputs.highest_seqs,
            quarantined=inputs.quarantined,
        )
    )
    return EnterpriseEvidence(
        software=software,
        method=method_doc(seed),
        plan=inputs.plan_ref,
        province=_province(inputs.plan),
        batch_year=inputs.plan.batch_year,
        platform=_platform(inputs.plan, inputs.platform),
        enterprise=_enterprise(enterprise),
        agents=[
            AgentDoc(
                id=agent.agent_id,
                public_key=agent.public_key,
                devices=list(agent.devices),
                revoked=agent.revoked,
            )
            for agent in sorted(inputs.agents, key=lambda a: a.agent_id)
        ],
        attempts=attempts,
        status=status,
        flags=flags,
        integrity=_integrity(inputs),
        subsidy=_subsidy(subsidy),
        device_days=[_device_day(row) for row in rows],
    )


# --- roll-ups -------------------------------------------------------------------------------


def platform_rollup(
    plan: Plan,
    plan_ref: PlanRefDoc,
    platform: Platform,
    documents: Sequence[EnterpriseEvidence],
    *,
    software: SoftwareDoc,
) -> PlatformRollup:
    """The platform's roll-up from its enterprises' documents, in the plan's order.

    ValueError when the documents are not exactly the platform's enterprises.
    """
    by_id = {doc.enterprise.id: doc for doc in documents}
    listed = [enterprise.id for enterprise in platform.enterprises]
    if sorted(by_id) != sorted(listed) or len(documents) != len(listed):
        raise ValueError(
            f"platform {platform.id}: got evidence for {sorted(by_id)}, expected exactly its "
            f"enterprises {listed}"
        )
    ordered = [by_id[enterprise_id] for enterprise_id in listed]
    subsidy = platform_subsidy(
        platform.id,
        [
            EnterpriseOutcome(doc.enterprise.id, doc.status == "pass", doc.subsidy.cost_fen)
            for doc in ordered
        ],
    )
    return PlatformRollup(
        software=software,
        plan=plan_ref,
        province=_province(plan),
        batch_year=plan.batch_year,
        platform=_platform(plan, platform),
        enterprises=[
            EnterpriseSummaryDoc(
                id=doc.enterprise.id,
                name=doc.enterprise.name,
                status=doc.status,
                attempts=len(doc.attempts),
                flags=len(doc.flags),
                serious_flags=sum(1 for flag in doc.flags if flag.severity == "serious"),
                evidence_sha256=evidence_sha256(doc),
                subsidy=_subsidy(item),
            )
            for doc, item in zip(ordered, subsidy.enterprises, strict=True)
        ],
        passed_count=subsidy.passed_count,
        minimum=subsidy.minimum,
        minimum_met=subsidy.minimum_met,
        uncapped_total_fen=subsidy.uncapped_total_fen,
        total_fen=subsidy.total_fen,
        platform_capped=subsidy.platform_capped,
    )


def province_summary(
    plan: Plan,
    plan_ref: PlanRefDoc,
    rollups: Sequence[PlatformRollup],
    *,
    software: SoftwareDoc,
) -> ProvinceSummary:
    """The province's batch from its platforms' roll-ups, in the plan's platform order.

    ValueError when the roll-ups are not exactly the plan's platforms.
    """
    by_id = {rollup.platform.id: rollup for rollup in rollups}
    listed = [platform.id for platform in plan.platforms]
    if sorted(by_id) != sorted(listed) or len(rollups) != len(listed):
        raise ValueError(
            f"plan {plan.key}: got roll-ups for {sorted(by_id)}, expected exactly its "
            f"platforms {listed}"
        )
    ordered = [by_id[platform_id] for platform_id in listed]
    return ProvinceSummary(
        software=software,
        plan=plan_ref,
        province=_province(plan),
        batch_year=plan.batch_year,
        platforms=[
            PlatformSummaryDoc(
                id=rollup.platform.id,
                name=rollup.platform.name,
                sub_industry=rollup.platform.sub_industry.id,
                enterprises=len(rollup.enterprises),
                passed_count=rollup.passed_count,
                minimum_met=rollup.minimum_met,
                total_fen=rollup.total_fen,
                platform_capped=rollup.platform_capped,
                rollup_sha256=evidence_sha256(rollup),
            )
            for rollup in ordered
        ],
        enterprises=sum(len(rollup.enterprises) for rollup in ordered),
        passed_count=sum(rollup.passed_count for rollup in ordered),
        total_fen=sum(rollup.total_fen for rollup in ordered),
    )
