"""The evidence recomputed from the sealed rows and the reviewer's plan, compared with the bundle's.

Inputs (D8, docs/verify.md): the plan (the reviewer's file), the sealed rows (each latest seal
part in the evidence's span, :func:`collector.verify.compare.sealed_row`, each row's seal
check ``sealed_equal``: re-derived, never read from the bundle), the seed and the
software versions the document records, and what only the collector saw, taken from the
document itself and said so: the agents' registry entries, seq gaps (with each agent's highest
seq, read from the ``seq_gap`` flags), quarantine counts and the enterprise's file. The engine
is :func:`collector.evidence.enterprise_evidence`, as the collector ran it.

Same versions of Python, numpy, scipy and statsmodels: the recomputed document must be byte
for byte ``evidence.json``. Other versions (a reviewer's laptop): every number within a
relative 1e-9, every code, verdict, date and fen amount exact; both versions are printed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from pydantic import BaseModel

from collector.evidence import EnterpriseInputs, current_software, enterprise_evidence
from collector.evidence.document import (
    EnterpriseEvidence,
    SoftwareDoc,
    canonical_json,
)
from collector.plan import Enterprise, Plan, Platform
from collector.verify.compare import SealedPart, sealed_row
from collector.verify.findings import Finding, Report

__all__ = [
    "MAX_FIGURE_FINDINGS",
    "RELATIVE_TOLERANCE",
    "compare_documents",
    "recompute",
    "same_versions",
]

#: How far a number may move on other library versions (D8): far below any printed digit.
RELATIVE_TOLERANCE: Final = 1e-9
#: Figure differences listed one by one; the rest are counted in one more finding.
MAX_FIGURE_FINDINGS: Final = 30
#: A closed gap's time is not in the document, only that it closed; the engine reads no more.
_CLOSED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Agent:
    agent_id: str
    public_key: str
    devices: tuple[str, ...]
    revoked: bool


@dataclass(frozen=True, slots=True)
class _Gap:
    agent_id: str
    first_seq: int
    last_seq: int
    closed_at: datetime | None

    @property
    def missing(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass(frozen=True, slots=True)
class _SealCheck:
    """A sealed row's outcome as the verifier re-derives it: equal (the rows it recomputes
    from are the seals' own figures); ``collector.evidence.inputs.SealCheckRecord``."""

    agent_id: str
    device: str
    provenance: str
    day: date
    outcome: str
    seal_sha256: str
    seal_version: int
    differences: tuple[()] = ()


def _seal_checks(
    document: EnterpriseEvidence, sealed: Sequence[SealedPart]
) -> tuple[_SealCheck, ...] | None:
    # A document made without the seal check (no ``seals``) is recomputed without it too.
    if document.seals is None:
        return None
    return tuple(
        _SealCheck(s.agent, s.device, s.part.provenance, s.day, "sealed_equal", s.seal_sha256,
                   s.version)
        for s in sealed
    )  # fmt: skip


def _highest_seqs(document: EnterpriseEvidence) -> dict[str, int]:
    highest: dict[str, int] = {}
    for flag in document.flags:
        agent, seq = flag.figures.get("agent"), flag.figures.get("highest_seq")
        if flag.check == "seq_gap" and isinstance(agent, str) and isinstance(seq, int):
            highest[agent] = seq
    return highest


def _inputs(
    plan: Plan, platform: Platform, enterprise: Enterprise, document: EnterpriseEvidence,
    sealed: Sequence[SealedPart],
) -> EnterpriseInputs:  # fmt: skip
    return EnterpriseInputs(
        plan=plan,
        plan_ref=document.plan,
        platform=platform,
        enterprise=enterprise,
        rows=tuple(sealed_row(part) for part in sealed),
        seal_checks=_seal_checks(document, sealed),
        agents=tuple(
            _Agent(a.id, a.public_key, tuple(a.devices), a.revoked) for a in document.agents
        ),
        seq_gaps=tuple(
            _Gap(g.agent, g.first_seq, g.last_seq, _CLOSED if g.closed else None)
            for g in document.integrity.seq_gaps
        ),
        highest_seqs=_highest_seqs(document),
        quarantined=document.integrity.quarantined,
        documents=tuple(document.documents),
    )


def _label(item: Any, index: int) -> str:
    kpi = item.get("kpi") if isinstance(item, dict) else None
    if isinstance(kpi, str):
        return kpi
    return str(index)


