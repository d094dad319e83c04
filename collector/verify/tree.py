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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from collector.proof import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleKind,
    Manifest,
    ManifestPathError,
    SignatureError,
    path_inside,
    verify_manifest_signature,
)
from collector.verify.errors import BundleUnreadable
from collector.verify.findings import Finding, Report
from collector.verify.load import read_bundle_file

__all__ = ["Tree", "check_manifest", "check_signature"]


@dataclass(frozen=True, slots=True)
class Tree:
    """One bundle folder as its manifest sees it: the manifest's bytes, the files the verifier
    has already read (checked as read, never read twice), the kind it must be, and the
    sub-folders that are nested bundles with their own manifest (checked on their own)."""

    folder: Path
    manifest: bytes
    held: Mapping[str, bytes | None]
    kind: BundleKind
    owner: str
    nested: frozenset[str] = frozenset()


def _listed_bytes(tree: Tree, relative: str) -> bytes | None:
    if relative in tree.held:
        return tree.held[relative]
    path = tree.folder / PurePosixPath(relative)
    try:
        return read_bundle_file(path.parent, path.name)
    except BundleUnreadable:
        return None


def _present(tree: Tree) -> set[str]:
    found = set()
    for root, _dirs, files in os.walk(tree.folder):
        for name in files:
            relative = (Path(root) / name).relative_to(tree.folder)
            if relative.parts[0] not in tree.nested or len(relative.parts) == 1:
                found.add(relative.as_posix())
    return found - {MANIFEST_NAME, SIGNATURE_NAME}


def check_manifest(tree: Tree, report: Report) -> None:
    """Every listed file is there with its hash and size; no file is there unlisted."""
    try:
        manifest = Manifest.model_validate_json(tree.manifest)
    except ValidationError as exc:
        report.add(Finding("manifest_invalid", tree.owner, field=MANIFEST_NAME,
                           detail=str(exc.errors()[0]["msg"])))  # fmt: skip
        return
    if manifest.kind != tree.kind:
        report.add(Finding("manifest_invalid", tree.owner, field="kind",
                           bundle_value=manifest.kind, expected_value=tree.kind))  # fmt: skip
    listed = set()
    for entry in manifest.files:
        listed.add(entry.path)
        _check_entry(tree, entry.path, entry.sha256, entry.size, report)
    for relative in sorted(_present(tree) - listed):
        report.add(Finding("manifest_unlisted", tree.owner, field=relative,
                           detail="a file in the bundle the manifest does not list"))  # fmt: skip


def _check_entry(tree: Tree, relative: str, sha256: str, size: int, report: Report) -> None:
    owner = tree.owner
    try:
        path_inside(tree.folder, relative)
    except ManifestPathError:
        report.add(Finding("manifest_mismatch", owner, field=relative,
                           detail="the manifest lists a path outside the bundle"))  # fmt: skip
        return
    content = _listed_bytes(tree, relative)
    if content is None:
        report.add(Finding("manifest_mismatch", owner, field=relative, bundle_value="absent",
                           expected_value=sha256, bundle_label="file",
                           expected_label="manifest"))  # fmt: skip
        return
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256 or len(content) != size:
        report.add(Finding("manifest_mismatch", owner, field=relative,
                           bundle_value=f"sha256 {actual} ({len(content)} bytes)",
                           expected_value=f"sha256 {sha256} ({size} bytes)", bundle_label="file",
                           expected_label="manifest"))  # fmt: skip


def _pinned(pin: str, public_key: str, fingerprint: str) -> bool:
    return pin in (public_key, fingerprint)


def check_signature(
    signature_file: bytes | None,
    tree: Tree,
    enterprise: str | None,
    plan_digest: str,
    pin: str | None,
    report: Report,
) -> None:
    """The collector's signature signs this manifest, for this enterprise (None: a platform's
    or province's) and plan, under the pinned key if one is given; the signing key's
    fingerprint goes into the notes."""
    owner = tree.owner
    if signature_file is None:
        report.add(Finding("unsigned", owner, field=SIGNATURE_NAME,
                           detail="the bundle has no collector signature"))  # fmt: skip
        return
    try:
        signature = verify_manifest_signature(signature_file, tree.manifest)
    except SignatureError as exc:
        report.add(Finding("signature_invalid", owner, field=SIGNATURE_NAME,
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
            report.add(Finding("signature_differs", owner, field=name, bundle_value=found,
                               expected_value=expected, bundle_label="signature",
                               expected_label="plan"))  # fmt: skip
    if pin is not None and not _pinned(pin, signature.public_key, signature.fingerprint):
        report.add(Finding("collector_key_mismatch", owner, field="public_key",
                           bundle_value=f"{signature.fingerprint} ({signature.public_key})",
                           expected_value=pin, bundle_label="signature",
                           expected_label="pinned"))  # fmt: skip
