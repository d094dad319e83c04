"""The audit log's record that the collector's bundle key signed a bundle (``bundle_key.use``).

Whoever holds the bundle key can sign any evidence (docs/evidence-bundle.md), so each use is
written down: which key (its fingerprint), which bundle (the manifest's SHA-256), what kind,
and who asked. After a key rotation the log says which bundles the old key signed.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.proof import BundleKind, Manifest, fingerprint, manifest_sha256
from collector.registry import Registry

__all__ = ["KEY_USE_ACTION", "record_key_use"]

KEY_USE_ACTION = "bundle_key.use"


def record_key_use(
    registry: Registry,
    signer: Ed25519PrivateKey | None,
    manifest: Manifest,
    *,
    subject: str,
    by: str,
) -> None:
    """Append ``bundle_key.use`` for ``manifest`` signed by ``signer``; nothing when unsigned.

    ``subject``: the bundle's owner (``<platform>/<enterprise>``, ``<platform>``, the plan
    key); ``by``: who ran it. Raises what the registry raises (RegistryUnavailable).
    """
    if signer is None:
        return
    kind: BundleKind = manifest.kind
    # The registry's facade has no generic audit call; its repositories' audit log is the
    # one append-only table every write uses.
    registry.repositories.audit.append(
        by=by,
        action=KEY_USE_ACTION,
        subject=subject,
        detail={
            "fingerprint": fingerprint(signer.public_key()),
            "kind": kind,
            "manifest_sha256": manifest_sha256(manifest),
        },
    )
