"""Response bodies built from the plans, the stored bundles and the decisions in force.

The verdicts, intervals, flags and subsidy figures come from the evidence documents as the
engine wrote them; what is computed here is only the roll-up by review decision (the subsidy
is paid on enterprises that pass review, DOMAIN.md) with the engine's own subsidy arithmetic
(:func:`collector.evidence.subsidy.platform_subsidy`).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from collector.bundle import BundleInfo, BundleStore, LoadedBundle
from collector.evidence.document import AttemptDoc, EnterpriseEvidence, KpiDoc, TargetDoc
from collector.evidence.subsidy import EnterpriseOutcome, platform_subsidy
from collector.plan import Enterprise
from collector.registry import AgentEntry, AgentStatus, AuditEntry, Decision
from collector.registry.records import QuarantineEntry
from collector.web.directory import EnterpriseRef, PlatformRef
from collector.web.schemas import (
    AgentOut,
    AttemptOut,
    AuditOut,
    BundleOut,
    DecisionOut,
    EnterpriseSummaryOut,
    KpiOut,
    PlatformSummaryOut,
    QuarantineOut,
    RollupEnterpriseOut,
    RollupOut,
)

__all__ = [
    "agent_out",
    "attempt_out",
    "audit_out",
    "bundle_out",
    "decision_out",
    "enterprise_summary",
    "platform_rollup",
    "platform_summary",
    "quarantine_out",
    "targets_of",
]


def decision_out(decision: Decision) -> DecisionOut:
    """A stored decision as the API shows it."""
    return DecisionOut(
        id=decision.id,
        platform=decision.platform,
        enterprise=decision.enterprise,
        bundle_id=decision.bundle_sha256,
        evidence_status=decision.evidence_status,
        outcome=decision.outcome,
        comment=decision.comment,
        decided_at=decision.decided_at,
        decided_by=decision.decided_by,
        supersedes=decision.supersedes,
        documents=list(decision.documents),
    )


def targets_of(enterprise: Enterprise) -> list[TargetDoc]:
    """The plan's targets in the evidence document's form, by KPI name."""
    return [
        TargetDoc(kpi=kpi, direction=t.direction, size=t.size, unit=t.unit, required=t.required)
        for kpi, t in sorted(enterprise.targets.items())
    ]


def bundle_out(info: BundleInfo, document: EnterpriseEvidence) -> BundleOut:
    """A stored bundle's line."""
    return BundleOut(
        bundle_id=info.bundle_id,
        enterprise=info.enterprise,
        stored_at=dt.datetime.fromtimestamp(info.stored_at, dt.UTC),
        status=document.status,
        plan_key=document.plan.key,
        plan_version=document.plan.version,
        attempts=len(document.attempts),
        flags=len(document.flags),
        files=sorted(info.files),
    )


def _kpi_out(kpi: KpiDoc) -> KpiOut:
    change = kpi.change
    return KpiOut(
        kpi=kpi.kpi,
        status=kpi.status,
        reasons=list(kpi.reasons),
        target=kpi.target,
        baseline_value=kpi.baseline.value,
        reporting_value=kpi.reporting.value,
        change=None if change is None else change.change,
        unit=kpi.target.unit,
        interval=kpi.interval,
        baseline_usable_days=kpi.baseline.usable_days,
        reporting_usable_days=kpi.reporting.usable_days,
        baseline_coverage=kpi.baseline.coverage,
        reporting_coverage=kpi.reporting.coverage,
    )


def attempt_out(attempt: AttemptDoc) -> AttemptOut:
    """An attempt with its KPIs' verdicts."""
    return AttemptOut(
        number=attempt.number,
        kind=attempt.kind,
        rectification_date=attempt.rectification_date,
        reporting=attempt.reporting,
        status=attempt.status,
        kpis=[_kpi_out(kpi) for kpi in attempt.kpis],
    )


def _coverage(document: EnterpriseEvidence, role: Literal["baseline", "reporting"]) -> float | None:
    # The least coverage over the last attempt's KPIs: the weakest link is what a reviewer
    # needs to see on a list; the enterprise page shows each.
    if not document.attempts:
        return None
    values = [
        getattr(kpi, role).coverage
        for kpi in document.attempts[-1].kpis
        if getattr(kpi, role).coverage is not None
    ]
    return min(values) if values else None


def enterprise_summary(
    ref: EnterpriseRef, bundle: LoadedBundle | None, decision: Decision | None
) -> EnterpriseSummaryOut:
    """An enterprise's line on its platform page."""
    document = None if bundle is None else bundle.document
    flags = [] if document is None else document.flags
    return EnterpriseSummaryOut(
        id=ref.id,
        name=ref.enterprise.name,
        platform=ref.platform.id,
        status=None if document is None else document.status,
        bundle_id=None if bundle is None else bundle.info.bundle_id,
        flags=len(flags),
        serious_flags=sum(1 for f in flags if f.severity == "serious"),
        baseline_coverage=None if document is None else _coverage(document, "baseline"),
        reporting_coverage=None if document is None else _coverage(document, "reporting"),
        decision=None if decision is None else decision.outcome,
        retrofit_cost_fen=ref.enterprise.retrofit_cost_fen,
    )


