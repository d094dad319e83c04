"""Bundles on disk: the canonical JSON, the rendered files, and a SHA-256 manifest.

A bundle is a directory: the document (``evidence.json``, ``platform.json`` or
``province.json``, canonical JSON), the reports rendered from it by :mod:`collector.report`
(HTML and PDF in zh-CN and en; the PDFs, or all reports, may be left out on request), the
bundles nested in it (a platform's enterprises, a province's platforms) and ``manifest.json``:
the path, SHA-256 and size of every file beside it, nested manifests included, so the SHA-256
of the top manifest seals the whole tree. With a signing key, ``bundle-signature.json`` beside
each manifest (not listed in it: it signs it) says which collector key produced the bundle
(:mod:`collector.proof.signature`). An enterprise bundle built from the registry also holds
its proof files, listed in the manifest (``day-seals.jsonl``, ``agent-keys.json``,
``day-checks.json``: :mod:`collector.proof.files`). docs/evidence-bundle.md describes every
file.

The manifest's model, its bytes, its hash and the guard that keeps its paths inside the bundle
live in :mod:`collector.proof` (pure, for the verifier) and are re-exported here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from collector.bundle.build import PlatformEvidence, ProvinceEvidence
from collector.bundle.day_seals import EnterpriseProofs
from collector.bundle.errors import BundleError
from collector.evidence.document import EnterpriseEvidence, canonical_json
from collector.proof import (
    AGENT_KEYS_NAME,
    DAY_CHECKS_NAME,
    DAY_SEALS_NAME,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleKind,
    Manifest,
    ManifestDocument,
    ManifestFile,
    ManifestPathError,
    agent_keys_bytes,
    day_checks_bytes,
    day_seals_bytes,
    fingerprint,
    manifest_bytes,
    manifest_sha256,
    path_inside,
    sign_manifest,
    signature_bytes,
)
from collector.report import enterprise_files, platform_files, province_files

__all__ = [
    "DOCUMENT_NAMES",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "REPORT_CHOICES",
    "SIGNATURE_NAME",
    "BundleKind",
    "Manifest",
    "ManifestFile",
    "ReportChoice",
    "manifest_sha256",
    "path_inside",
    "prepare_directory",
    "write_enterprise_bundle",
    "write_platform_bundle",
    "write_province_bundle",
]

log = logging.getLogger(__name__)

#: The document's file name in each kind of bundle.
DOCUMENT_NAMES = {
    "enterprise": "evidence.json",
    "platform": "platform.json",
    "province": "province.json",
}


# --- the rendered reports (collector.report) -----------------------------------------------

#: Which reports a bundle holds beside its JSON: ``all`` (HTML and PDF, the default), ``html``
#: (no PDF: a PDF takes seconds, its HTML a fraction of one, so a province of many enterprises
#: renders in seconds instead of minutes) or ``none`` (JSON and manifest only).
ReportChoice = Literal["all", "html", "none"]
REPORT_CHOICES: Final[tuple[ReportChoice, ...]] = ("all", "html", "none")


def _rendered(
    render: Callable[..., Mapping[str, bytes]], document: object, reports: ReportChoice
) -> dict[str, bytes]:
    if reports == "none":
        return {}
    files = render(document, pdf=reports == "all")
    checked: dict[str, bytes] = {}
    for file_name, content in files.items():
        # A renderer's names land in the bundle: plain file names, nothing that climbs out.
        if not isinstance(content, bytes) or "/" in file_name or file_name in ("", ".", ".."):
            raise BundleError(f"renderer {render.__name__} returned an unusable file {file_name!r}")
        checked[file_name] = content
    return checked


# --- the directory --------------------------------------------------------------------------


def _read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST_NAME
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def _inside(folder: Path, relative: str) -> Path:
    try:
        return path_inside(folder, relative)
    except ManifestPathError as exc:
        raise BundleError(str(exc)) from None


def _clear_previous(folder: Path) -> None:
    """Remove an earlier bundle's files (as its manifest lists them) from ``folder``."""
    manifest = _read_manifest(folder)
    if manifest is None:
        return
    for item in manifest.files:
        target = _inside(folder, item.path)
        if PurePosixPath(item.path).name == MANIFEST_NAME and target.parent != folder.resolve():
            _clear_previous(target.parent)
        target.unlink(missing_ok=True)
    (folder / MANIFEST_NAME).unlink(missing_ok=True)
    (folder / SIGNATURE_NAME).unlink(missing_ok=True)
    for child in sorted(folder.iterdir(), reverse=True):
        if child.is_dir() and not any(child.iterdir()):
            child.rmdir()


