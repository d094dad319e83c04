"""Running the evidence engine for a server: gather, compute, write, store the bundle.

The same steps as :func:`collector.bundle.build_enterprise_evidence` and the ``evidence``
command, split where a server needs it: the registry and InfluxDB reads run in the event loop
(they are async), the computation (bootstrap replicates, regressions: CPU-bound) and the
writing (the PDF renderer) run in a worker thread, so the server keeps answering meanwhile. The
bundle is byte for byte the one ``retrofit-collector evidence`` writes from the same data.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.bundle.archive import BundleInfo, BundleStore
from collector.bundle.gather import gather_enterprise_with_proofs
from collector.bundle.key_use import record_key_use
from collector.bundle.write import write_enterprise_bundle
from collector.evidence.assemble import enterprise_evidence
from collector.evidence.provenance import current_software
from collector.registry import Registry
from collector.store import InfluxStore

__all__ = ["run_enterprise_evidence"]

log = logging.getLogger(__name__)


async def run_enterprise_evidence(
    registry: Registry,
    store: InfluxStore,
    bundles: BundleStore,
    platform_id: str,
    enterprise_id: str,
    seed: int,
    *,
    signer: Ed25519PrivateKey | None = None,
    by: str = "web",
) -> BundleInfo:
    """Build the enterprise's evidence now and store its bundle; return the stored bundle.

    With ``signer`` (the collector's bundle key) the bundle is signed, and the audit log gets
    ``bundle_key.use`` (by ``by``) with the key's fingerprint.

    Raises what the engine raises: NotFoundError, RegistryUnavailable, StoreError,
    EvidenceError, BundleError.
    """
    found = await gather_enterprise_with_proofs(
        registry, store, enterprise_id, platform_id=platform_id
    )

    def compute_and_write() -> BundleInfo:
        document = enterprise_evidence(found.inputs, software=current_software(), seed=seed)

        def write(folder: Path) -> None:
            manifest = write_enterprise_bundle(document, folder, signer=signer, proofs=found.proofs)
            record_key_use(
                registry, signer, manifest, subject=f"{platform_id}/{enterprise_id}", by=by
            )

        return bundles.store(enterprise_id, write)

    info = await asyncio.to_thread(compute_and_write)
    log.info("evidence for %s/%s: bundle %s", platform_id, enterprise_id, info.bundle_id)
    return info
