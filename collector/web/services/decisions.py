"""Recording a review decision, from the API or the enterprise page's form."""

from __future__ import annotations

from collector.web.directory import EnterpriseRef
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.schemas import DecisionIn, DecisionOut
from collector.web.services.bundles import loaded_bundle
from collector.web.services.summaries import decision_out
from collector.web.state import WebState

__all__ = ["record_decision"]


def record_decision(
    state: WebState, user: Principal, ref: EnterpriseRef, body: DecisionIn
) -> DecisionOut:
    """Check the bundle is the enterprise's, append the decision with the documents seen
    (audited), count it."""
    loaded = loaded_bundle(state, ref, body.bundle_id)

    def still_stored() -> None:
        # Checked again under the registry's write lock, which pruning also holds
        # (runs.prune_bundles): a decision never cites a bundle deleted meanwhile.
        loaded_bundle(state, ref, body.bundle_id)

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
            documents=body.documents,
        )
    except ValueError as exc:
        raise Problem(422, str(exc)) from None
    state.metrics.count(state.metrics.decisions, decision.outcome)
    return decision_out(decision)
