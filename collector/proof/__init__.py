"""A bundle's proof files, pure: the manifest and the collector's signature over it.

:mod:`collector.proof.manifest` holds ``manifest.json`` (the model, its bytes, its SHA-256,
the path guard); :mod:`collector.proof.signature` holds ``bundle-signature.json`` (signing,
verifying, the OpenSSH-style fingerprint); :mod:`collector.proof.errors` their errors. The room
imports only ``contract``, pydantic and cryptography (tests/test_import_rules.py), so a
reviewer's verifier can check a bundle with it and nothing of the server: no registry, store,
web app or report renderer. docs/evidence-bundle.md describes both files.
"""

from collector.proof.errors import ManifestPathError, ProofError, SignatureError, SignatureProblem
from collector.proof.manifest import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    BundleKind,
    Manifest,
    ManifestDocument,
    ManifestFile,
    manifest_bytes,
    manifest_sha256,
    path_inside,
)
from collector.proof.signature import (
    SIGNATURE_FORMAT,
    SIGNATURE_NAME,
    BundleSignature,
    fingerprint,
    sign_manifest,
    signature_bytes,
    verify_manifest_signature,
)

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "SIGNATURE_FORMAT",
    "SIGNATURE_NAME",
    "BundleKind",
    "BundleSignature",
    "Manifest",
    "ManifestDocument",
    "ManifestFile",
    "ManifestPathError",
    "ProofError",
    "SignatureError",
    "SignatureProblem",
    "fingerprint",
    "manifest_bytes",
    "manifest_sha256",
    "path_inside",
    "sign_manifest",
    "signature_bytes",
    "verify_manifest_signature",
]
