"""`collector.proof.signature`: signing a manifest, verifying it, and the key's fingerprint."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.proof import (
    BundleSignature,
    Manifest,
    ManifestFile,
    SignatureError,
    fingerprint,
    manifest_bytes,
    manifest_sha256,
    sign_manifest,
    signature_bytes,
    verify_manifest_signature,
)
from contract.wire import canonical_bytes, public_key_text

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PLAN_DIGEST = "sha256:" + "1" * 64
MANIFEST = Manifest(
    kind="enterprise",
    files=[
        ManifestFile(path="evidence.json", sha256="2" * 64, size=1234),
        ManifestFile(path="report.en.html", sha256="3" * 64, size=99),
    ],
)


def _signed(key: Ed25519PrivateKey = KEY, manifest: Manifest = MANIFEST) -> bytes:
    signature = sign_manifest(
        manifest_sha256(manifest),
        kind=manifest.kind,
        enterprise="e-01",
        plan_digest=PLAN_DIGEST,
        key=key,
    )
    return signature_bytes(signature)


def test_a_signed_manifest_verifies_and_names_its_key() -> None:
    signature = verify_manifest_signature(_signed(), manifest_bytes(MANIFEST))
    assert signature.public_key == public_key_text(KEY.public_key())
    assert signature.fingerprint == fingerprint(KEY.public_key())
    assert (signature.kind, signature.enterprise, signature.plan_digest) == (
        "enterprise",
        "e-01",
        PLAN_DIGEST,
    )
    assert signature.manifest_sha256 == manifest_sha256(MANIFEST)


def test_the_signature_is_deterministic_and_has_no_clock_time() -> None:
    assert _signed() == _signed()
    assert _signed(OTHER) != _signed()
    fields = json.loads(_signed())
    assert sorted(fields) == [
        "enterprise",
        "fingerprint",
        "format",
        "kind",
        "manifest_sha256",
        "plan_digest",
        "public_key",
        "sig",
    ]
    assert fields["format"] == "retrofit-verify.bundle-signature/1"


def test_the_signature_covers_the_canonical_bytes_without_sig() -> None:
    # What a verifier in another language must rebuild: the wire contract's canonical JSON.
    fields = json.loads(_signed())
    sig = fields.pop("sig")
    KEY.public_key().verify(base64.b64decode(sig), canonical_bytes(fields))


def test_the_fingerprint_is_the_one_ssh_keygen_prints(tmp_path: Path) -> None:
    for key in (KEY, OTHER, Ed25519PrivateKey.generate()):
        path = tmp_path / "key.pub"
        path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
            )
        )
        result = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True, check=True
        )
        assert result.stdout.split()[1] == fingerprint(key.public_key())


def test_every_flipped_byte_of_the_signature_file_is_refused() -> None:
    signed, manifest = _signed(), manifest_bytes(MANIFEST)
    codes = set()
    for index in range(len(signed)):
        changed = bytearray(signed)
        changed[index] ^= 0x01
        with pytest.raises(SignatureError) as caught:
            verify_manifest_signature(bytes(changed), manifest)
        codes.add(caught.value.code)
    assert codes == {"unreadable", "bad_fingerprint", "bad_signature", "wrong_manifest"}


def test_every_flipped_byte_of_the_manifest_is_refused() -> None:
    signed, manifest = _signed(), manifest_bytes(MANIFEST)
    for index in range(len(manifest)):
        changed = bytearray(manifest)
        changed[index] ^= 0x01
        with pytest.raises(SignatureError, match="hashes to") as caught:
            verify_manifest_signature(signed, bytes(changed))
        assert caught.value.code == "wrong_manifest"


def test_a_signature_re_made_with_another_key_under_the_first_name_is_refused() -> None:
    forged = json.loads(_signed(OTHER))
    honest = json.loads(_signed())
    forged["public_key"], forged["fingerprint"] = honest["public_key"], honest["fingerprint"]
    with pytest.raises(SignatureError, match="does not verify") as caught:
        verify_manifest_signature(json.dumps(forged).encode(), manifest_bytes(MANIFEST))
    assert caught.value.code == "bad_signature"


def test_a_signature_of_another_kind_of_bundle_is_refused() -> None:
    platform = MANIFEST.model_copy(update={"kind": "platform"})
    signature = BundleSignature.model_validate_json(_signed())
    moved = signature.model_copy(update={"manifest_sha256": manifest_sha256(platform)})
    with pytest.raises(SignatureError, match="signs a enterprise bundle, the manifest is of"):
        verify_manifest_signature(signature_bytes(moved), manifest_bytes(platform))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Invalid JSON"),
        (b"[]", "should be an object"),
        (b"{}", "Field required"),
        (b"x" * 5000, "at most 4096"),
    ],
)
def test_an_unreadable_signature_file_says_what_is_wrong(content: bytes, message: str) -> None:
    with pytest.raises(SignatureError, match=message) as caught:
        verify_manifest_signature(content, manifest_bytes(MANIFEST))
    assert caught.value.code == "unreadable"


def test_a_sig_spelled_with_other_unused_bits_is_refused() -> None:
    # 64 bytes take 86 base64 characters: the last one's 4 low bits carry nothing and decoders
    # ignore them, so this sig decodes to the same 64 bytes and would verify if not refused.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    fields = json.loads(_signed())
    last = alphabet.index(fields["sig"][85])
    fields["sig"] = fields["sig"][:85] + alphabet[last ^ 0b0101] + "=="
    assert base64.b64decode(fields["sig"]) == base64.b64decode(json.loads(_signed())["sig"])
    with pytest.raises(SignatureError, match="canonical base64") as caught:
        verify_manifest_signature(json.dumps(fields).encode(), manifest_bytes(MANIFEST))
    assert caught.value.code == "unreadable"