def _walk(path: str, ours: Any, theirs: Any, loose: bool) -> Iterator[tuple[str, Any, Any]]:
    """(path, bundle value, recomputed value) for each place the two trees differ."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(set(ours) | set(theirs)):
            yield from _walk(f"{path}.{key}" if path else key, ours.get(key), theirs.get(key),
                             loose)  # fmt: skip
    elif isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            yield f"{path} (items)", len(theirs), len(ours)
            return
        for index, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
            yield from _walk(f"{path}[{_label(other, index)}]", mine, other, loose)
    elif not _same(ours, theirs, loose):
        yield path, theirs, ours


def _same(ours: Any, theirs: Any, loose: bool) -> bool:
    numbers = (int, float)
    if (
        loose
        and isinstance(ours, numbers) and isinstance(theirs, numbers)
        and not isinstance(ours, bool) and not isinstance(theirs, bool)
        and (isinstance(ours, float) or isinstance(theirs, float))
    ):  # fmt: skip
        return math.isclose(ours, theirs, rel_tol=RELATIVE_TOLERANCE, abs_tol=0.0)
    return bool(type(ours) is type(theirs) and ours == theirs)


def same_versions(recorded: SoftwareDoc) -> bool:
    """Whether this interpreter has the Python, numpy, scipy and statsmodels versions a
    document records (then its recomputation must be byte-equal)."""
    here = current_software()
    return (here.python, here.numpy, here.scipy, here.statsmodels) == (
        recorded.python, recorded.numpy, recorded.scipy, recorded.statsmodels
    )  # fmt: skip


def _versions_note(recorded: SoftwareDoc, exact: bool) -> str:
    here = current_software()
    return (
        f"recomputed with Python {here.python}, numpy {here.numpy}, scipy {here.scipy}, "
        f"statsmodels {here.statsmodels}; the document was made with Python "
        f"{recorded.python}, numpy {recorded.numpy}, scipy {recorded.scipy}, statsmodels "
        f"{recorded.statsmodels} (retrofit-verify {recorded.retrofit_verify}): "
        + ("byte-equal required" if exact else f"numbers within rel {RELATIVE_TOLERANCE:g}")
    )


def compare_documents(
    name: str,
    owner: str,
    document: BaseModel,
    recorded: SoftwareDoc,
    theirs: bytes,
    report: Report,
) -> None:
    """``document`` (recomputed) against ``theirs`` (the bundle's file ``name``): byte-equal with
    the same library versions, numbers within :data:`RELATIVE_TOLERANCE` with others; each
    figure that differs is a ``figure_differs`` finding naming its path and both values."""
    exact = same_versions(recorded)
    report.notes.append(_versions_note(recorded, exact))
    mine = canonical_json(document)
    if mine == theirs:
        return
    differences = list(_walk("", json.loads(mine), json.loads(theirs), not exact))
    if not differences and exact:
        differences = [("(bytes)", "not canonical JSON", "canonical JSON of the same values")]
    for path, found, recomputed in differences[:MAX_FIGURE_FINDINGS]:
        report.add(_figure(name, owner, path, found, recomputed))
    if len(differences) > MAX_FIGURE_FINDINGS:
        report.add(Finding(
            code="figure_differs", enterprise=owner, field="(more)",
            detail=f"and {len(differences) - MAX_FIGURE_FINDINGS} more figures differ",
        ))  # fmt: skip


def recompute(
    plan: Plan,
    platform: Platform,
    enterprise: Enterprise,
    document: EnterpriseEvidence,
    evidence_bytes: bytes,
    sealed: Sequence[SealedPart],
    report: Report,
) -> None:
    """Recompute the document from the ``sealed`` parts (their figures as rows, each row's
    seal check equal) and compare it with ``evidence_bytes`` (:func:`compare_documents`)."""
    ours = enterprise_evidence(
        _inputs(plan, platform, enterprise, document, sealed),
        software=document.software,
        seed=document.method.seed,
    )
    compare_documents(
        "evidence.json", enterprise.id, ours, document.software, evidence_bytes, report
    )


def _figure(name: str, owner: str, path: str, theirs: Any, recomputed: Any) -> Finding:
    return Finding(
        code="figure_differs", enterprise=owner, field=path, bundle_value=theirs,
        expected_value=recomputed, bundle_label=name, expected_label="recomputed",
    )  # fmt: skip