def platform_rollup(
    platform: PlatformRef,
    bundles: BundleStore,
    decisions: dict[tuple[str, str], Decision],
) -> RollupOut:
    """The platform's roll-up: passed by review decision, the minimum of 10, the subsidy."""
    lines = []
    outcomes = []
    evidence_passed = 0
    for enterprise in sorted(platform.platform.enterprises, key=lambda e: e.id):
        latest = bundles.latest(enterprise.id)
        status = None if latest is None else latest.document.status
        evidence_passed += status == "pass"
        decision = decisions.get((platform.id, enterprise.id))
        passed = decision is not None and decision.outcome == "pass"
        # The invoiced total as the latest bundle's evidence holds it (the enterprise's file
        # then): the subsidy is on the lower of it and the plan's cost (evidence-method §7).
        invoiced = None if latest is None else latest.document.subsidy.invoiced_fen
        outcomes.append(
            EnterpriseOutcome(enterprise.id, passed, enterprise.retrofit_cost_fen, invoiced)
        )
        lines.append((enterprise, status, None if decision is None else decision.outcome))
    subsidy = platform_subsidy(platform.id, outcomes)
    return RollupOut(
        platform=platform.id,
        plan_key=platform.plan_key,
        enterprises=[
            RollupEnterpriseOut(
                id=enterprise.id,
                name=enterprise.name,
                cost_fen=item.cost_fen,
                evidence_status=status,
                decision=outcome,
                passed=item.passed,
                share_fen=item.share_fen,
                subsidy_fen=item.subsidy_fen,
                capped=item.capped,
            )
            for (enterprise, status, outcome), item in zip(lines, subsidy.enterprises, strict=True)
        ],
        evidence_passed=evidence_passed,
        passed_count=subsidy.passed_count,
        minimum=subsidy.minimum,
        minimum_met=subsidy.minimum_met,
        uncapped_total_fen=subsidy.uncapped_total_fen,
        total_fen=subsidy.total_fen,
        platform_capped=subsidy.platform_capped,
    )


def platform_summary(platform: PlatformRef, rollup: RollupOut) -> PlatformSummaryOut:
    """A platform's line on its province's overview."""
    return PlatformSummaryOut(
        id=platform.id,
        name=platform.platform.name,
        plan_key=platform.plan_key,
        batch_year=platform.batch_year,
        province_code=platform.province.code,
        province_name=platform.province.name,
        sub_industry=platform.sub_industry.id,
        sub_industry_name=platform.sub_industry.name,
        enterprises=len(platform.platform.enterprises),
        evidence_passed=rollup.evidence_passed,
        reviewed_passed=rollup.passed_count,
        minimum=rollup.minimum,
        minimum_met=rollup.minimum_met,
        subsidy_fen=rollup.total_fen,
        platform_capped=rollup.platform_capped,
    )


def agent_out(
    agent: AgentEntry,
    status: AgentStatus | None,
    gaps: tuple[int, int],
    *,
    now: dt.datetime,
    offline_after_s: int,
) -> AgentOut:
    """An agent's live state: revoked, never seen, or online only if it spoke lately."""
    state: Literal["online", "offline", "never_seen", "revoked"]
    if agent.revoked:
        state = "revoked"
    elif status is None:
        state = "never_seen"
    elif status.state == "online" and (now - status.last_seen).total_seconds() <= offline_after_s:
        state = "online"
    else:
        state = "offline"
    return AgentOut(
        agent_id=agent.agent_id,
        platform=agent.platform,
        enterprise=agent.enterprise,
        devices=list(agent.devices),
        state=state,
        revoked_at=agent.revoked_at,
        last_seen=None if status is None else status.last_seen,
        agent_version=None if status is None else status.agent_version,
        outbox_depth=None if status is None else status.outbox_depth,
        open_gaps=gaps[0],
        missing_seqs=gaps[1],
    )


def quarantine_out(entry: QuarantineEntry) -> QuarantineOut:
    """A quarantine entry without its bytes."""
    return QuarantineOut(
        id=entry.id,
        received_at=entry.received_at,
        topic=entry.topic,
        reason=entry.reason,
        detail=entry.detail,
        agent_id=entry.agent_id,
        raw_length=entry.raw_length,
        raw_sha256=entry.raw_sha256,
    )


def audit_out(entry: AuditEntry) -> AuditOut:
    """An audit entry with its JSON detail parsed."""
    try:
        detail: Any = json.loads(entry.detail)
    except ValueError:
        detail = {"text": entry.detail}
    return AuditOut(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        detail=detail if isinstance(detail, dict) else {"value": detail},
    )
