"""Running the evidence engine for a caller, from the API or a page's button."""

from __future__ import annotations

from collector.evidence import DEFAULT_SEED
from collector.web.directory import EnterpriseRef
from collector.web.principal import Principal
from collector.web.runs import run_queued
from collector.web.schemas import BundleOut
from collector.web.services.bundles import loaded_bundle
from collector.web.services.influx import influx_store
from collector.web.services.summaries import bundle_out
from collector.web.state import WebState

__all__ = ["run_and_audit"]


async def run_and_audit(
    state: WebState, user: Principal, ref: EnterpriseRef, seed: int | None
) -> BundleOut:
    """Run the engine for ``ref`` through the shared queue (collector/web/runs.py); the run
    audits itself. Raises Problem 429 (a limit is full) or 503 (failed, or still running)."""
    influx_store(state)
    info = await run_queued(state, user, ref, DEFAULT_SEED if seed is None else seed)
    loaded = loaded_bundle(state, ref, info.bundle_id)
    return bundle_out(loaded.info, loaded.document)
