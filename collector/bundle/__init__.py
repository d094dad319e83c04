"""Evidence bundles: gather from the registry and InfluxDB, build documents, write them.

``build_*`` return documents (:mod:`collector.bundle.build`); ``write_*`` put them on disk with
a SHA-256 manifest (:mod:`collector.bundle.write`). docs/evidence-bundle.md.
"""

from collector.bundle.build import (
    PlatformEvidence,
    ProvinceEvidence,
    build_enterprise_evidence,
    build_platform,
    build_province,
)
from collector.bundle.errors import BundleError
from collector.bundle.gather import gather_enterprise, gather_platform
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
    "MANIFEST_NAME",
    "REPORT_CHOICES",
    "BundleError",
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
    "manifest_sha256",
    "write_enterprise_bundle",
    "write_platform_bundle",
    "write_province_bundle",
]
