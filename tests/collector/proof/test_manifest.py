"""`collector.proof.manifest`: the manifest's bytes, its hash and the path guard."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import collector.bundle.write as write
from collector.evidence.document import canonical_json
from collector.proof import (
    Manifest,
    ManifestFile,
    ManifestPathError,
    manifest_bytes,
    manifest_sha256,
    path_inside,
)

MANIFESTS = [
    Manifest(kind="enterprise", files=[]),
    Manifest(
        kind="platform",
        files=[
            ManifestFile(path="e-01/manifest.json", sha256="a" * 64, size=812),
            ManifestFile(path="platform.json", sha256="0" * 64, size=0),
            ManifestFile(path="报告.zh-CN.html", sha256="f" * 64, size=2**40),
        ],
    ),
]


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_manifest_bytes_are_the_documents_canonical_json(manifest: Manifest) -> None:
    # The writer used canonical_json before the model moved here: bundle ids must not change.
    assert manifest_bytes(manifest) == canonical_json(manifest)
    assert manifest_sha256(manifest) == hashlib.sha256(canonical_json(manifest)).hexdigest()
    assert Manifest.model_validate_json(manifest_bytes(manifest)) == manifest


def test_the_bundle_writer_re_exports_the_same_objects() -> None:
    assert write.Manifest is Manifest and write.ManifestFile is ManifestFile
    assert write.manifest_sha256 is manifest_sha256 and write.path_inside is path_inside


def test_paths_inside_the_bundle_resolve(tmp_path: Path) -> None:
    assert path_inside(tmp_path, "e-01/manifest.json") == tmp_path.resolve() / "e-01/manifest.json"
    assert path_inside(tmp_path, "a/../b.json") == tmp_path.resolve() / "b.json"


@pytest.mark.parametrize("relative", ["../evil.json", "/etc/passwd", "a/../../x", "link/x"])
def test_a_path_that_leaves_the_bundle_is_refused(tmp_path: Path, relative: str) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "link").symlink_to(tmp_path)
    with pytest.raises(ManifestPathError, match="outside the bundle") as caught:
        path_inside(bundle, relative)
    assert caught.value.relative == relative
    assert caught.value.manifest == str(bundle / "manifest.json")
