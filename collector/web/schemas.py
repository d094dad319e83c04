"""The API's request and response bodies (pydantic v2): what /openapi.json describes.

Request bodies forbid unknown keys (mass assignment: a client cannot set ``decided_by``,
``platform`` or anything the server decides). Evidence figures are the evidence document's own
models (collector/evidence/document.py), passed through unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from collector.evidence.document import (
    DigitalLevelDoc,
    DocumentDoc,
    FlagDoc,
    IntegrityDoc,
    IntervalDoc,
    PeriodDoc,
    SubsidyDoc,
    TargetDoc,
)
from collector.registry import MAX_COMMENT_CHARS
from collector.registry.decisions import MAX_DOCUMENTS

__all__ = [
    "AgentOut",
    "AttachmentOut",
    "AttemptOut",
    "AuditOut",
    "BundleFileOut",
    "BundleOut",
    "CoverageDayOut",
    "CoverageOut",
    "DecisionIn",
    "DecisionOut",
    "EnterpriseFileOut",
    "EnterpriseOut",
    "EnterpriseSummaryOut",
    "EvidenceOut",
    "EvidenceRunIn",
    "FreeText",
    "KpiOut",
    "KpiPointOut",
    "KpiSeriesOut",
    "MeOut",
    "Page",
    "PlatformOut",
    "PlatformSummaryOut",
    "ProvinceDetailOut",
    "ProvinceOut",
    "QuarantineDetailOut",
    "QuarantineOut",
    "RectificationsOut",
    "RollupEnterpriseOut",
    "RollupOut",
    "UserOut",
    "WithdrawIn",
]

T = TypeVar("T")

EvidenceStatus = Literal["pass", "fail", "insufficient_data"]
# C0 controls but tab and line feed, DEL, C1 controls, and lone surrogates (not storable as
# UTF-8). Format characters (bidi overrides) are allowed: pages show them as ⟨U+202E⟩.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _free_text(text: str) -> str:
    text = text.replace("\r\n", "\n")  # a browser's textarea sends CR LF
    found = _CONTROL.search(text)
    if found is not None:
        raise ValueError(
            f"character {found.start() + 1} is U+{ord(found.group()):04X}, a control "
            "character; free text may hold tabs and line breaks but no other control character"
        )
    return text


#: Free text a person typed (a decision's comment): no control character but tab and newline.
FreeText = Annotated[str, AfterValidator(_free_text)]
BundleId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of manifest.json")]
DocumentId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="A document's SHA-256")]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Page(_Out, Generic[T]):
    """One page of a list: ``items``, how many match in all, and the page's bounds."""

    items: list[T]
    total: int
    limit: int
    offset: int


class MeOut(_Out):
    """The caller: role and scope."""

    user_id: str
    display_name: str
    role: str
    platform: str | None
    province: str | None
    via: Literal["token", "session"]


class ProvinceOut(_Out):
    """A province with loaded plans."""

    code: str
    name: str
    plan_keys: list[str]
    platforms: int
    enterprises: int


class PlatformSummaryOut(_Out):
    """A platform's line: pass counts against the minimum, and the subsidy by review."""

    id: str
    name: str
    plan_key: str
    batch_year: int
    province_code: str
    province_name: str
    sub_industry: str
    sub_industry_name: str
    enterprises: int
    evidence_passed: int
    reviewed_passed: int
    minimum: int
    minimum_met: bool
    subsidy_fen: int
    platform_capped: bool


class ProvinceDetailOut(_Out):
    """A province overview: its platforms, pass counts, subsidy."""

    code: str
    name: str
    plan_keys: list[str]
    platforms: list[PlatformSummaryOut]
    enterprises: int
    reviewed_passed: int
    subsidy_fen: int


class DecisionOut(_Out):
    """A review decision on one bundle."""

    id: int
    platform: str
    enterprise: str
    bundle_id: str
    evidence_status: str
    outcome: Literal["pass", "fail", "rectify"]
    comment: str
    decided_at: dt.datetime
    decided_by: str
    supersedes: int | None
    #: The SHA-256s of the enterprise's documents (一企一档) the reviewer saw, sorted.
    documents: list[str] = Field(default_factory=list)


class EnterpriseSummaryOut(_Out):
    """An enterprise's line on its platform: verdict, flags, coverage, decision in force."""

    id: str
    name: str
    platform: str
    status: EvidenceStatus | None
    bundle_id: str | None
    flags: int
    serious_flags: int
    baseline_coverage: float | None
    reporting_coverage: float | None
    decision: Literal["pass", "fail", "rectify"] | None
    retrofit_cost_fen: int


