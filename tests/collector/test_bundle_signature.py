"""Signed bundles on disk and in the evidence folder: ``bundle-signature.json`` beside the
manifest, deterministic, verified with collector.proof alone, served and checked on read.

The document is the web tests' (tests/collector/web/documents.py: made-up but consistent
figures); the writer, the report renderer (HTML), the store and the signature are real.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.bundle import BundleDamaged, BundleStore, write_enterprise_bundle
from collector.evidence.document import EnterpriseEvidence
from collector.proof import (
    SIGNATURE_NAME,
    SignatureError,
    fingerprint,
    verify_manifest_signature,
)
from collector.web.directory import DirectoryCache
from contract.wire import public_key_text
from tests.collector.web.documents import evidence_document
from tests.collector.web.world import build_world

KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bundle key").digest())
OTHER = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"another key").digest())


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EnterpriseEvidence]:
    world = build_world(tmp_path_factory.mktemp("world"), None)
    try:
        yield evidence_document(DirectoryCache(world.registry).current().enterprises["e05"], "pass")
    finally:
        world.registry.close()


def _writer(
    document: EnterpriseEvidence, signer: Ed25519PrivateKey | None
) -> Callable[[Path], None]:
    """What BundleStore.store calls: write the bundle (no reports) into the folder it gives."""

    def write(folder: Path) -> None:
        write_enterprise_bundle(document, folder, reports="none", signer=signer)

    return write


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _verify(folder: Path) -> str:
    """Verify the folder's signature with collector.proof; return the signer's fingerprint."""
    manifest = (folder / "manifest.json").read_bytes()
    signature = verify_manifest_signature((folder / SIGNATURE_NAME).read_bytes(), manifest)
    return signature.fingerprint


def test_written_twice_the_signed_bundle_is_byte_identical_and_verifies(
    tmp_path: Path, document: EnterpriseEvidence
) -> None:
    first, second, unsigned = tmp_path / "a", tmp_path / "b", tmp_path / "u"
    manifest = write_enterprise_bundle(document, first, reports="html", signer=KEY)
    assert write_enterprise_bundle(document, second, reports="html", signer=KEY) == manifest
    assert _files(first) == _files(second)
    assert set(_files(first)) == {
        "evidence.json",
        "manifest.json",
        "report.en.html",
        "report.zh-CN.html",
        SIGNATURE_NAME,
    }
    # Beside the manifest, not in it: signing leaves the manifest, and so the bundle id, alone.
    assert SIGNATURE_NAME not in {item.path for item in manifest.files}
    write_enterprise_bundle(document, unsigned, reports="html")
    assert set(_files(unsigned)) == set(_files(first)) - {SIGNATURE_NAME}
    assert (unsigned / "manifest.json").read_bytes() == (first / "manifest.json").read_bytes()
    assert _verify(first) == fingerprint(KEY.public_key())
    fields = json.loads((first / SIGNATURE_NAME).read_bytes())
    assert fields["enterprise"] == document.enterprise.id == "e05"
    assert fields["plan_digest"] == document.plan.digest
    assert fields["public_key"] == public_key_text(KEY.public_key())
    assert fields["kind"] == "enterprise"


def test_a_flipped_byte_in_the_written_manifest_or_signature_fails(
    tmp_path: Path, document: EnterpriseEvidence
) -> None:
    folder = tmp_path / "bundle"
    write_enterprise_bundle(document, folder, reports="none", signer=KEY)
    for name, index in (("manifest.json", 40), (SIGNATURE_NAME, 200), (SIGNATURE_NAME, -5)):
        path = folder / name
        honest = path.read_bytes()
        changed = bytearray(honest)
        changed[index] ^= 0x01
        path.write_bytes(bytes(changed))
        with pytest.raises(SignatureError):
            _verify(folder)
        path.write_bytes(honest)
        _verify(folder)


def test_an_earlier_signature_is_cleared_when_the_folder_is_rewritten(
    tmp_path: Path, document: EnterpriseEvidence
) -> None:
    folder = tmp_path / "bundle"
    write_enterprise_bundle(document, folder, reports="none", signer=KEY)
    write_enterprise_bundle(document, folder, reports="none")
    assert not (folder / SIGNATURE_NAME).exists()
    write_enterprise_bundle(document, folder, reports="none", signer=OTHER)
    assert _verify(folder) == fingerprint(OTHER.public_key())


def test_the_evidence_folder_serves_the_signature_and_checks_it(
    tmp_path: Path, document: EnterpriseEvidence
) -> None:
    store = BundleStore(tmp_path / "evidence")
    info = store.store("e05", _writer(document, KEY))
    served = store.read_file("e05", info.bundle_id, SIGNATURE_NAME)
    folder = tmp_path / "evidence" / "e05" / info.bundle_id
    assert served == (folder / SIGNATURE_NAME).read_bytes()
    manifest = store.read_file("e05", info.bundle_id, "manifest.json")
    assert manifest is not None and served is not None
    assert verify_manifest_signature(served, manifest).fingerprint == fingerprint(KEY.public_key())
    # A signature edited on disk is reported damaged, never served.
    (folder / SIGNATURE_NAME).write_bytes(served.replace(b'"e05"', b'"e06"'))
    with pytest.raises(BundleDamaged, match="does not verify"):
        store.read_file("e05", info.bundle_id, SIGNATURE_NAME)
    (folder / SIGNATURE_NAME).write_bytes(served)


def test_an_unsigned_bundle_has_no_signature_until_the_same_one_is_stored_signed(
    tmp_path: Path, document: EnterpriseEvidence
) -> None:
    store = BundleStore(tmp_path / "evidence")
    unsigned = store.store("e05", _writer(document, None))
    assert store.read_file("e05", unsigned.bundle_id, SIGNATURE_NAME) is None
    # Same evidence, same manifest, same id: the stored bundle keeps its files and is signed.
    signed = store.store("e05", _writer(document, KEY))
    assert signed.bundle_id == unsigned.bundle_id
    served = store.read_file("e05", signed.bundle_id, SIGNATURE_NAME)
    assert served is not None and b"SHA256:" in served
    # Signed once, a bundle keeps its first signature: it is never replaced.
    store.store("e05", _writer(document, OTHER))
    assert store.read_file("e05", signed.bundle_id, SIGNATURE_NAME) == served
    assert [p.name for p in (tmp_path / "evidence" / "e05").iterdir()] == [signed.bundle_id]
