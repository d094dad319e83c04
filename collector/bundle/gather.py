"""What an enterprise's evidence is computed from, read from the registry and InfluxDB.

Reads only the daily rollups (``kpi_daily``): evidence over months reads one point per
device-day, never every window (docs/storage.md). The rows are checked against the agents'
day seals (:mod:`collector.bundle.day_seals`): equal rows carry the sealed figures, every
outcome goes to the engine and to the registry, and the bundle's proof files are collected.
Registry calls are SQLite reads and run in a worker thread (``asyncio.to_thread``) so they
never block the event loop of a web app.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from collector.bundle.day_seals import EnterpriseProofs, gather_seals
from collector.errors import NotFoundError
from collector.evidence.assemble import EnterpriseInputs
from collector.evidence.document import PlanRefDoc
from collector.plan import Enterprise, Plan, Platform
from collector.registry import Attachment, Registry
from collector.registry.records import AgentEntry, PlanVersionInfo, SeqGap
from collector.store import InfluxStore

__all__ = [
    "GatheredEnterprise",
    "gather_enterprise",
    "gather_enterprise_with_proofs",
    "gather_platform",
    "gather_platform_with_proofs",
    "plan_of",
    "plan_ref",
]

log = logging.getLogger(__name__)


def plan_ref(info: PlanVersionInfo) -> PlanRefDoc:
    """Which plan version the evidence judges against."""
    return PlanRefDoc(key=info.plan_key, version=info.version, digest=info.digest)


async def plan_of(registry: Registry, plan_key: str | None) -> tuple[Plan, PlanRefDoc]:
    """The latest version of ``plan_key``, or of the only plan loaded when it is None.

    Raises NotFoundError when the plan is unknown, or when None is given and the registry
    holds no plan or several.
    """
    if plan_key is None:
        keys = await asyncio.to_thread(registry.plan_keys)
        if len(keys) != 1:
            shown = ", ".join(keys) or "none loaded"
            raise NotFoundError(f"choose a plan with --plan (plans in the registry: {shown})")
        plan_key = keys[0]
    version = await asyncio.to_thread(registry.plan_version, plan_key)
    return version.plan, plan_ref(version.info)


def _integrity(
    registry: Registry, platform: str, enterprise: str
) -> tuple[list[AgentEntry], list[SeqGap], dict[str, int], dict[str, dict[str, int]]]:
    agents = [a for a in registry.agents(platform=platform) if a.enterprise == enterprise]
    gaps = [gap for a in agents for gap in registry.seq_gaps(a.agent_id, include_closed=True)]
    highest = {a.agent_id: seq for a in agents if (seq := registry.highest_seq(a.agent_id))}
    ids = [a.agent_id for a in agents]
    return agents, gaps, highest, registry.quarantine_counts_for(platform, enterprise, ids)


def _documents(registry: Registry, platform: str, enterprise: str) -> list[Attachment]:
    # The enterprise's file (一企一档) in force: its invoices' amounts are the subsidy's
    # invoiced total; withdrawn documents no longer count.
    return [item for item in registry.attachments(platform, enterprise) if item.withdrawn is None]


@dataclass(frozen=True, slots=True)
class GatheredEnterprise:
    """One enterprise's evidence inputs and its bundle's proof files."""

    inputs: EnterpriseInputs
    proofs: EnterpriseProofs


async def gather_enterprise(
    registry: Registry,
    store: InfluxStore,
    enterprise_id: str,
    *,
    platform_id: str | None = None,
) -> EnterpriseInputs:
    """The inputs of one enterprise's evidence, from the latest plan version that lists it.

    Raises NotFoundError for an enterprise no loaded plan lists, and what the registry and
    the store raise (RegistryUnavailable, StoreError).
    """
    found = await gather_enterprise_with_proofs(
        registry, store, enterprise_id, platform_id=platform_id
    )
    return found.inputs


async def gather_enterprise_with_proofs(
    registry: Registry,
    store: InfluxStore,
    enterprise_id: str,
    *,
    platform_id: str | None = None,
) -> GatheredEnterprise:
    """:func:`gather_enterprise`, with the proof files of the enterprise's bundle."""
    found = await asyncio.to_thread(registry.find_enterprise, platform_id, enterprise_id)
    if found is None:
        under = "" if platform_id is None else f" under platform {platform_id}"
        raise NotFoundError(f"no loaded plan lists enterprise {enterprise_id}{under}")
    info, platform, enterprise = found
    version = await asyncio.to_thread(registry.plan_version, info.plan_key, info.version)
    return await _gather(registry, store, version.plan, plan_ref(info), platform, enterprise)


async def gather_platform(
    registry: Registry, store: InfluxStore, plan: Plan, ref: PlanRefDoc, platform: Platform
) -> list[EnterpriseInputs]:
    """The inputs of every enterprise of ``platform`` in ``plan``, in the plan's order."""
    found = await gather_platform_with_proofs(registry, store, plan, ref, platform)
    return [item.inputs for item in found]


async def gather_platform_with_proofs(
    registry: Registry, store: InfluxStore, plan: Plan, ref: PlanRefDoc, platform: Platform
) -> list[GatheredEnterprise]:
    """:func:`gather_platform`, with each enterprise's proof files."""
    return [
        await _gather(registry, store, plan, ref, platform, enterprise)
        for enterprise in platform.enterprises
    ]


async def _gather(
    registry: Registry,
    store: InfluxStore,
    plan: Plan,
    ref: PlanRefDoc,
    platform: Platform,
    enterprise: Enterprise,
) -> GatheredEnterprise:
    agents, gaps, highest, quarantined = await asyncio.to_thread(
        _integrity, registry, platform.id, enterprise.id
    )
    documents = await asyncio.to_thread(_documents, registry, platform.id, enterprise.id)
    last_day = max(period.end for period in enterprise.reporting_periods)
    rows = await store.daily(enterprise.id, enterprise.baseline.start, last_day)
    # Enterprise ids are unique within a plan; another plan's platform may reuse one.
    rows = [row for row in rows if row.platform == platform.id]
    span = (enterprise.baseline.start, last_day)
    sealed, proofs = await gather_seals(registry, platform.id, enterprise.id, span, rows, agents)
    log.info(
        "gathered %s/%s: %d device-days, %d agents", platform.id, enterprise.id, len(rows),
        len(agents),
    )  # fmt: skip
    inputs = EnterpriseInputs(
        plan=plan,
        plan_ref=ref,
        platform=platform,
        enterprise=enterprise,
        rows=sealed.rows,
        agents=tuple(agents),
        seq_gaps=tuple(gaps),
        highest_seqs=highest,
        quarantined=quarantined,
        documents=tuple(documents),
        seal_checks=sealed.outcomes,
    )
    return GatheredEnterprise(inputs, proofs)
