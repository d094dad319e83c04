"""``bundle-signature.json``: the collector's Ed25519 signature over a bundle's manifest.

The file sits beside ``manifest.json`` and is not listed in it (it signs it)::

    {"enterprise": "e-01" | null, "fingerprint": "SHA256:…", "format":
     "retrofit-verify.bundle-signature/1", "kind": "enterprise", "manifest_sha256": "<hex>",
     "plan_digest": "sha256:<hex>", "public_key": "ed25519:<base64>", "sig": "<base64>"}

``sig`` is Ed25519 (RFC 8032) over the wire contract's canonical bytes
(:func:`contract.wire.canonical_bytes`: sorted keys, no whitespace, UTF-8) of every other
field. Ed25519 signatures are deterministic and the file holds no clock time, so the same
evidence and key give the same bytes. ``enterprise`` is the enterprise's id in an enterprise
bundle and null in a platform's or province's (their manifest, which the signature covers,
lists the documents that name them).

What it proves: which collector key produced the bundle. Not that the figures are right:
whoever runs the collector holds the key (docs/evidence-bundle.md, "The bundle signature").

The fingerprint is OpenSSH's (``ssh-keygen -l``): ``SHA256:`` and the unpadded base64 of the
SHA-256 of the key's SSH wire form (``string "ssh-ed25519"``, ``string key``), so an operator
can compare it with a standard tool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from typing import Final, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from collector.proof.errors import SignatureError
from collector.proof.manifest import SHA256_HEX_PATTERN, BundleKind, Manifest, json_bytes
from contract.wire import canonical_bytes, public_key_from_text, public_key_text

__all__ = [
    "SIGNATURE_FORMAT",
    "SIGNATURE_NAME",
    "BundleSignature",
    "fingerprint",
    "sign_manifest",
    "signature_bytes",
    "verify_manifest_signature",
]

SIGNATURE_FORMAT: Final = "retrofit-verify.bundle-signature/1"
SIGNATURE_NAME: Final = "bundle-signature.json"
_MAX_SIGNATURE_BYTES = 4096
_SSH_KEY_TYPE = b"ssh-ed25519"


class BundleSignature(BaseModel):
    """The content of ``bundle-signature.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["retrofit-verify.bundle-signature/1"] = SIGNATURE_FORMAT
    kind: BundleKind
    #: The enterprise's id in an enterprise bundle; None in a platform's or province's.
    enterprise: str | None
    manifest_sha256: str = Field(pattern=SHA256_HEX_PATTERN)
    plan_digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    public_key: str = Field(pattern=r"^ed25519:[A-Za-z0-9+/]{43}=$")
    fingerprint: str = Field(pattern=r"^SHA256:[A-Za-z0-9+/]{43}$")
    sig: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$")


def fingerprint(key: Ed25519PublicKey) -> str:
    """OpenSSH's fingerprint of ``key``: ``SHA256:`` + unpadded base64 (as ``ssh-keygen -l``)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    blob = b"".join(struct.pack(">I", len(part)) + part for part in (_SSH_KEY_TYPE, raw))
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")


def _signed_bytes(signature: BundleSignature) -> bytes:
    return canonical_bytes(signature.model_dump(mode="json", exclude={"sig"}))


def sign_manifest(
    manifest_sha256: str,
    *,
    kind: BundleKind,
    enterprise: str | None,
    plan_digest: str,
    key: Ed25519PrivateKey,
) -> BundleSignature:
    """Sign the manifest whose bytes hash to ``manifest_sha256`` (hex) with ``key``.

    Raises pydantic's ValidationError if a field is malformed (a hash not in hex, say).
    """
    public = key.public_key()
    unsigned = BundleSignature(
        kind=kind,
        enterprise=enterprise,
        manifest_sha256=manifest_sha256,
        plan_digest=plan_digest,
        public_key=public_key_text(public),
        fingerprint=fingerprint(public),
        sig="A" * 86 + "==",  # a placeholder of the right shape; never signed, replaced below
    )
    sig = base64.b64encode(key.sign(_signed_bytes(unsigned))).decode("ascii")
    return unsigned.model_copy(update={"sig": sig})


def signature_bytes(signature: BundleSignature) -> bytes:
    """The bytes of ``bundle-signature.json``: the bundle's JSON form (sorted, indented)."""
    return json_bytes(signature)


def _parse(signature_file: bytes) -> BundleSignature:
    if len(signature_file) > _MAX_SIGNATURE_BYTES:
        raise SignatureError(
            "unreadable", f"{len(signature_file)} bytes, expected at most {_MAX_SIGNATURE_BYTES}"
        )
    try:
        return BundleSignature.model_validate_json(signature_file)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise SignatureError("unreadable", f"{where}: {first['msg']}") from None


def _manifest_kind(manifest_file: bytes) -> str | None:
    try:
        return Manifest.model_validate_json(manifest_file).kind
    except ValidationError:
        return None


def verify_manifest_signature(signature_file: bytes, manifest_file: bytes) -> BundleSignature:
    """Check that ``signature_file`` signs exactly ``manifest_file`` (both as read from disk).

    Returns the signature, whose ``public_key`` the caller compares with the key it trusts
    (a pinned fingerprint, the operator's published one): a valid signature only says that
    the holder of *that* key signed. Raises SignatureError naming the first problem found.
    """
    signature = _parse(signature_file)
    actual = hashlib.sha256(manifest_file).hexdigest()
    if signature.manifest_sha256 != actual:
        raise SignatureError(
            "wrong_manifest",
            f"signs manifest {signature.manifest_sha256[:12]}…, "
            f"but manifest.json hashes to {actual[:12]}…",
        )
    kind = _manifest_kind(manifest_file)
    if kind != signature.kind:
        raise SignatureError(
            "wrong_manifest", f"signs a {signature.kind} bundle, the manifest is of {kind}"
        )
    try:
        public = public_key_from_text(signature.public_key)
    except ValueError as exc:
        raise SignatureError("unreadable", f"public_key: {exc}") from None
    if fingerprint(public) != signature.fingerprint:
        raise SignatureError(
            "bad_fingerprint",
            f"fingerprint {signature.fingerprint} is not that of its public key "
            f"({fingerprint(public)})",
        )
    try:
        public.verify(_signature_raw(signature.sig), _signed_bytes(signature))
    except InvalidSignature:
        raise SignatureError(
            "bad_signature", f"sig does not verify under {signature.fingerprint}"
        ) from None
    return signature


def _signature_raw(text: str) -> bytes:
    """The 64 signature bytes of ``sig``, which must be their one base64 spelling.

    Base64 of 64 bytes leaves 2 bits of the last character unused, and decoders ignore them:
    without this check a changed ``sig`` could still verify. ``sig`` is not signed itself.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise SignatureError("unreadable", f"sig is not base64: {exc}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise SignatureError("unreadable", "sig is not in canonical base64")
    return raw
