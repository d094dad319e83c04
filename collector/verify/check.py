"""One enterprise bundle against the reviewer's plan, every check in order (docs/verify.md).

1. the manifest tree; 2. the collector's signature (and the pinned key); 3. the plan digest;
4. each seal under the plan's keys; 5. the chains; 6. every device-day ``==`` its seal, every
sealed day in the span present; 7. the evidence recomputed from the sealed rows and the plan.
Every check runs even after an earlier one found something, so a reviewer sees all at once.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import ValidationError

from collector.evidence import EvidenceError
from collector.evidence.document import EnterpriseEvidence
from collector.plan import Enterprise
from collector.proof import (
    AGENT_KEYS_NAME,
    DAY_SEALS_NAME,
    AgentKeysFile,
    BundleDaySeal,
    ProofFileError,
    read_agent_keys,
    read_day_seals,
)
from collector.verify.chain import check_chains
from collector.verify.compare import compare_rows, latest_parts
from collector.verify.findings import Finding, Report
from collector.verify.load import (
    EVIDENCE_NAME,
    BundleFiles,
    TrustRoot,
    load_bundle,
    load_trust_root,
)
from collector.verify.recompute import recompute
from collector.verify.seals import SealScope, check_seals
from collector.verify.tree import Tree, check_manifest, check_signature

__all__ = ["verify_bundle", "verify_loaded"]


def _span(enterprise: Enterprise) -> tuple[date, date]:
    # The rows the collector reads for the evidence: baseline start to the last attempt's end.
    return enterprise.baseline.start, max(p.end for p in enterprise.reporting_periods)


def _seals(bundle: BundleFiles, enterprise: str, report: Report) -> list[BundleDaySeal]:
    if bundle.day_seals is None:
        report.notes.append("the bundle holds no day-seals.jsonl: no device-day is sealed")
        return []
    try:
        return read_day_seals(bundle.day_seals)
    except ProofFileError as exc:
        report.add(Finding("seals_invalid", enterprise, field="day-seals.jsonl", detail=str(exc)))
        return []


def _bundle_keys(bundle: BundleFiles, report: Report) -> AgentKeysFile | None:
    if bundle.agent_keys is None:
        return None
    try:
        return read_agent_keys(bundle.agent_keys)
    except ProofFileError as exc:
        report.notes.append(f"agent-keys.json ignored (informational only): {exc}")
        return None


def _evidence(bundle: BundleFiles, report: Report) -> EnterpriseEvidence | None:
    try:
        return EnterpriseEvidence.model_validate_json(bundle.evidence)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        report.add(Finding("evidence_invalid", report.enterprise, field=where or "evidence.json",
                           detail=str(first["msg"])))  # fmt: skip
        return None


def verify_loaded(
    bundle: BundleFiles, trust: TrustRoot, *, collector_key: str | None = None
) -> Report:
    """Every check of ``bundle`` against ``trust``; the findings, unanchored seals and notes."""
    report = Report(bundle.folder.name)
    document = _evidence(bundle, report)
    if document is not None:
        report.enterprise = document.enterprise.id
    held = {
        EVIDENCE_NAME: bundle.evidence,
        DAY_SEALS_NAME: bundle.day_seals,
        AGENT_KEYS_NAME: bundle.agent_keys,
    }
    tree = Tree(bundle.folder, bundle.manifest, held, "enterprise", report.enterprise)
    check_manifest(tree, report)
    check_signature(bundle.signature, tree, report.enterprise, trust.digest, collector_key, report)
    if document is None:
        return report
    _check_content(bundle, trust, document, report)
    return report


def _check_content(
    bundle: BundleFiles, trust: TrustRoot, document: EnterpriseEvidence, report: Report
) -> None:
    enterprise_id = document.enterprise.id
    if document.plan.digest != trust.digest:
        report.add(Finding("plan_digest_differs", enterprise_id, field="plan.digest",
                           bundle_value=document.plan.digest, expected_value=trust.digest,
                           bundle_label="evidence.json", expected_label="your plan"))  # fmt: skip
    located = trust.enterprise(enterprise_id)
    if located is None:
        report.add(Finding("enterprise_not_in_plan", enterprise_id, field="enterprise.id",
                           detail="your plan has no enterprise of this id"))  # fmt: skip
        return
    platform, enterprise = located
    scope = SealScope(trust, platform, enterprise, _bundle_keys(bundle, report))
    holding, refused = check_seals(scope, _seals(bundle, enterprise_id, report), report)
    check_chains(enterprise_id, [*holding, *refused], enterprise.baseline.start, report)
    sealed = latest_parts(holding)
    refused_keys = frozenset(latest_parts(refused)) - frozenset(sealed)
    span = _span(enterprise)
    compare_rows(enterprise_id, document.device_days, sealed, span, report, refused_keys)
    in_span = [part for part in sealed.values() if span[0] <= part.day <= span[1]]
    try:
        recompute(
            trust.loaded.plan, platform, enterprise, document, bundle.evidence, in_span, report
        )
    except (EvidenceError, ValueError) as exc:
        report.add(Finding("recompute_failed", enterprise_id, detail=str(exc)))


def verify_bundle(folder: Path, plan: Path, *, collector_key: str | None = None) -> Report:
    """Verify the enterprise bundle in ``folder`` against the plan file ``plan``.

    Raises BundleUnreadable or PlanUnreadable (exit 2) when either cannot be read at all;
    everything else is in the returned report.
    """
    trust = load_trust_root(plan)
    return verify_loaded(load_bundle(folder), trust, collector_key=collector_key)
