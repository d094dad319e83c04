"""The library entry points: registry + InfluxDB in, evidence documents out.

``build_enterprise_evidence`` for one enterprise (``build_enterprise_bundle``: with its proof
files), ``build_platform`` for a platform's enterprises and its roll-up, ``build_province`` for
every platform of a plan and the province summary. The demo and the web app call these; the CLI
(``retrofit-collector evidence|rollup``) adds only the writing. Computation is CPU-bound
(bootstrap, regressions) and runs in the caller's thread: a server calls these in a worker
thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from collector.bundle.day_seals import EnterpriseProofs
from collector.bundle.gather import (
    gather_enterprise_with_proofs,
    gather_platform_with_proofs,
    plan_of,
)
from collector.errors import NotFoundError
from collector.evidence.assemble import enterprise_evidence
from collector.evidence.change import DEFAULT_SEED
from collector.evidence.document import (
    EnterpriseEvidence,
    PlatformRollup,
    ProvinceSummary,
    SoftwareDoc,
)
from collector.evidence.provenance import current_software
from collector.evidence.rollups import platform_rollup, province_summary
from collector.registry import Registry
from collector.store import InfluxStore

__all__ = [
    "EnterpriseBundle",
    "PlatformEvidence",
    "ProvinceEvidence",
    "build_enterprise_bundle",
    "build_enterprise_evidence",
    "build_platform",
    "build_province",
]


@dataclass(frozen=True, slots=True)
class EnterpriseBundle:
    """One enterprise's evidence document and its bundle's proof files."""

    document: EnterpriseEvidence
    proofs: EnterpriseProofs


@dataclass(frozen=True, slots=True)
class PlatformEvidence:
    """A platform's roll-up and the documents of its enterprises, in the plan's order, with
    each enterprise's proof files by enterprise id (none: bundles written without them)."""

    rollup: PlatformRollup
    enterprises: tuple[EnterpriseEvidence, ...]
    proofs: Mapping[str, EnterpriseProofs] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ProvinceEvidence:
    """A plan's province summary and every platform's evidence, in the plan's order."""

    summary: ProvinceSummary
    platforms: tuple[PlatformEvidence, ...]


async def build_enterprise_evidence(
    registry: Registry,
    store: InfluxStore,
    enterprise_id: str,
    *,
    seed: int = DEFAULT_SEED,
    platform_id: str | None = None,
    software: SoftwareDoc | None = None,
) -> EnterpriseEvidence:
    """One enterprise's evidence from the latest plan version that lists it.

    Raises NotFoundError (unknown enterprise), RegistryUnavailable, StoreError.
    """
    built = await build_enterprise_bundle(
        registry, store, enterprise_id, seed=seed, platform_id=platform_id, software=software
    )
    return built.document


async def build_enterprise_bundle(
    registry: Registry,
    store: InfluxStore,
    enterprise_id: str,
    *,
    seed: int = DEFAULT_SEED,
    platform_id: str | None = None,
    software: SoftwareDoc | None = None,
) -> EnterpriseBundle:
    """:func:`build_enterprise_evidence`, with the proof files its bundle carries."""
    found = await gather_enterprise_with_proofs(
        registry, store, enterprise_id, platform_id=platform_id
    )
    document = enterprise_evidence(found.inputs, software=software or current_software(), seed=seed)
    return EnterpriseBundle(document, found.proofs)


async def build_platform(
    registry: Registry,
    store: InfluxStore,
    platform_id: str,
    *,
    seed: int = DEFAULT_SEED,
    plan_key: str | None = None,
    software: SoftwareDoc | None = None,
) -> PlatformEvidence:
    """Every enterprise of a platform and the platform's roll-up.

    ``plan_key`` None takes the only plan loaded. Raises NotFoundError for an unknown plan or
    platform, RegistryUnavailable, StoreError.
    """
    plan, ref = await plan_of(registry, plan_key)
    platform = next((p for p in plan.platforms if p.id == platform_id), None)
    if platform is None:
        known = ", ".join(p.id for p in plan.platforms)
        raise NotFoundError(f"plan {plan.key} has no platform {platform_id} (it has {known})")
    versions = software or current_software()
    found = await gather_platform_with_proofs(registry, store, plan, ref, platform)
    docs = tuple(enterprise_evidence(item.inputs, software=versions, seed=seed) for item in found)
    rollup = platform_rollup(plan, ref, platform, docs, software=versions)
    return PlatformEvidence(rollup, docs, {item.proofs.enterprise: item.proofs for item in found})


async def build_province(
    registry: Registry,
    store: InfluxStore,
    *,
    seed: int = DEFAULT_SEED,
    plan_key: str | None = None,
    software: SoftwareDoc | None = None,
) -> ProvinceEvidence:
    """Every platform of a plan (the only one loaded if ``plan_key`` is None) and the summary."""
    plan, _ = await plan_of(registry, plan_key)
    versions = software or current_software()
    platforms = tuple(
        [
            await build_platform(
                registry, store, platform.id, seed=seed, plan_key=plan.key, software=versions
            )
            for platform in plan.platforms
        ]
    )
    ref = platforms[0].rollup.plan
    summary = province_summary(plan, ref, [item.rollup for item in platforms], software=versions)
    return ProvinceEvidence(summary, platforms)
