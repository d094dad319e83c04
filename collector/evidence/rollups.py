"""The roll-ups: a platform's from its enterprises' evidence documents, the province's batch
from its platforms' roll-ups (pure; docs/evidence-bundle.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from collector.evidence.document import (
    EnterpriseEvidence,
    EnterpriseSummaryDoc,
    PlanRefDoc,
    PlatformRollup,
    PlatformSummaryDoc,
    ProvinceSummary,
    SoftwareDoc,
)
from collector.evidence.provenance import evidence_sha256, platform_doc, province_doc, subsidy_doc
from collector.evidence.subsidy import EnterpriseOutcome, platform_subsidy
from collector.plan import Plan, Platform

__all__ = [
    "platform_rollup",
    "province_summary",
]


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
        province=province_doc(plan),
        batch_year=plan.batch_year,
        platform=platform_doc(plan, platform),
        enterprises=[
            EnterpriseSummaryDoc(
                id=doc.enterprise.id,
                name=doc.enterprise.name,
                status=doc.status,
                attempts=len(doc.attempts),
                flags=len(doc.flags),
                serious_flags=sum(1 for flag in doc.flags if flag.severity == "serious"),
                evidence_sha256=evidence_sha256(doc),
                subsidy=subsidy_doc(item),
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
        province=province_doc(plan),
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