def prepare_directory(folder: Path) -> None:
    """Make ``folder`` ready for a bundle: new, empty, or holding an earlier bundle (replaced).

    Raises BundleError for a directory with other files, or one that cannot be made.
    """
    try:
        if folder.exists() and not folder.is_dir():
            raise BundleError(f"{folder} is a file: expected a directory for the bundle")
        folder.mkdir(parents=True, exist_ok=True)
        _clear_previous(folder)
        if any(folder.iterdir()):
            raise BundleError(
                f"{folder} is not empty and holds no earlier bundle: choose a new or empty "
                "directory (nothing was written)"
            )
    except OSError as exc:
        raise BundleError(f"{folder}: {exc.strerror or exc}") from exc


def _write(
    folder: Path,
    kind: BundleKind,
    files: Mapping[str, bytes],
    nested: list[str],
    documents: Sequence[ManifestDocument] = (),
) -> Manifest:
    try:
        for name, content in files.items():
            (folder / name).write_bytes(content)
        entries = []
        for relative in sorted([*files, *nested]):
            content = (folder / PurePosixPath(relative)).read_bytes()
            entries.append(
                ManifestFile(
                    path=relative, sha256=hashlib.sha256(content).hexdigest(), size=len(content)
                )
            )
        manifest = Manifest(kind=kind, files=entries, documents=list(documents))
        (folder / MANIFEST_NAME).write_bytes(manifest_bytes(manifest))
    except OSError as exc:
        raise BundleError(f"{folder}: {exc.strerror or exc}") from exc
    return manifest


def _sign(
    folder: Path,
    manifest: Manifest,
    *,
    enterprise: str | None,
    plan_digest: str,
    signer: Ed25519PrivateKey | None,
) -> None:
    """Write ``bundle-signature.json`` beside the manifest when there is a key; else nothing."""
    if signer is None:
        return
    signature = sign_manifest(
        manifest_sha256(manifest),
        kind=manifest.kind,
        enterprise=enterprise,
        plan_digest=plan_digest,
        key=signer,
    )
    try:
        (folder / SIGNATURE_NAME).write_bytes(signature_bytes(signature))
    except OSError as exc:
        raise BundleError(f"{folder / SIGNATURE_NAME}: {exc.strerror or exc}") from exc
    log.debug(
        "%s bundle %s signed by %s",
        manifest.kind, signature.manifest_sha256[:12], fingerprint(signer.public_key()),
    )  # fmt: skip


def _proof_files(doc: EnterpriseEvidence, proofs: EnterpriseProofs | None) -> dict[str, bytes]:
    """The three proof files, or none without ``proofs``; BundleError if they are another
    enterprise's."""
    if proofs is None:
        return {}
    if proofs.enterprise != doc.enterprise.id:
        raise BundleError(
            f"proof files of enterprise {proofs.enterprise} given for {doc.enterprise.id}'s bundle"
        )
    return {
        DAY_SEALS_NAME: day_seals_bytes(proofs.seals),
        AGENT_KEYS_NAME: agent_keys_bytes(proofs.enterprise, proofs.agents),
        DAY_CHECKS_NAME: day_checks_bytes(proofs.enterprise, proofs.checks),
    }


def write_enterprise_bundle(
    doc: EnterpriseEvidence,
    out_dir: Path,
    *,
    reports: ReportChoice = "all",
    signer: Ed25519PrivateKey | None = None,
    proofs: EnterpriseProofs | None = None,
) -> Manifest:
    """Write one enterprise's bundle into ``out_dir``; return its manifest.

    ``reports`` says which rendered reports go beside the JSON (:data:`ReportChoice`); with
    ``signer`` (the collector's bundle key) ``bundle-signature.json`` goes beside the manifest;
    with ``proofs`` (from the gather) the three proof files are written and listed, even when
    no seal exists (then ``day-seals.jsonl`` is empty). Raises BundleError when the directory
    cannot take it.
    """
    proof_files = _proof_files(doc, proofs)
    prepare_directory(out_dir)
    files = {DOCUMENT_NAMES["enterprise"]: canonical_json(doc)} | proof_files
    files |= _rendered(enterprise_files, doc, reports)
    # The enterprise's file (一企一档): listed, the bytes stay in the registry.
    documents = [ManifestDocument.model_validate(d.model_dump()) for d in doc.documents]
    manifest = _write(out_dir, "enterprise", files, [], documents)
    _sign(
        out_dir, manifest, enterprise=doc.enterprise.id, plan_digest=doc.plan.digest, signer=signer
    )
    return manifest


