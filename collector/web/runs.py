"""Evidence runs from the web app: admitted into the registry's shared queue, run to the end.

A run is admitted only if the registry grants it a slot (:mod:`collector.registry.runs`: per
user, per enterprise, the queue in all, counted across every replica); otherwise the caller
gets 429 with ``Retry-After`` and which limit is full. An admitted run is a task of its own:
it waits for one of this replica's workers (``web.evidence_workers``), runs the engine in a
thread, audits the run, prunes the enterprise's old bundles, and gives its slot back only when
the thread has finished. The request waits for it at most ``web.evidence_timeout_s``; when it
gives up, the run goes on and keeps its slot (a thread cannot be stopped, and its CPU is still
taken). While the task lives it renews the slot's lease, so only a dead replica's slots expire.
"""

from __future__ import annotations

import asyncio
import logging

from collector.bundle import BundleDamaged, BundleInfo, BundleStore, run_enterprise_evidence
from collector.errors import CollectorError
from collector.evidence import EvidenceError
from collector.registry import Registry, RunSlot, SlotClaim
from collector.store import StoreError
from collector.web.directory import EnterpriseRef
from collector.web.principal import Principal
from collector.web.problems import Problem, unavailable
from collector.web.registry_wait import registry_call
from collector.web.settings import WebSettings
from collector.web.state import WebState

__all__ = ["prune_bundles", "run_queued"]

log = logging.getLogger(__name__)


def _busy(claim: SlotClaim, ref: EnterpriseRef, settings: WebSettings) -> Problem:
    after = settings.evidence_retry_after_s
    if claim.refused == "enterprise":
        why = (
            f"an evidence run for enterprise {ref.id} is already queued or running "
            f"({claim.held} of {claim.limit}); its bundle will be listed at "
            f"GET /api/v1/enterprises/{ref.id}/evidence"
        )
    elif claim.refused == "user":
        why = (
            f"you have {claim.held} evidence runs queued or running, the most one user may "
            "(web.evidence_runs_per_user)"
        )
    else:
        why = (
            f"the evidence queue is full: {claim.held} runs queued or running on all replicas "
            "(web.evidence_queue_size)"
        )
    return Problem(
        429,
        f"{why}; retry after {after} s",
        headers={"Retry-After": str(after)},
        extra={"limit": claim.refused, "held": claim.held, "allowed": claim.limit},
    )


async def run_queued(state: WebState, user: Principal, ref: EnterpriseRef, seed: int) -> BundleInfo:
    """Admit a run of ``ref``'s evidence and wait for its stored bundle (at most the timeout).

    Raises Problem: 429 when a limit is full, 503 when the run failed or outlasted the
    request's timeout (it then goes on in the background).
    """
    settings = state.settings
    # Bounded (collector/web/registry_wait.py): a claim the request stopped waiting for that
    # commits later holds a slot nobody renews, which expires after its lease.
    claim = await registry_call(
        state,
        state.registry.claim_run_slot,
        user=user.user_id,
        platform=ref.platform.id,
        enterprise=ref.id,
        holder=state.replica,
        per_user=settings.evidence_runs_per_user,
        per_enterprise=settings.evidence_runs_per_enterprise,
        queue=settings.evidence_queue_size,
        lease_s=settings.evidence_lease_s,
    )
    if claim.slot is None:
        state.metrics.count(state.metrics.evidence_runs, "refused")
        raise _busy(claim, ref, settings)
    task = asyncio.create_task(_run_in_slot(state, user, ref, seed, claim.slot))
    state.run_tasks.add(task)
    task.add_done_callback(_finished)
    try:
        async with asyncio.timeout(settings.evidence_timeout_s):
            # shield: the request giving up (timeout, client gone) must not cancel the run.
            return await asyncio.shield(task)
    except TimeoutError:
        state.metrics.count(state.metrics.evidence_runs, "timeout")
        after = settings.evidence_retry_after_s
        raise Problem(
            503,
            f"the evidence run for {ref.id} is taking longer than this request waits; it "
            f"continues, and its bundle will be listed at GET /api/v1/enterprises/{ref.id}/"
            f"evidence (retry after {after} s)",
            headers={"Retry-After": str(after)},
        ) from None


