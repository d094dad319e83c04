"""The bundle as files: the manifest tree, the collector's signature over it, the plan digest.

``manifest.json`` lists every file with its SHA-256 and size; ``bundle-signature.json`` signs
the manifest's bytes with the collector's key (docs/evidence-bundle.md). Both prove only that
the files are what the collector wrote and which key wrote them: whoever runs the collector
holds that key, so the figures are checked against the seals after this. A reviewer may pin the
key they expect (``--collector-key``, an ``ed25519:`` key or its ``SHA256:`` fingerprint).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from collector.proof import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    Manifest,
    ManifestPathError,
    SignatureError,
    path_inside,
    verify_manifest_signature,
)
from collector.verify.errors import BundleUnreadable
from collector.verify.findings import Finding, Report
from collector.verify.load import BundleFiles, read_bundle_file

__all__ = ["check_manifest", "check_signature"]


def _listed_bytes(bundle: BundleFiles, relative: str) -> bytes | None:
    """A listed file's bytes: the ones the verifier reads elsewhere, not a second read."""
    held = {
        "evidence.json": bundle.evidence,
        "day-seals.jsonl": bundle.day_seals,
        "agent-keys.json": bundle.agent_keys,
    }
    if relative in held:
        return held[relative]
    path = bundle.folder / PurePosixPath(relative)
    try:
        return read_bundle_file(path.parent, path.name)
    except BundleUnreadable:
        return None


def _present(folder: Path) -> set[str]:
    found = set()
    for root, _dirs, files in os.walk(folder):
        for name in files:
            found.add((Path(root) / name).relative_to(folder).as_posix())
    return found - {MANIFEST_NAME, SIGNATURE_NAME}


def check_manifest(bundle: BundleFiles, enterprise: str, report: Report) -> None:
    """Every listed file is there with its hash and size; no file is there unlisted."""
    try:
        manifest = Manifest.model_validate_json(bundle.manifest)
    except ValidationError as exc:
        report.add(Finding("manifest_invalid", enterprise, field=MANIFEST_NAME,
                           detail=str(exc.errors()[0]["msg"])))  # fmt: skip
        return
    if manifest.kind != "enterprise":
        report.add(Finding("manifest_invalid", enterprise, field="kind",
                           bundle_value=manifest.kind, expected_value="enterprise"))  # fmt: skip
    listed = set()
    for entry in manifest.files:
        listed.add(entry.path)
        _check_entry(bundle, enterprise, entry.path, entry.sha256, entry.size, report)
    for relative in sorted(_present(bundle.folder) - listed):
        report.add(Finding("manifest_unlisted", enterprise, field=relative,
                           detail="a file in the bundle the manifest does not list"))  # fmt: skip


def _check_entry(
    bundle: BundleFiles, enterprise: str, relative: str, sha256: str, size: int, report: Report
) -> None:
    try:
        path_inside(bundle.folder, relative)
    except ManifestPathError:
        report.add(Finding("manifest_mismatch", enterprise, field=relative,
                           detail="the manifest lists a path outside the bundle"))  # fmt: skip
        return
    content = _listed_bytes(bundle, relative)
    if content is None:
        report.add(Finding("manifest_mismatch", enterprise, field=relative, bundle_value="absent",
                           expected_value=sha256, bundle_label="file",
                           expected_label="manifest"))  # fmt: skip
        return
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256 or len(content) != size:
        report.add(Finding("manifest_mismatch", enterprise, field=relative,
                           bundle_value=f"sha256 {actual} ({len(content)} bytes)",
                           expected_value=f"sha256 {sha256} ({size} bytes)", bundle_label="file",
                           expected_label="manifest"))  # fmt: skip


def _pinned(pin: str, public_key: str, fingerprint: str) -> bool:
    return pin in (public_key, fingerprint)


def check_signature(
    bundle: BundleFiles, enterprise: str, plan_digest: str, pin: str | None, report: Report
) -> None:
    """The collector's signature signs this manifest, for this enterprise and plan, under the
    pinned key if one is given; the signing key's fingerprint goes into the notes."""
    if bundle.signature is None:
        report.add(Finding("unsigned", enterprise, field=SIGNATURE_NAME,
                           detail="the bundle has no collector signature"))  # fmt: skip
        return
    try:
        signature = verify_manifest_signature(bundle.signature, bundle.manifest)
    except SignatureError as exc:
        report.add(Finding("signature_invalid", enterprise, field=SIGNATURE_NAME,
                           detail=f"{exc.code}: {exc.detail}"))  # fmt: skip
        return
    report.notes.append(
        f"signed by collector key {signature.fingerprint} ({signature.public_key})"
        + ("" if pin else ": not pinned, compare it with the fingerprint the operator published")
    )
    for name, found, expected in (
        ("enterprise", signature.enterprise, enterprise),
        ("plan_digest", signature.plan_digest, plan_digest),
    ):
        if found != expected:
            report.add(Finding("signature_differs", enterprise, field=name, bundle_value=found,
                               expected_value=expected, bundle_label="signature",
                               expected_label="plan"))  # fmt: skip
    if pin is not None and not _pinned(pin, signature.public_key, signature.fingerprint):
        report.add(Finding("collector_key_mismatch", enterprise, field="public_key",
                           bundle_value=f"{signature.fingerprint} ({signature.public_key})",
                           expected_value=pin, bundle_label="signature",
                           expected_label="pinned"))  # fmt: skip
