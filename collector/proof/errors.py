"""The errors of a bundle's proof files: a manifest path that leaves the bundle, a bad signature.

::

    ProofError
    ├── ManifestPathError     a manifest lists a path outside its bundle (``..``, absolute)
    ├── ProofFileError        a proof file (``day-seals.jsonl``, ``agent-keys.json``,
    │                         ``day-checks.json``) is malformed: file, line, field, what
    └── SignatureError        ``bundle-signature.json`` does not prove the manifest: ``code``
                              says why (``unreadable``, ``wrong_manifest``, ``bad_fingerprint``,
                              ``bad_signature``)

The bundle writer turns them into :class:`collector.bundle.BundleError` at its boundary; the
verifier (collector.verify) reports them as findings.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "ManifestPathError",
    "ProofError",
    "ProofFileError",
    "SignatureError",
    "SignatureProblem",
]


class ProofError(Exception):
    """Base of every error the proof files raise on purpose."""


class ManifestPathError(ProofError):
    """A manifest lists ``relative``, which resolves outside the bundle's folder."""

    def __init__(self, manifest: str, relative: str) -> None:
        self.manifest = manifest
        self.relative = relative
        super().__init__(f"{manifest} lists {relative!r}, outside the bundle")


class ProofFileError(ProofError):
    """A proof file cannot be read: ``file``, ``line`` (1-based, the JSON Lines' line or the
    JSON document's; None for the file as a whole), ``field`` (the JSON path at fault, or None)
    and what was wrong (``detail``). Nothing of the file is returned: a reader refuses it whole.
    """

    def __init__(
        self, file: str, detail: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.detail = detail
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where} {field}: {detail}" if field else f"{where}: {detail}")


#: Why a bundle signature was refused (:class:`SignatureError`).
SignatureProblem = Literal["unreadable", "wrong_manifest", "bad_fingerprint", "bad_signature"]


class SignatureError(ProofError):
    """``bundle-signature.json`` does not prove the manifest beside it; ``code`` says why."""

    def __init__(self, code: SignatureProblem, detail: str) -> None:
        self.code: SignatureProblem = code
        self.detail = detail
        super().__init__(f"bundle-signature.json: {detail}")
