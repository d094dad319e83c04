"""Reading what the reviewer holds: the bundle folder (as bytes) and their own plan file.

Nothing here judges: the bundle's files are read as bytes, bounded, and the checks
(:mod:`collector.verify.check`) decide what they prove. Only a folder that is not an
enterprise bundle at all (missing, no ``manifest.json``, no ``evidence.json``) or a plan file
that cannot be used raises (exit 2); a readable bundle with broken files gives findings.
"""

from __future__ import annotations

import dataclasses
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from collector.plan import (
    AgentPlan,
    Enterprise,
    LoadedPlan,
    PlanError,
    Platform,
    load_plan,
    stored_plan,
)
from collector.proof import AGENT_KEYS_NAME, DAY_SEALS_NAME, MANIFEST_NAME, SIGNATURE_NAME
from collector.verify.errors import BundleUnreadable, PlanUnreadable

__all__ = [
    "EVIDENCE_NAME",
    "MAX_FILE_BYTES",
    "BundleFiles",
    "TrustRoot",
    "load_bundle",
    "load_trust_root",
    "read_bundle_file",
]

EVIDENCE_NAME: Final = "evidence.json"
#: The most any one bundle file may hold: 10 devices x 400 days of seals is ~6 MB, a PDF
#: report a few MB; a file beyond this is refused rather than read into memory.
MAX_FILE_BYTES: Final = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BundleFiles:
    """An enterprise bundle's files as read: the manifest, the signature, the documents."""

    folder: Path
    manifest: bytes
    #: ``bundle-signature.json``; None when the bundle has none (it is unsigned: a finding).
    signature: bytes | None
    evidence: bytes
    #: ``day-seals.jsonl``, ``agent-keys.json``; None when absent.
    day_seals: bytes | None
    agent_keys: bytes | None


def read_bundle_file(folder: Path, name: str) -> bytes | None:
    """The bytes of ``folder/name`` if it is a regular file; None if there is none.

    Raises BundleUnreadable for something else in its place (a directory, a FIFO) or a read
    error: a bundle file never blocks the verifier nor fills its memory.
    """
    path = folder / name
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BundleUnreadable(str(path), exc.strerror or str(exc)) from None
    if not stat.S_ISREG(status.st_mode):
        raise BundleUnreadable(str(path), "not a regular file")
    if status.st_size > MAX_FILE_BYTES:
        raise BundleUnreadable(str(path), f"{status.st_size:,} bytes, over {MAX_FILE_BYTES:,}")
    try:
        with path.open("rb") as stream:
            return stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BundleUnreadable(str(path), exc.strerror or str(exc)) from None


def load_bundle(folder: Path) -> BundleFiles:
    """Read the enterprise bundle in ``folder``; BundleUnreadable if it is none."""
    if not folder.is_dir():
        raise BundleUnreadable(str(folder), "no such folder: expected an enterprise bundle")
    manifest = read_bundle_file(folder, MANIFEST_NAME)
    if manifest is None:
        raise BundleUnreadable(str(folder), f"no {MANIFEST_NAME}: not an evidence bundle")
    evidence = read_bundle_file(folder, EVIDENCE_NAME)
    if evidence is None:
        raise BundleUnreadable(
            str(folder), f"no {EVIDENCE_NAME}: not an enterprise bundle (a platform's or "
            "province's bundle holds one folder per enterprise: verify each)",
        )  # fmt: skip
    return BundleFiles(
        folder=folder,
        manifest=manifest,
        signature=read_bundle_file(folder, SIGNATURE_NAME),
        evidence=evidence,
        day_seals=read_bundle_file(folder, DAY_SEALS_NAME),
        agent_keys=read_bundle_file(folder, AGENT_KEYS_NAME),
    )


@dataclass(frozen=True, slots=True)
class TrustRoot:
    """The reviewer's plan file: the only keys a seal may verify against."""

    loaded: LoadedPlan

    @property
    def digest(self) -> str:
        """``sha256:<hex>`` of the plan's content (what ``evidence.plan.digest`` must be)."""
        return self.loaded.digest

    def enterprise(self, enterprise_id: str) -> tuple[Platform, Enterprise] | None:
        """The platform and enterprise of ``enterprise_id``; None if the plan has none."""
        for platform in self.loaded.plan.platforms:
            for enterprise in platform.enterprises:
                if enterprise.id == enterprise_id:
                    return platform, enterprise
        return None

    def agent(self, agent_id: str) -> tuple[Enterprise, AgentPlan] | None:
        """The enterprise that lists ``agent_id`` and its entry; None if no enterprise does."""
        for platform in self.loaded.plan.platforms:
            for enterprise in platform.enterprises:
                for agent in enterprise.agents:
                    if agent.id == agent_id:
                        return enterprise, agent
        return None


def load_trust_root(path: Path) -> TrustRoot:
    """Read the reviewer's plan (YAML or .xlsx); PlanUnreadable naming every problem."""
    try:
        loaded = load_plan(path)
    except PlanError as exc:
        raise PlanUnreadable(str(path), "\n".join(str(issue) for issue in exc.issues)) from None
    # The collector judged the plan as its registry gives it back, with an enterprise's targets
    # in key order, and the evidence lists the KPIs in that order. A file may list them in
    # another (oee before defect_rate): recomputed in the file's order, every KPI of such a
    # plan would differ. Same content, so the same digest.
    return TrustRoot(dataclasses.replace(loaded, plan=stored_plan(loaded.plan)))
