"""A bundle's proof files, pure: the manifest, the collector's signature over it, and the
enterprise's day seals, agent keys and day checks.

:mod:`collector.proof.manifest` holds ``manifest.json`` (the model, its bytes, its SHA-256,
the path guard); :mod:`collector.proof.signature` holds ``bundle-signature.json`` (signing,
verifying, the OpenSSH-style fingerprint); :mod:`collector.proof.files` holds
``day-seals.jsonl``, ``agent-keys.json`` and ``day-checks.json`` (models, writing, reading);
:mod:`collector.proof.errors` their errors. The room
imports only ``contract``, pydantic and cryptography (tests/test_import_rules.py), so a
reviewer's verifier can check a bundle with it and nothing of the server: no registry, store,
web app or report renderer. docs/evidence-bundle.md describes every file.
"""

from collector.proof.errors import (
    ManifestPathError,
    ProofError,
    ProofFileError,
    SignatureError,
    SignatureProblem,
)
from collector.proof.files import (
    AGENT_KEYS_FORMAT,
    AGENT_KEYS_NAME,
    AGENT_KEYS_NOTE,
    DAY_CHECKS_FORMAT,
    DAY_CHECKS_NAME,
    DAY_SEALS_NAME,
    MAX_DAY_SEAL_LINE_BYTES,
    PROOF_FILE_NAMES,
    AgentKeysFile,
    BundleAgentKey,
    BundleDayCheck,
    BundleDaySeal,
    BundleSealDifference,
    DayChecksFile,
    agent_keys_bytes,
    bundle_day_seal,
    day_checks_bytes,
    day_seals_bytes,
    read_agent_keys,
    read_day_checks,
    read_day_seals,
)
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

# The face names files.py's exports again, as a face does: the house's (and httpx's) habit.
# pylint: disable=duplicate-code
__all__ = [
    "AGENT_KEYS_FORMAT",
    "AGENT_KEYS_NAME",
    "AGENT_KEYS_NOTE",
    "DAY_CHECKS_FORMAT",
    "DAY_CHECKS_NAME",
    "DAY_SEALS_NAME",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "MAX_DAY_SEAL_LINE_BYTES",
    "PROOF_FILE_NAMES",
    "SIGNATURE_FORMAT",
    "SIGNATURE_NAME",
    "AgentKeysFile",
    "BundleAgentKey",
    "BundleDayCheck",
    "BundleDaySeal",
    "BundleKind",
    "BundleSealDifference",
    "BundleSignature",
    "DayChecksFile",
    "Manifest",
    "ManifestDocument",
    "ManifestFile",
    "ManifestPathError",
    "ProofError",
    "ProofFileError",
    "SignatureError",
    "SignatureProblem",
    "agent_keys_bytes",
    "bundle_day_seal",
    "day_checks_bytes",
    "day_seals_bytes",
    "fingerprint",
    "manifest_bytes",
    "manifest_sha256",
    "path_inside",
    "read_agent_keys",
    "read_day_checks",
    "read_day_seals",
    "sign_manifest",
    "signature_bytes",
    "verify_manifest_signature",
]
