"""A platform's bundle: its own files, every enterprise bundle inside it, the roll-up recomputed.

A platform bundle (docs/evidence-bundle.md) holds ``platform.json`` (the roll-up: passed
enterprises, the minimum of 10, the subsidy) and one enterprise bundle per sub-folder, whose
manifests its manifest lists. Each enterprise bundle is verified on its own
(:func:`collector.verify.check.verify_loaded`); the platform's manifest and signature are
checked like an enterprise's; and the roll-up is recomputed with the collector's own
``collector.evidence.platform_rollup`` from the enterprises' ``evidence.json`` and your plan,
and compared as an enterprise's document is. A province's bundle is not verified as a whole
yet: run the command on each platform folder inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Final

from pydantic import ValidationError

from collector.evidence import platform_rollup
from collector.evidence.document import EnterpriseEvidence, PlatformRollup
from collector.plan import Platform
from collector.proof import MANIFEST_NAME, SIGNATURE_NAME, Manifest
from collector.verify.check import verify_loaded
from collector.verify.errors import BundleUnreadable
from collector.verify.findings import (
    EXIT_NOT_ANCHORED,
    EXIT_NOT_VERIFIED,
    EXIT_VERIFIED,
    Finding,
    Report,
)
from collector.verify.load import TrustRoot, load_bundle, read_bundle_file
from collector.verify.recompute import compare_documents
from collector.verify.tree import Tree, check_manifest, check_signature

__all__ = ["PLATFORM_NAME", "PlatformResult", "is_platform_bundle", "verify_platform"]

PLATFORM_NAME: Final = "platform.json"


@dataclass(slots=True)
class PlatformResult:
    """The platform's own report (its files, its roll-up) and each enterprise's."""

    platform: Report
    enterprises: list[Report] = field(default_factory=list)

    @property
    def reports(self) -> list[Report]:
        """Every report, the enterprises' first."""
        return [*self.enterprises, self.platform]

    @property
    def exit_code(self) -> int:
        """The worst of all: 1 with any finding anywhere, else 3 if any seal is not anchored."""
        codes = {report.exit_code for report in self.reports}
        for code in (EXIT_NOT_VERIFIED, EXIT_NOT_ANCHORED):
            if code in codes:
                return code
        return EXIT_VERIFIED


def is_platform_bundle(folder: Path) -> bool:
    """Whether ``folder`` holds a platform's roll-up (``platform.json``)."""
    return (folder / PLATFORM_NAME).is_file()


def _nested(manifest: bytes, folder: Path) -> list[str]:
    """The enterprise folders the manifest lists (``<id>/manifest.json``); without a readable
    manifest, every sub-folder holding one."""
    try:
        paths = [entry.path for entry in Manifest.model_validate_json(manifest).files]
    except ValidationError:
        return sorted(p.parent.name for p in folder.glob(f"*/{MANIFEST_NAME}"))
    nested = [PurePosixPath(path) for path in paths]
    return sorted(p.parts[0] for p in nested if len(p.parts) == 2 and p.name == MANIFEST_NAME)


def _rollup(content: bytes | None, report: Report) -> PlatformRollup | None:
    if content is None:
        report.add(Finding("evidence_invalid", report.enterprise, field=PLATFORM_NAME,
                           detail="no platform.json"))  # fmt: skip
        return None
    try:
        return PlatformRollup.model_validate_json(content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or PLATFORM_NAME
        report.add(Finding("evidence_invalid", report.enterprise, field=where,
                           detail=f"platform.json: {first['msg']}"))  # fmt: skip
        return None


def _enterprise(folder: Path, trust: TrustRoot, pin: str | None, result: PlatformResult) -> (
    EnterpriseEvidence | None
):  # fmt: skip
    try:
        bundle = load_bundle(folder)
    except BundleUnreadable as exc:
        owner = result.platform.enterprise
        detail = f"enterprise bundle: {exc}"
        result.platform.add(Finding("manifest_mismatch", owner, field=folder.name, detail=detail))
        return None
    result.enterprises.append(verify_loaded(bundle, trust, collector_key=pin))
    try:
        return EnterpriseEvidence.model_validate_json(bundle.evidence)
    except ValidationError:
        return None  # its own report says why


def _platform(trust: TrustRoot, platform_id: str) -> Platform | None:
    for platform in trust.loaded.plan.platforms:
        if platform.id == platform_id:
            return platform
    return None


def _check_rollup(
    trust: TrustRoot,
    rollup: PlatformRollup,
    content: bytes,
    documents: list[EnterpriseEvidence],
    report: Report,
) -> None:
    owner = report.enterprise
    if rollup.plan.digest != trust.digest:
        report.add(Finding("plan_digest_differs", owner, field="plan.digest",
                           bundle_value=rollup.plan.digest, expected_value=trust.digest,
                           bundle_label=PLATFORM_NAME, expected_label="your plan"))  # fmt: skip
    platform = _platform(trust, rollup.platform.id)
    if platform is None:
        report.add(Finding("enterprise_not_in_plan", owner, field="platform.id",
                           detail="your plan has no platform of this id"))  # fmt: skip
        return
    try:
        ours = platform_rollup(
            trust.loaded.plan, rollup.plan, platform, documents, software=rollup.software
        )
    except ValueError as exc:
        report.add(Finding("recompute_failed", owner, field=PLATFORM_NAME, detail=str(exc)))
        return
    compare_documents(PLATFORM_NAME, owner, ours, rollup.software, content, report)


def verify_platform(folder: Path, trust: TrustRoot, *, collector_key: str | None = None) -> (
    PlatformResult
):  # fmt: skip
    """Verify the platform bundle in ``folder``: BundleUnreadable if it has no manifest."""
    manifest = read_bundle_file(folder, MANIFEST_NAME)
    if manifest is None:
        raise BundleUnreadable(str(folder), f"no {MANIFEST_NAME}: not an evidence bundle")
    content = read_bundle_file(folder, PLATFORM_NAME)
    result = PlatformResult(Report(folder.name))
    rollup = _rollup(content, result.platform)
    if rollup is not None:
        result.platform.enterprise = rollup.platform.id
    nested = _nested(manifest, folder)
    tree = Tree(folder, manifest, {PLATFORM_NAME: content}, "platform",
                result.platform.enterprise, frozenset(nested))  # fmt: skip
    check_manifest(tree, result.platform)
    signature = read_bundle_file(folder, SIGNATURE_NAME)
    check_signature(signature, tree, None, trust.digest, collector_key, result.platform)
    documents = [_enterprise(folder / name, trust, collector_key, result) for name in nested]
    if rollup is not None and content is not None:
        found = [document for document in documents if document is not None]
        _check_rollup(trust, rollup, content, found, result.platform)
    return result
