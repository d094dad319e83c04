"""Evidence bundles: gather, build, write, keep and read them (docs/evidence-bundle.md).

``gather_*`` read the inputs and check the rows against the agents' day seals
(:mod:`collector.bundle.gather`, :mod:`collector.bundle.day_seals`); ``build_*`` return
documents (:mod:`collector.bundle.build`); ``write_*`` put them on disk with a SHA-256 manifest
and, for an enterprise, its proof files (:mod:`collector.bundle.write`); :class:`BundleStore`
keeps enterprise bundles in the evidence folder and checks every read against the manifest
(:mod:`collector.bundle.archive`); :func:`run_enterprise_evidence` builds and stores one from a
server (:mod:`collector.bundle.run`).
"""

from collector.bundle.archive import (
    BUNDLE_ID_PATTERN,
    FILE_NAME_PATTERN,
    BundleInfo,
    BundleStore,
    LoadedBundle,
    manifest_files,
)
from collector.bundle.build import (
    EnterpriseBundle,
    PlatformEvidence,
    ProvinceEvidence,
    build_enterprise_bundle,
    build_enterprise_evidence,
    build_platform,
    build_province,
)
from collector.bundle.day_seals import EnterpriseProofs, SealOutcome, check_rows
from collector.bundle.errors import BundleDamaged, BundleError
from collector.bundle.gather import (
    GatheredEnterprise,
    gather_enterprise,
    gather_enterprise_with_proofs,
    gather_platform,
    gather_platform_with_proofs,
)
from collector.bundle.key_use import KEY_USE_ACTION, record_key_use
from collector.bundle.run import run_enterprise_evidence
from collector.bundle.write import (
    MANIFEST_NAME,
    REPORT_CHOICES,
    Manifest,
    ManifestFile,
    ReportChoice,
    manifest_sha256,
    write_enterprise_bundle,
    write_platform_bundle,
    write_province_bundle,
)

__all__ = [
    "BUNDLE_ID_PATTERN",
    "FILE_NAME_PATTERN",
    "KEY_USE_ACTION",
    "MANIFEST_NAME",
    "REPORT_CHOICES",
    "BundleDamaged",
    "BundleError",
    "BundleInfo",
    "BundleStore",
    "EnterpriseBundle",
    "EnterpriseProofs",
    "GatheredEnterprise",
    "LoadedBundle",
    "Manifest",
    "ManifestFile",
    "PlatformEvidence",
    "ProvinceEvidence",
    "ReportChoice",
    "SealOutcome",
    "build_enterprise_bundle",
    "build_enterprise_evidence",
    "build_platform",
    "build_province",
    "check_rows",
    "gather_enterprise",
    "gather_enterprise_with_proofs",
    "gather_platform",
    "gather_platform_with_proofs",
    "manifest_files",
    "manifest_sha256",
    "record_key_use",
    "run_enterprise_evidence",
    "write_enterprise_bundle",
    "write_platform_bundle",
    "write_province_bundle",
]
