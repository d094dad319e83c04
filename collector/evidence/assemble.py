"""One enterprise's evidence document from its inputs, attempt by attempt (pure).

:func:`enterprise_evidence` takes what :mod:`collector.bundle.gather` reads (the plan record,
the enterprise's daily rows, its agents, seq gaps and quarantine counts) and returns the
:class:`~collector.evidence.document.EnterpriseEvidence` a bundle holds: per attempt and KPI
the sufficiency, change, energy model, verdict, chart points and device values; the
plausibility flags; integrity; subsidy; the device-day inputs; the method's constants.
:mod:`~collector.evidence.provenance` (software, method, headers),
:mod:`~collector.evidence.sections` (one KPI's sections) and :mod:`~collector.evidence.series`
(the day-by-day parts) build its pieces; :mod:`~collector.evidence.rollups` sums documents up.

No clock, host or path enters a document, so the same inputs and seed give byte-identical
:func:`~collector.evidence.document.canonical_json` (docs/evidence-bundle.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from collector.evidence.change import DEFAULT_SEED
from collector.evidence.daily import (
    EnterpriseDay,
    MeasurementBoundary,
    energy_boundary,
)
from collector.evidence.digital_level import digital_level_doc
from collector.evidence.document import (
    AgentDoc,
    AttemptDoc,
    DeviceValueDoc,
    DocumentDoc,
    EnterpriseEvidence,
    FlagDoc,
    IntegrityDoc,
    IntervalDoc,
    KpiDoc,
    PlanRefDoc,
    SealDifferenceDoc,
    SealedDayDoc,
    SealOutcome,
    SealsDoc,
    SeqGapDoc,
    SoftwareDoc,
)
from collector.evidence.inputs import (
    AgentRecord,
    AttachedDocument,
    DailySums,
    SealCheckRecord,
    SeqGapRecord,
)
from collector.evidence.plausibility import FlagInputs, plausibility_flags
from collector.evidence.provenance import (
    enterprise_doc,
    method_doc,
    period_doc,
    platform_doc,
    province_doc,
    subsidy_doc,
    target_doc,
)
from collector.evidence.sections import change_doc, energy_doc, sufficiency_doc
from collector.evidence.series import (
    daily_points,
    device_day_doc,
    device_values,
    facility_device_values,
    plan_days,
    reason_days,
    row_order,
)
from collector.evidence.subsidy import EnterpriseOutcome, enterprise_subsidy
from collector.evidence.sufficiency import KpiSeries, period_series
from collector.evidence.verdict import KpiVerdict, enterprise_status, judge_kpi
from collector.plan import Enterprise, Period, Plan, Platform, Target

__all__ = [
    "EnterpriseInputs",
    "enterprise_evidence",
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
    #: The enterprise's file (一企一档), oldest first: the invoices' amounts are the invoiced
    #: total the subsidy compares with the plan's cost.
    documents: tuple[AttachedDocument, ...] = ()
    #: Each device-day row against its day's latest seal (``collector.bundle.day_seals``), the
    #: rows already carrying the sealed figures where equal; None: no seal check (the document
    #: then has no ``seals``).
    seal_checks: tuple[SealCheckRecord, ...] | None = None


def _seals_doc(checks: Sequence[SealCheckRecord] | None) -> SealsDoc | None:
    if checks is None:
        return None
    ordered = sorted(checks, key=lambda c: (c.day, c.device, c.agent_id, c.provenance))
    days = [
        SealedDayDoc(
            agent=check.agent_id,
            device=check.device,
            provenance=check.provenance,
            day=check.day,
            outcome=_seal_outcome(check.outcome),
            seal_sha256=check.seal_sha256,
            version=check.seal_version,
            differences=[
                SealDifferenceDoc(field=d.field, stored=d.stored, sealed=d.sealed)
                for d in check.differences
            ],
        )
        for check in ordered
    ]
    return SealsDoc(
        sealed_equal=sum(d.outcome == "sealed_equal" for d in days),
        sealed_different=sum(d.outcome == "sealed_different" for d in days),
        unsealed=sum(d.outcome == "unsealed" for d in days),
        device_days=days,
    )


_SEAL_OUTCOMES: dict[str, SealOutcome] = {
    "sealed_equal": "sealed_equal",
    "sealed_different": "sealed_different",
    "unsealed": "unsealed",
}


def _seal_outcome(outcome: str) -> SealOutcome:
    try:
        return _SEAL_OUTCOMES[outcome]
    except KeyError:
        raise ValueError(f"unknown seal check outcome {outcome!r}") from None


def _invoiced_fen(documents: Sequence[AttachedDocument]) -> int | None:
    amounts = [d.amount_fen for d in documents if d.kind == "invoice" and d.amount_fen is not None]
    return sum(amounts) if amounts else None


def _document_doc(item: AttachedDocument) -> DocumentDoc:
    return DocumentDoc.model_validate(item, from_attributes=True)


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
        target=target_doc(kpi, target),
        status=verdict.status,
        reasons=list(verdict.reasons),
        baseline=sufficiency_doc(verdict.baseline, base),
        reporting=sufficiency_doc(verdict.reporting, report),
        change=None if verdict.change is None else change_doc(verdict.change),
        energy=(
            None
            if verdict.energy is None
            else energy_doc(verdict.energy, (base, report), verdict.energy_baseline)
        ),
        interval=None if interval is None else IntervalDoc(low=interval.low, high=interval.high),
        needed_for_80pct_pass=verdict.needed_for_80pct_pass,
        daily=daily_points(kpi, context.by_day, baseline, reporting),
        devices=_kpi_devices(context, kpi, (base, baseline), (report, reporting)),
    )


def _kpi_devices(
    context: _Context,
    kpi: str,
    baseline: tuple[KpiSeries, Period],
    reporting: tuple[KpiSeries, Period],
) -> list[DeviceValueDoc]:
    boundary = context.boundary
    (base, base_period), (report, report_period) = baseline, reporting
    if kpi == "energy_per_unit" and boundary.kind == "facility":
        return facility_device_values(context.rows, boundary.meters, base, report)
    left_out_days = (
        reason_days(base, context.days, base_period.start, base_period.end),
        reason_days(report, context.days, report_period.start, report_period.end),
    )
    return device_values(kpi, context.rows, base, report, left_out_days)


def _attempt(context: _Context, attempt: _Attempt) -> AttemptDoc:
    kpis = [
        _kpi(context, kpi, target, attempt.reporting)
        for kpi, target in context.enterprise.targets.items()
    ]
    return AttemptDoc(
        number=attempt.number,
        kind="original" if attempt.number == 1 else "rectification",
        rectification_date=attempt.rectification_date,
        reporting=period_doc(attempt.reporting),
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
    rows = tuple(sorted(inputs.rows, key=row_order))
    boundary = energy_boundary(enterprise)
    days = plan_days(enterprise, rows)
    context = _Context(enterprise, boundary, rows, days, {day.day: day for day in days}, seed)
    attempts = [_attempt(context, attempt) for attempt in _attempts(enterprise)]
    status = attempts[-1].status
    subsidy = enterprise_subsidy(
        EnterpriseOutcome(
            enterprise.id,
            status == "pass",
            enterprise.retrofit_cost_fen,
            invoiced_fen=_invoiced_fen(inputs.documents),
        )
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
            seal_checks=inputs.seal_checks,
        )
    )
    return EnterpriseEvidence(
        software=software,
        method=method_doc(seed),
        plan=inputs.plan_ref,
        province=province_doc(inputs.plan),
        batch_year=inputs.plan.batch_year,
        platform=platform_doc(inputs.plan, inputs.platform),
        enterprise=enterprise_doc(enterprise),
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
        subsidy=subsidy_doc(subsidy),
        device_days=[device_day_doc(row) for row in rows],
        digital_level=digital_level_doc(
            enterprise, rows, days, _attempts(enterprise)[-1].reporting
        ),
        documents=[_document_doc(item) for item in inputs.documents],
        seals=_seals_doc(inputs.seal_checks),
    )