def _finished(task: asyncio.Task[BundleInfo]) -> None:
    # Retrieve the outcome of a run nobody waited for any more, so it is logged, not lost.
    if task.cancelled():
        log.warning("evidence run task cancelled (server stopping)")
    elif task.exception() is not None:
        log.info("evidence run ended without a bundle: %s", task.exception())


async def _run_in_slot(
    state: WebState, user: Principal, ref: EnterpriseRef, seed: int, slot: RunSlot
) -> BundleInfo:
    lease_s = state.settings.evidence_lease_s
    renewer = asyncio.create_task(_keep_lease(state.registry, slot, lease_s))
    try:
        async with state.evidence_workers:
            await asyncio.to_thread(
                state.registry.renew_run_slot,
                slot.slot_id,
                lease_s=lease_s,
                state="running",
            )
            return await _run_and_keep(state, user, ref, seed)
    finally:
        renewer.cancel()
        # Reached only once the worker thread has returned: to_thread is awaited to its end.
        await asyncio.to_thread(state.registry.release_run_slot, slot.slot_id)


async def _keep_lease(registry: Registry, slot: RunSlot, lease_s: float) -> None:
    while True:
        await asyncio.sleep(lease_s / 3)
        renewed = await asyncio.to_thread(registry.renew_run_slot, slot.slot_id, lease_s=lease_s)
        if not renewed:
            log.warning(
                "evidence slot %s of %s/%s expired while its run went on (lease %.0f s): "
                "the event loop was blocked; the queue may admit one run too many",
                slot.slot_id, slot.platform, slot.enterprise, lease_s,
            )  # fmt: skip
            return


async def _run_and_keep(
    state: WebState, user: Principal, ref: EnterpriseRef, seed: int
) -> BundleInfo:
    store = state.store
    if store is None:
        raise Problem(503, "no InfluxDB is configured for this app (influx: in the config)")
    try:
        info = await run_enterprise_evidence(
            state.registry, store, state.bundles, ref.platform.id, ref.id, seed,
            signer=state.bundle_signer,
        )  # fmt: skip
        loaded = state.bundles.load(ref.id, info.bundle_id)
    except (EvidenceError, StoreError, CollectorError, BundleDamaged) as exc:
        state.metrics.count(state.metrics.evidence_runs, "failed")
        raise unavailable("the evidence run", exc) from None
    status = "unknown" if loaded is None else loaded.document.status
    await asyncio.to_thread(
        state.registry.record_evidence_run,
        platform=ref.platform.id,
        enterprise=ref.id,
        bundle_sha256=info.bundle_id,
        status=status,
        seed=seed,
        by=user.user_id,
    )
    await asyncio.to_thread(
        prune_bundles, state.registry, state.bundles, ref.id, info.bundle_id,
        state.settings.bundles_per_enterprise,
    )  # fmt: skip
    state.metrics.count(state.metrics.evidence_runs, "ok")
    return info


def prune_bundles(
    registry: Registry, bundles: BundleStore, enterprise: str, kept: str, keep: int
) -> list[str]:
    """Delete the enterprise's bundles beyond the newest ``keep``, never ``kept`` (just
    stored) nor one a decision cites; the registry's write lock is held meanwhile, so no
    decision can cite a bundle as it goes."""
    removed = registry.with_cited_bundles(
        enterprise, lambda cited: bundles.prune(enterprise, keep, cited | {kept})
    )
    if removed:
        log.info("bundles of %s: %d old bundle(s) deleted, keep %d", enterprise, len(removed), keep)
    return removed