class PlatformOut(PlatformSummaryOut):
    """A platform and its enterprises."""

    enterprise_list: list[EnterpriseSummaryOut]


class RollupEnterpriseOut(_Out):
    """An enterprise's line in a roll-up: cost, verdict, decision, subsidy by the rules."""

    id: str
    name: str
    cost_fen: int
    evidence_status: EvidenceStatus | None
    decision: Literal["pass", "fail", "rectify"] | None
    passed: bool
    share_fen: int
    subsidy_fen: int
    capped: bool


class RollupOut(_Out):
    """A platform's roll-up by review decisions (what is paid) beside the evidence verdicts."""

    platform: str
    plan_key: str
    basis: Literal["review_decisions"] = "review_decisions"
    enterprises: list[RollupEnterpriseOut]
    evidence_passed: int
    passed_count: int
    minimum: int
    minimum_met: bool
    uncapped_total_fen: int
    total_fen: int
    platform_capped: bool


class AgentOut(_Out):
    """An agent and what the collector knows of it now."""

    agent_id: str
    platform: str
    enterprise: str
    devices: list[str]
    state: Literal["online", "offline", "never_seen", "revoked"]
    revoked_at: dt.datetime | None
    last_seen: dt.datetime | None
    agent_version: str | None
    outbox_depth: int | None
    open_gaps: int
    missing_seqs: int
    last_window_end: dt.datetime | None = None
    #: Device-days ended more than a day ago with windows but no day seal (docs/web.md).
    seals_behind: int = 0


class BundleOut(_Out):
    """A stored evidence bundle: its id, when stored, the verdict it holds."""

    bundle_id: str
    enterprise: str
    stored_at: dt.datetime
    status: EvidenceStatus
    plan_key: str
    plan_version: int
    attempts: int
    flags: int
    files: list[str]


class EnterpriseOut(_Out):
    """An enterprise: plan record, agents and devices, latest evidence, decision in force."""

    id: str
    name: str
    industry: str
    solution: str
    timezone: str
    retrofit_cost_fen: int
    platform: str
    platform_name: str
    province_code: str
    plan_key: str
    plan_version: int
    baseline: PeriodDoc
    go_live: dt.date
    reporting: PeriodDoc
    rectifications: list[dict[str, Any]]
    targets: list[TargetDoc]
    devices: list[str]
    agents: list[AgentOut]
    latest_bundle: BundleOut | None
    decision: DecisionOut | None


class KpiPointOut(_Out):
    """A KPI's value on one local day (None where undefined or not measured)."""

    day: dt.date
    place: Literal["baseline", "between", "reporting", "outside"]
    value: float | None
    coverage: float | None


class KpiSeriesOut(_Out):
    """A KPI's daily series from the daily rollups (ratios of the day's sums)."""

    enterprise: str
    kpi: str
    start: dt.date
    end: dt.date
    points: list[KpiPointOut]


class CoverageDayOut(_Out):
    """How much of a day's scheduled time the agents covered."""

    day: dt.date
    devices: int
    scheduled_s: float
    scheduled_comm_loss_s: float
    coverage: float | None
    imported_share: float | None


class CoverageOut(_Out):
    """Data coverage per local day from the daily rollups."""

    enterprise: str
    start: dt.date
    end: dt.date
    days: list[CoverageDayOut]


class KpiOut(_Out):
    """One KPI's verdict in an attempt: values, change, the deciding interval, target."""

    kpi: str
    status: EvidenceStatus
    reasons: list[str]
    target: TargetDoc
    baseline_value: float | None
    reporting_value: float | None
    change: float | None
    unit: Literal["pp", "%"]
    interval: IntervalDoc | None
    baseline_usable_days: int
    reporting_usable_days: int
    baseline_coverage: float | None
    reporting_coverage: float | None


class AttemptOut(_Out):
    """One review attempt (the original reporting period or a rectification)."""

    number: int
    kind: Literal["original", "rectification"]
    rectification_date: dt.date | None
    reporting: PeriodDoc
    status: EvidenceStatus
    kpis: list[KpiOut]


class EvidenceOut(BundleOut):
    """A bundle's verdicts, flags, integrity and subsidy."""

    attempt_list: list[AttemptOut]
    flag_list: list[FlagDoc]
    integrity: IntegrityDoc
    subsidy: SubsidyDoc
    #: Measured inputs for the digital-level assessment, not the rating (evidence method
    #: §11); None for a bundle made before them.
    digital_level: DigitalLevelDoc | None = None


class BundleFileOut(_Out):
    """A file of a bundle with its SHA-256 from the manifest."""

    name: str
    sha256: str
    media_type: str
    url: str