def _enterprise_reports(
    enterprise_id: str, reports: ReportChoice, pdf_for: frozenset[str] | None
) -> ReportChoice:
    """``reports``, but HTML only for an enterprise outside ``pdf_for`` (None: every one)."""
    if reports == "all" and pdf_for is not None and enterprise_id not in pdf_for:
        return "html"
    return reports


def _check_pdf_for(known: set[str], pdf_for: frozenset[str] | None) -> None:
    """BundleError when ``pdf_for`` names an enterprise the bundle does not hold (a typo)."""
    unknown = sorted((pdf_for or frozenset()) - known)
    if unknown:
        raise BundleError(f"--pdf-for names enterprises not in this bundle: {', '.join(unknown)}")


def _write_platform(
    evidence: PlatformEvidence,
    out_dir: Path,
    reports: ReportChoice,
    pdf_for: frozenset[str] | None,
    signer: Ed25519PrivateKey | None,
) -> Manifest:
    nested = []
    for doc in evidence.enterprises:
        choice = _enterprise_reports(doc.enterprise.id, reports, pdf_for)
        write_enterprise_bundle(
            doc,
            out_dir / doc.enterprise.id,
            reports=choice,
            signer=signer,
            proofs=evidence.proofs.get(doc.enterprise.id),
        )
        nested.append(f"{doc.enterprise.id}/{MANIFEST_NAME}")
    files = {DOCUMENT_NAMES["platform"]: canonical_json(evidence.rollup)}
    files |= _rendered(platform_files, evidence.rollup, reports)
    manifest = _write(out_dir, "platform", files, nested)
    digest = evidence.rollup.plan.digest
    _sign(out_dir, manifest, enterprise=None, plan_digest=digest, signer=signer)
    return manifest


def write_platform_bundle(
    evidence: PlatformEvidence,
    out_dir: Path,
    *,
    reports: ReportChoice = "all",
    pdf_for: frozenset[str] | None = None,
    signer: Ed25519PrivateKey | None = None,
) -> Manifest:
    """Write a platform's roll-up into ``out_dir`` and each enterprise's bundle into
    ``out_dir/<enterprise id>/``; the platform's manifest lists theirs.

    With ``reports="all"`` and ``pdf_for`` given, only the enterprises it names get PDFs
    beside their HTML (the platform's own report always does). With ``signer`` every
    manifest, the platform's and each enterprise's, gets its signature beside it.
    """
    _check_pdf_for({doc.enterprise.id for doc in evidence.enterprises}, pdf_for)
    prepare_directory(out_dir)
    return _write_platform(evidence, out_dir, reports, pdf_for, signer)


def write_province_bundle(
    evidence: ProvinceEvidence,
    out_dir: Path,
    *,
    reports: ReportChoice = "all",
    pdf_for: frozenset[str] | None = None,
    signer: Ed25519PrivateKey | None = None,
) -> Manifest:
    """Write the province summary into ``out_dir`` and each platform's bundle into
    ``out_dir/<platform id>/`` (with its enterprises inside); ``pdf_for`` and ``signer`` as
    for a platform."""
    known = {doc.enterprise.id for p in evidence.platforms for doc in p.enterprises}
    _check_pdf_for(known, pdf_for)
    prepare_directory(out_dir)
    nested = []
    for platform in evidence.platforms:
        folder = out_dir / platform.rollup.platform.id
        folder.mkdir(exist_ok=True)
        _write_platform(platform, folder, reports, pdf_for, signer)
        nested.append(f"{platform.rollup.platform.id}/{MANIFEST_NAME}")
    files = {DOCUMENT_NAMES["province"]: canonical_json(evidence.summary)}
    files |= _rendered(province_files, evidence.summary, reports)
    manifest = _write(out_dir, "province", files, nested)
    digest = evidence.summary.plan.digest
    _sign(out_dir, manifest, enterprise=None, plan_digest=digest, signer=signer)
    return manifest
