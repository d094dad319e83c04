"""A bundle's ``manifest.json``: the model, its one byte form, its hash and the path guard.

The manifest lists every file beside it (path relative to it, POSIX; SHA-256; size), nested
bundles' manifests included, so the SHA-256 of the top manifest's bytes seals the whole tree
and is the bundle's id (docs/evidence-bundle.md). An enterprise's manifest also lists the
documents of its file (一企一档: SHA-256, kind, name, size, who, when), which stay in the
registry; a manifest without documents is written without the key, byte for byte as before.
It lives here, apart from the writer (:mod:`collector.bundle.write`, which re-exports it), so
that reading and checking a bundle needs only pydantic: no registry, store or report renderer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path, PurePosixPath
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from collector.proof.errors import ManifestPathError

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "SHA256_HEX_PATTERN",
    "BundleKind",
    "Manifest",
    "ManifestDocument",
    "ManifestFile",
    "json_bytes",
    "manifest_bytes",
    "manifest_sha256",
    "path_inside",
]

MANIFEST_FORMAT: Final = "retrofit-verify.manifest/1"
MANIFEST_NAME: Final = "manifest.json"
SHA256_HEX_PATTERN: Final = r"^[0-9a-f]{64}$"

#: The three kinds of bundle: one enterprise's, a platform's, a province's.
BundleKind = Literal["enterprise", "platform", "province"]


class ManifestFile(BaseModel):
    """One file of a bundle: its path relative to the manifest (POSIX), SHA-256 and size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    sha256: str = Field(pattern=SHA256_HEX_PATTERN)
    size: int = Field(ge=0)


class ManifestDocument(BaseModel):
    """A document of the enterprise's file: its bytes are not in the bundle but in the
    registry, named by this SHA-256 (docs/evidence-bundle.md, "Enterprise documents")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: str = Field(pattern=SHA256_HEX_PATTERN)
    kind: Literal["contract", "invoice", "payment_proof", "summary_report"]
    name: str
    media_type: Literal["application/pdf", "image/png", "image/jpeg"]
    size: int = Field(ge=0)
    #: An invoice's amount in fen; None for every other kind.
    amount_fen: int | None
    attached_at: dt.datetime
    attached_by: str


class Manifest(BaseModel):
    """A bundle's ``manifest.json``: every file beside it, sorted by path; an enterprise's
    documents, oldest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["retrofit-verify.manifest/1"] = MANIFEST_FORMAT
    kind: BundleKind
    files: list[ManifestFile]
    documents: list[ManifestDocument] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _without_empty_documents(self, handler: SerializerFunctionWrapHandler) -> Any:
        # No ``documents`` key when there are none: the bytes, and so the ids, of bundles
        # without documents stay what they were before enterprise files existed.
        tree = handler(self)
        if isinstance(tree, dict) and not tree.get("documents"):
            tree.pop("documents", None)
        return tree


def json_bytes(model: BaseModel) -> bytes:
    """A proof file's one byte form: sorted keys, UTF-8, 1-space indent, trailing newline.

    The same form as the evidence documents (collector.evidence.document.canonical_json; a
    test keeps them equal), written out here so that this room needs no evidence engine.
    Proof files hold no floats, so there is no NaN to refuse.
    """
    text = json.dumps(model.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, indent=1)
    return (text + "\n").encode("utf-8")


def manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest's bytes as written in ``manifest.json``."""
    return json_bytes(manifest)


def manifest_sha256(manifest: Manifest) -> str:
    """SHA-256 (hex) of the manifest's bytes as written: the one hash that seals the bundle."""
    return hashlib.sha256(manifest_bytes(manifest)).hexdigest()


def path_inside(folder: Path, relative: str) -> Path:
    """The file a manifest in ``folder`` names by ``relative``, resolved.

    Raises ManifestPathError when it resolves outside ``folder`` (``..``, an absolute path,
    a symbolic link that leaves): no read or delete driven by a manifest leaves its bundle.
    """
    target = (folder / PurePosixPath(relative)).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise ManifestPathError(str(folder / MANIFEST_NAME), relative)
    return target
