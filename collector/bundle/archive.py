"""The evidence folder: where enterprise bundles are kept, how they are read, checked and stored.

Layout: ``<evidence_dir>/<enterprise id>/<bundle id>/`` where the bundle id is the SHA-256 of
the bundle's ``manifest.json`` (:mod:`collector.bundle.write`: every other file with its
path, SHA-256 and size), as ``retrofit-collector evidence`` writes it. A
review decision names a bundle by that id, so what a reviewer decided on can be re-read and
re-checked byte for byte. Every read checks the file against the manifest and the manifest
against the folder's name: a bundle edited on disk is reported damaged, never shown. A signed
bundle's ``bundle-signature.json`` (beside the manifest, not in it) is checked against the
manifest when it is read; it is not part of the id, so a bundle keeps its id when signed.

A bundle is written into a temporary folder beside the others and renamed into place, so a
reader never sees half a bundle; the same evidence gives the same bytes (document.py) and so
the same id, and storing it again changes nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from collector.bundle.errors import BundleDamaged
from collector.bundle.write import DOCUMENT_NAMES, MANIFEST_NAME, Manifest
from collector.evidence.document import EnterpriseEvidence
from collector.proof import SIGNATURE_NAME, SignatureError, verify_manifest_signature

__all__ = [
    "BUNDLE_ID_PATTERN",
    "FILE_NAME_PATTERN",
    "MAX_FILE_BYTES",
    "BundleInfo",
    "BundleStore",
    "LoadedBundle",
    "manifest_files",
]

MANIFEST = MANIFEST_NAME
EVIDENCE = DOCUMENT_NAMES["enterprise"]
BUNDLE_ID_PATTERN = r"^[0-9a-f]{64}$"
_BUNDLE_ID_RE = re.compile(BUNDLE_ID_PATTERN)
#: A file name a bundle may hold (and the pages and API accept in a URL).
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_FILE_NAME_RE = re.compile(FILE_NAME_PATTERN)
#: Largest bundle file served, in bytes (a PDF with embedded CJK fonts is ~0.3 MB).
MAX_FILE_BYTES = 64 * 1024 * 1024
_CACHED_DOCUMENTS = 64


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """A stored bundle: its id, when the web app stored it (file time), its files."""

    enterprise: str
    bundle_id: str
    stored_at: float
    files: dict[str, str]


@dataclass(frozen=True, slots=True)
class LoadedBundle:
    """A checked bundle with its parsed evidence document."""

    info: BundleInfo
    document: EnterpriseEvidence


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_files(manifest_bytes: bytes) -> dict[str, str]:
    """File name → SHA-256 from an enterprise bundle's manifest; BundleDamaged if it is not one.

    An enterprise bundle holds plain file names only (no nested bundles); anything else in
    its manifest (a path with a folder, ``..``) is refused, so no read can leave the folder.
    """
    try:
        manifest = Manifest.model_validate_json(manifest_bytes)
    except ValidationError:
        raise BundleDamaged(f"{MANIFEST} is not a bundle manifest") from None
    if manifest.kind != "enterprise":
        raise BundleDamaged(f"{MANIFEST} is of a {manifest.kind} bundle, not an enterprise's")
    checked: dict[str, str] = {}
    for item in manifest.files:
        if not _FILE_NAME_RE.fullmatch(item.path) or item.path == MANIFEST:
            raise BundleDamaged(f"{MANIFEST} lists {item.path[:80]!r}, not a plain file name")
        checked[item.path] = item.sha256
    if EVIDENCE not in checked:
        raise BundleDamaged(f"{MANIFEST} does not list {EVIDENCE}")
    return checked


class BundleStore:
    """The evidence folder: list, read and store enterprise bundles, each read checked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._documents: OrderedDict[str, EnterpriseEvidence] = OrderedDict()

    def _folder(self, enterprise: str, bundle_id: str | None = None) -> Path:
        # Callers pass ids already matched against the plan (enterprise) and BUNDLE_ID_PATTERN.
        folder = self.root / enterprise
        return folder if bundle_id is None else folder / bundle_id

    def _info(self, enterprise: str, bundle_id: str) -> BundleInfo | None:
        path = self._folder(enterprise, bundle_id) / MANIFEST
        try:
            manifest = path.read_bytes()
            stored_at = path.stat().st_mtime
        except FileNotFoundError:
            return None
        if _sha256(manifest) != bundle_id:
            raise BundleDamaged(f"bundle {bundle_id[:12]}: {MANIFEST} does not match its id")
        return BundleInfo(enterprise, bundle_id, stored_at, manifest_files(manifest))

    def bundles(self, enterprise: str) -> list[BundleInfo]:
        """The enterprise's bundles, newest stored first; damaged ones are left out."""
        folder = self._folder(enterprise)
        if not folder.is_dir():
            return []
        found = []
        for entry in folder.iterdir():
            if not _BUNDLE_ID_RE.fullmatch(entry.name):
                continue
            try:
                info = self._info(enterprise, entry.name)
            except BundleDamaged:
                continue
            if info is not None:
                found.append(info)
        return sorted(found, key=lambda info: (-info.stored_at, info.bundle_id))

    def latest(self, enterprise: str) -> LoadedBundle | None:
        """The enterprise's newest stored bundle, checked and parsed, or None."""
        for info in self.bundles(enterprise):
            try:
                return self.load(enterprise, info.bundle_id)
            except BundleDamaged:
                continue
        return None

    def read_file(self, enterprise: str, bundle_id: str, name: str) -> bytes | None:
        """A bundle file's bytes, checked against the manifest; None if there is no such file.

        Raises BundleDamaged if the bytes differ from the manifest's hash.
        """
        if not _BUNDLE_ID_RE.fullmatch(bundle_id) or not _FILE_NAME_RE.fullmatch(name):
            return None
        info = self._info(enterprise, bundle_id)
        if info is None:
            return None
        if name == MANIFEST:
            return (self._folder(enterprise, bundle_id) / MANIFEST).read_bytes()
        if name == SIGNATURE_NAME:
            return self._signature(enterprise, bundle_id)
        expected = info.files.get(name)
        if expected is None:
            return None
        path = self._folder(enterprise, bundle_id) / name
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise BundleDamaged(f"bundle {bundle_id[:12]}: {name} is larger than allowed")
            data = path.read_bytes()
        except FileNotFoundError:
            raise BundleDamaged(f"bundle {bundle_id[:12]}: {name} is missing") from None
        if _sha256(data) != expected:
            raise BundleDamaged(f"bundle {bundle_id[:12]}: {name} does not match its manifest")
        return data

    def _signature(self, enterprise: str, bundle_id: str) -> bytes | None:
        """The bundle's signature file, checked against its manifest; None if unsigned."""
        folder = self._folder(enterprise, bundle_id)
        try:
            if (folder / SIGNATURE_NAME).stat().st_size > MAX_FILE_BYTES:
                raise BundleDamaged(f"bundle {bundle_id[:12]}: {SIGNATURE_NAME} is too large")
            data = (folder / SIGNATURE_NAME).read_bytes()
        except FileNotFoundError:
            return None
        try:
            verify_manifest_signature(data, (folder / MANIFEST).read_bytes())
        except SignatureError as exc:
            raise BundleDamaged(f"bundle {bundle_id[:12]}: {exc.detail}") from None
        return data

    def load(self, enterprise: str, bundle_id: str) -> LoadedBundle | None:
        """A checked bundle with its parsed document, or None if there is no such bundle."""
        if not _BUNDLE_ID_RE.fullmatch(bundle_id):
            return None
        info = self._info(enterprise, bundle_id)
        if info is None:
            return None
        with self._lock:
            document = self._documents.get(bundle_id)
            if document is not None:
                self._documents.move_to_end(bundle_id)
        if document is None:
            data = self.read_file(enterprise, bundle_id, EVIDENCE)
            if data is None:
                raise BundleDamaged(f"bundle {bundle_id[:12]}: {EVIDENCE} is missing")
            try:
                document = EnterpriseEvidence.model_validate_json(data)
            except ValueError as exc:
                raise BundleDamaged(f"bundle {bundle_id[:12]}: {EVIDENCE} is invalid") from exc
            with self._lock:
                self._documents[bundle_id] = document
                while len(self._documents) > _CACHED_DOCUMENTS:
                    self._documents.popitem(last=False)
        if document.enterprise.id != enterprise:
            raise BundleDamaged(f"bundle {bundle_id[:12]} is of another enterprise")
        return LoadedBundle(info, document)

    def store(self, enterprise: str, write: Callable[[Path], None]) -> BundleInfo:
        """Let ``write(folder)`` write a bundle into a fresh folder, then move it into place.

        Returns the stored bundle; BundleDamaged if what was written is not a bundle.
        """
        parent = self._folder(enterprise)
        parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".writing-", dir=parent))
        try:
            write(scratch)
            manifest = (scratch / MANIFEST).read_bytes()
            manifest_files(manifest)
            bundle_id = _sha256(manifest)
            target = self._folder(enterprise, bundle_id)
            try:
                scratch.rename(target)
            except OSError:
                if not (target / MANIFEST).is_file():
                    raise
                # The same evidence was stored before: same bytes, same id. Keep the first,
                # but sign it if it was stored unsigned and this one is signed.
                _adopt_signature(scratch, target)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        info = self._info(enterprise, bundle_id)
        if info is None:
            raise BundleDamaged(f"bundle {bundle_id[:12]} vanished right after it was stored")
        return info

    def prune(self, enterprise: str, keep: int, protected: frozenset[str]) -> list[str]:
        """Delete the enterprise's oldest bundles beyond the newest ``keep``, except those in
        ``protected`` (cited by a decision); return the ids deleted.

        A bundle is renamed out of sight first, so a reader never sees half of one. Damaged
        bundles are left alone for an operator to look at.
        """
        if keep < 1:
            raise ValueError(f"got keep={keep}, expected at least 1 bundle per enterprise")
        removed = []
        for info in self.bundles(enterprise)[keep:]:
            if info.bundle_id in protected:
                continue
            doomed = self._folder(enterprise) / f".deleting-{info.bundle_id}"
            self._folder(enterprise, info.bundle_id).rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            removed.append(info.bundle_id)
        return removed


def _adopt_signature(scratch: Path, target: Path) -> None:
    """Move ``scratch``'s signature into ``target`` when ``target`` has none (one rename: a
    reader sees the bundle unsigned or signed, never half a file)."""
    signature = scratch / SIGNATURE_NAME
    if signature.is_file() and not (target / SIGNATURE_NAME).exists():
        signature.replace(target / SIGNATURE_NAME)