class EvidenceRunIn(_In):
    """Run the evidence engine for an enterprise now; the seed makes a run repeatable."""

    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None


class DecisionIn(_In):
    """A review decision: on which bundle, what, and why."""

    bundle_id: BundleId
    outcome: Literal["pass", "fail", "rectify"]
    comment: Annotated[FreeText, Field(min_length=1, max_length=MAX_COMMENT_CHARS)]
    #: The documents of the enterprise's file the reviewer saw (their SHA-256s; the page's
    #: form sends every document it shows); each must be in the file.
    documents: Annotated[list[DocumentId], Field(max_length=MAX_DOCUMENTS)] = []


class RectificationsOut(_Out):
    """Rectifications (整改): asked for by reviewers, planned in the plan, attempted in evidence."""

    enterprise: str
    requested: list[DecisionOut]
    planned: list[dict[str, Any]]
    attempts: list[AttemptOut]


class QuarantineOut(_Out):
    """A quarantined message, without its bytes."""

    # The API's body beside the registry's QuarantineEntry: the OpenAPI schema changes only
    # here, never with the registry's row.
    # pylint: disable=duplicate-code
    id: int
    received_at: dt.datetime
    topic: str
    reason: str
    detail: str
    agent_id: str | None
    raw_length: int
    raw_sha256: str


class QuarantineDetailOut(QuarantineOut):
    """A quarantined message with the bytes kept (base64, and as text when UTF-8)."""

    raw_base64: str
    raw_utf8: str | None
    truncated: bool


class AuditOut(_Out):
    """One audit entry: when, who, what, on what, with its details."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]


class UserOut(_Out):
    """A user without secrets."""

    user_id: str
    display_name: str
    role: str
    platform: str | None
    province: str | None
    created_at: dt.datetime
    created_by: str
    disabled_at: dt.datetime | None


class AttachmentOut(DocumentDoc):
    """One document of an enterprise's file (一企一档), without its bytes: the fields its
    bundle's manifest lists it with."""

    #: False when the same bytes were already in the file: nothing was stored.
    created: bool = True
    #: Set once withdrawn: the document stays listed and downloadable but no longer counts.
    withdrawn_at: dt.datetime | None = None
    withdrawn_by: str | None = None
    withdraw_reason: str | None = None


class WithdrawIn(_In):
    """Why a document is withdrawn from an enterprise's file."""

    reason: Annotated[FreeText, Field(min_length=1, max_length=1000)]


class EnterpriseFileOut(_Out):
    """An enterprise's documents, and the invoiced total beside the plan's retrofit cost."""

    enterprise: str
    documents: list[AttachmentOut]
    #: The sum of the invoices' amounts, in fen; null without an invoice.
    invoiced_fen: int | None
    plan_cost_fen: int
    #: The cost the subsidy is computed on: the lower of the two (the plan's without invoices).
    subsidy_cost_fen: int
    #: Whether the invoiced total differs from the plan's retrofit cost.
    costs_differ: bool


# --- Day seals (#17): the registry's checks of daily rows against the agents' day seals -----

__all__ += ["DayCheckOut", "DaySealCountsOut", "DaySealDifferenceOut"]


class DaySealDifferenceOut(_Out):
    """One figure where the stored daily row and its day seal disagree."""

    #: The figure: a base quantity (``energy_kwh``), ``windows``, ``merkle_root``, ``seq_first``...
    field: str
    #: What the collector holds (JSON scalar; times as wire timestamps; null: nothing stored).
    stored: Any
    #: What the agent signed.
    sealed: Any


class DayCheckOut(_Out):
    """The outcome of one ``kpi_daily`` row (agent, device, provenance, local day) checked
    against the latest day seal of that day."""

    platform: str
    enterprise: str
    agent: str
    device: str
    provenance: str
    day: dt.date
    outcome: Literal["sealed_equal", "sealed_different", "unsealed"]
    #: SHA-256 of the seal checked against (its published bytes); null when unsealed.
    seal_sha256: str | None
    differences: list[DaySealDifferenceOut]
    #: True when the windows' Merkle root was rebuilt (the ingest's check after a rollup
    #: refresh), False when only the sums were compared (an evidence run's check).
    root_checked: bool
    checked_at: dt.datetime
    checked_by: Literal["refresh", "evidence"]
    #: Unsealed and its local day ended more than a day ago.
    overdue: bool


class DaySealCountsOut(_Out):
    """Rows by outcome over one period of the plan (both ends included)."""

    period: Literal["baseline", "between", "reporting"]
    start: dt.date
    end: dt.date
    equal: int
    different: int
    unsealed_overdue: int
    unsealed_recent: int
