"""Evidence bundles: gather, build, write, keep and read them (docs/evidence-bundle.md).

``build_*`` return documents (:mod:`collector.bundle.build`); ``write_*`` put them on disk with
a SHA-256 manifest (:mod:`collector.bundle.write`); :class:`BundleStore` keeps enterprise
bundles in the evidence folder and checks every read against the manifest
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
    PlatformEvidence,
    ProvinceEvidence,
    build_enterprise_evidence,
    build_platform,
    build_province,
)
from collector.bundle.errors import BundleDamaged, BundleError
from collector.bundle.gather import gather_enterprise, gather_platform
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
    "MANIFEST_NAME",
    "REPORT_CHOICES",
    "BundleDamaged",
    "BundleError",
    "BundleInfo",
    "BundleStore",
    "LoadedBundle",
    "Manifest",
    "ManifestFile",
    "PlatformEvidence",
    "ProvinceEvidence",
    "ReportChoice",
    "build_enterprise_evidence",
    "build_platform",
    "build_province",
    "gather_enterprise",
    "gather_platform",
    "manifest_files",
    "manifest_sha256",
    "run_enterprise_evidence",
    "write_enterprise_bundle",
    "write_platform_bundle",
    "write_province_bundle",
]
