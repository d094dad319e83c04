"""The evidence document: what a bundle's JSON holds, as pydantic models (format version 1).

This module is the contract between the evidence engine (which fills it from daily sums, the
plan and the registry), the bundle renderers (HTML and PDF, zh-CN and en, read only this), the
web app and the demo. A reviewer recomputes every figure from the JSON alone
(docs/evidence-method.md §9), so the document carries its inputs: the device-day sums, the
plan's periods and targets, the method's constants and the seed.

Rules every producer keeps:

- **Byte-identical for the same data.** No clock time, host name, path or run id inside; only
  the data's own dates and the registry's content. :func:`canonical_json` is the one encoder:
  sorted keys, UTF-8 (Chinese as is), no NaN or infinity (undefined is ``null``), a newline at
  the end.
- **Codes, not sentences.** Statuses, reasons and flag checks are codes; the renderers translate
  them (both languages from one catalogue). A flag's ``figures`` hold the numbers its sentence
  quotes.
- **Units in names**, as everywhere: ``_s``, ``_kwh``, ``_fen``, ``_pct``; shares are 0..1.
- Money is integer fen. Dates are ISO local dates of the enterprise's zone.

Compatible additions (a new optional field, a new flag code) keep ``format``; anything else
bumps it.

Why one module of ~780 lines: it is the bundle's format, version 1, as one contract. A
reviewer of the format (docs/evidence-bundle.md mirrors it) reads it top to bottom, and a
change to it is a format change that must be seen whole.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from collector.proof.manifest import ManifestDocument

__all__ = [
    "ENTERPRISE_FORMAT",
    "PLATFORM_FORMAT",
    "PROVINCE_FORMAT",
    "AgentDoc",
    "AttemptDoc",
    "BaselineCheckDoc",
    "ChangeDoc",
    "DailyPointDoc",
    "DeviceDayDoc",
    "DeviceValueDoc",
    "DigitalDeviceDoc",
    "DigitalLevelDoc",
    "DigitalScenario",
    "DigitalScenarioDoc",
    "DocumentDoc",
    "EffectiveDaysDoc",
    "EnergyDoc",
    "EnergyModelDoc",
    "EnergyPointDoc",
    "EnterpriseDoc",
    "EnterpriseEvidence",
    "EnterpriseSummaryDoc",
    "FlagDoc",
    "IntegrityDoc",
    "IntervalDoc",
    "KpiDoc",
    "MethodDoc",
    "MonthlyQualityDoc",
    "NetworkedStatus",
    "PeriodDoc",
    "PeriodQualityDoc",
    "PlanRefDoc",
    "PlatformDoc",
    "PlatformRollup",
    "PlatformSummaryDoc",
    "ProvinceDoc",
    "ProvinceSummary",
    "SealDifferenceDoc",
    "SealOutcome",
    "SealedDayDoc",
    "SealsDoc",
    "SeqGapDoc",
    "SoftwareDoc",
    "SubIndustryDoc",
    "SubsidyDoc",
    "SufficiencyDoc",
    "TargetDoc",
    "canonical_json",
]

ENTERPRISE_FORMAT: Final = "retrofit-verify.evidence.enterprise/1"
PLATFORM_FORMAT: Final = "retrofit-verify.evidence.platform/1"
PROVINCE_FORMAT: Final = "retrofit-verify.evidence.province/1"

Status = Literal["pass", "fail", "insufficient_data"]
Severity = Literal["info", "warning", "serious"]
PeriodRole = Literal["baseline", "reporting"]
#: Where a day lies against an attempt's periods: ``between`` is after the baseline and before
#: the reporting period (the retrofit itself), ``outside`` before the baseline or after the end.
DayPlace = Literal["baseline", "between", "reporting", "outside"]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PeriodDoc(_Doc):
    """Whole local days, both included."""

    start: dt.date
    end: dt.date


class IntervalDoc(_Doc):
    """A two-sided interval in the change's unit."""

    low: float
    high: float


class SoftwareDoc(_Doc):
    """Versions that decide the figures: same data + same versions + same seed = same figures."""

    retrofit_verify: str
    python: str
    numpy: str
    scipy: str
    statsmodels: str


class MethodDoc(_Doc):
    """The method's constants as applied (docs/evidence-method.md)."""

    document: str = "docs/evidence-method.md"
    seed: int
    replicates: int
    confidence: float
    power: float
    mde_factor: float
    min_coverage: float
    max_reporting_imported_share: float
    min_data_days: dict[str, int]
    g14_max_cv_rmse_pct: float
    g14_max_abs_nmbe_pct: float
    g14_max_fsu_68: float
    # The energy baseline's checks and the savings interval's degrees of freedom (method §4): a
    # compatible addition, None in documents made before them.
    min_effective_baseline_days: float | None = None
    max_outside_range_share: float | None = None
    min_baseline_days_per_type: int | None = None
    #: The t degrees of freedom of the G14 savings interval: "n - p" (Annex B, eemeter).
    g14_savings_dof: str | None = None
    #: Share of a device-day's planned time a state code must measure before the day counts
    #: for unplanned downtime (method §1): a compatible addition, None in older documents.
    min_state_code_share: float | None = None


class PlanRefDoc(_Doc):
    """Which version of which plan the evidence judged against (registry ``plan_versions``)."""

    key: str
    version: int
    digest: str


class ProvinceDoc(_Doc):
    code: str
    name: str


class SubIndustryDoc(_Doc):
    id: str
    name: str
    category: str


class PlatformDoc(_Doc):
    id: str
    name: str
    sub_industry: SubIndustryDoc


class TargetDoc(_Doc):
    """A plan target (绩效目标): direction, size in ``unit``, whether it decides the verdict.

    Energy per unit also carries its measurement boundary (method §1): ``devices`` (IPMVP
    option B, each device's own meter and counters) or ``facility`` (option C, the energy of
    ``meters`` against every counting device); ``boundary`` is None for every other KPI. Its
    ``drivers`` are what the plan has the baseline model adjust for (method §4:
    ``good_count``, and ``planned_h`` when chosen); empty for every other KPI and in documents
    made before the key.
    """

    kpi: str
    direction: Literal["increase", "decrease"]
    size: float
    unit: Literal["pp", "%"]
    required: bool
    boundary: Literal["devices", "facility"] | None = None
    meters: list[str] = Field(default_factory=list)
    drivers: list[str] = Field(default_factory=list)


class EnterpriseDoc(_Doc):
    """The plan's record of the enterprise."""

    id: str
    name: str
    industry: str
    solution: str
    timezone: str
    retrofit_cost_fen: int
    baseline: PeriodDoc
    go_live: dt.date
    reporting: PeriodDoc
    targets: list[TargetDoc]


class AgentDoc(_Doc):
    """A registered agent of the enterprise (registry), and whether its key is revoked."""

    id: str
    public_key: str
    devices: list[str]
    revoked: bool


class DeviceDayDoc(_Doc):
    """One device's (and provenance's) day of sums: the inputs of every figure.

    The fields of :class:`collector.store.DailyRow` (docs/storage.md, ``kpi_daily``), with
    ``None`` where the device did not measure a quantity that day.
    """

    # The published schema's copy of DailyRow's fields, typed one by one for pydantic and mypy;
    # tests/contract/test_quantities.py holds both to contract.quantities.
    # pylint: disable=duplicate-code
    agent: str
    device: str
    provenance: Literal["measured", "imported"]
    day: dt.date
    windows: int
    partial_windows: int
    config_digests: int
    scheduled_s: float
    planned_s: float
    run_s: float | None
    idle_s: float | None
    down_s: float | None
    off_s: float | None
    planned_stop_s: float | None
    total_count: int | None
    good_count: int | None
    reject_count: int | None
    energy_kwh: float | None
    #: Added in format 1 (compatible): None in documents and rollups from before it.
    ideal_good_s: float | None = None
    unobserved_count: int | None = None
    #: Run time the polls may have missed (the bound of count_faster_than_ideal); None in
    #: documents from before it and on days whose windows do not carry it.
    unsampled_run_s: float | None = None
    #: The part of planned_s whose state was inferred (power, run signal, counter activity);
    #: None in documents from before it and on days whose windows do not carry it (none was).
    inferred_planned_s: float | None = None
    ideal_count_s: float | None
    duration_s: float
    comm_loss_s: float
    scheduled_comm_loss_s: float
    samples: int | None
    missed_polls: int | None
    bad_values: int | None
    counter_resets: int | None
    meter_resets: int | None
    clock_jumps: int | None
    ideal_cycle_s_min: float | None
    ideal_cycle_s_max: float | None
    first_start: dt.datetime
    last_end: dt.datetime
    #: The agent configuration digest of the day's first and last window (``sha256:<hex>``);
    #: None in rollups written before the store kept them. Added in format 1 (compatible).
    config_digest_first: str | None = None
    config_digest_last: str | None = None


class SufficiencyDoc(_Doc):
    """Whether one period holds enough evidence for one KPI (method §2)."""

    # The published schema beside the engine's result it shows (sufficiency.Sufficiency):
    # sections.py maps one onto the other field by field, so neither changes the other unseen.
    # pylint: disable=duplicate-code
    role: PeriodRole
    period: PeriodDoc
    calendar_days: int
    scheduled_days: int
    usable_days: int
    min_days: int
    coverage: float | None
    imported_share: float | None
    comm_loss_share: float | None
    reasons: list[str]
    #: The period's sums of the KPI's inputs over its usable days, and the value they give.
    sums: dict[str, float]
    value: float | None


class EffectiveDaysDoc(_Doc):
    """One period's effective-days variance (method §3, small-sample correction): the
    delete-one-day jackknife variance of its value, the bias-corrected lag-1 autocorrelation
    ``rho`` (0 … 0.99), ``variance`` = jackknife × (1 + ρ)/(1 − ρ), ``n_effective`` days."""

    role: PeriodRole
    n: int
    jackknife_variance: float
    rho: float
    variance: float
    n_effective: float


class ChangeDoc(_Doc):
    """The change between periods with its three intervals and the MDE (method §3).

    The effective-days fields (``effective``, ``effective_se``, ``effective_days``,
    ``effective_dof``, ``mde_factor``) are a compatible addition: None in documents made
    before them. ``effective_dof`` is None also when it is unbounded (both variances 0).
    """

    unit: Literal["pp", "%"]
    baseline_value: float
    reporting_value: float
    change: float
    confidence: float
    bootstrap: IntervalDoc
    bootstrap_se: float
    block_lengths: tuple[int, int]
    replicates: int
    seed: int
    undefined_replicates: int
    hac_change: float
    hac: IntervalDoc
    hac_se: float
    hac_maxlags: int
    mde: float
    power: float
    effective: IntervalDoc | None = None
    effective_se: float | None = None
    effective_days: list[EffectiveDaysDoc] | None = None
    effective_dof: float | None = None
    #: (t_0.975 + t_0.80) on ``effective_dof``: mde = mde_factor × the largest of the three SEs.
    mde_factor: float | None = None


class EnergyModelDoc(_Doc):
    """The production-adjusted baseline model and its ASHRAE G14 statistics (method §4)."""

    # The published schema beside the engine's result it shows (energy.EnergyModel):
    # sections.py maps one onto the other field by field, so neither changes the other unseen.
    # pylint: disable=duplicate-code
    drivers: list[str]
    coefficients: list[float]
    n: int
    p: int
    mean_kwh: float
    r_squared: float
    cv_rmse_pct: float
    nmbe_pct: float
    rho: float
    n_effective: float
    output_range: tuple[float, float]
    meets_g14: bool
    failures: list[str]
    #: With the planned-hours driver: the baseline days' lowest and highest planned hours.
    hours_range: tuple[float, float] | None = None


class EnergyPointDoc(_Doc):
    """One usable day of the energy model: its drivers, measured energy and the model's value."""

    day: dt.date
    role: PeriodRole
    good_count: float
    planned_h: float
    energy_kwh: float
    model_kwh: float


class BaselineCheckDoc(_Doc):
    """Whether the energy baseline can judge the reporting period (method §4, baseline_check).

    ``outside_days`` of ``reporting_days`` have a driver outside the model's ``output_range``
    (or ``hours_range``); day-type counts are usable days per ``weekday``/``saturday``/``sunday``.
    """

    n_effective: float
    min_effective_days: float
    reporting_days: int
    outside_days: int
    outside_share: float
    max_outside_share: float
    baseline_day_types: dict[str, int]
    reporting_day_types: dict[str, int]
    missing_day_types: list[str]
    reasons: list[str]


class EnergyDoc(_Doc):
    """Avoided energy against the adjusted baseline (method §4)."""

    # The published schema beside the engine's result it shows (energy.EnergySavings):
    # sections.py maps one onto the other field by field, so neither changes the other unseen.
    # pylint: disable=duplicate-code
    model: EnergyModelDoc
    reporting_days: int
    actual_kwh: float
    adjusted_baseline_kwh: float
    avoided_kwh: float
    savings_pct: float
    se_pct: float
    half_width_68_pct: float
    half_width_95_pct: float
    fsu_68: float | None
    g14_uncertainty_ok: bool
    extrapolated_days: int
    points: list[EnergyPointDoc]
    #: With the planned-hours driver: reporting days whose planned hours lie outside
    #: ``model.hours_range`` (None without it, and in documents made before it).
    extrapolated_hours_days: int | None = None
    #: The t degrees of freedom of the savings interval (n − p; None in older documents).
    dof: float | None = None
    #: The baseline's checks against the reporting period (None in older documents).
    baseline_check: BaselineCheckDoc | None = None


class DailyPointDoc(_Doc):
    """A KPI's value on one enterprise-day (for the before/after chart)."""

    day: dt.date
    place: DayPlace
    value: float | None
    coverage: float | None
    usable: bool


class DeviceValueDoc(_Doc):
    """A KPI per device and period (shown beside the enterprise value; it does not decide).

    Energy per unit on the ``facility`` boundary (method §1) has no value per device (no
    device measures its own energy and output there): the values are None and the device's
    part of the enterprise's sums is given instead, over the same usable days, for a listed
    meter its energy, for a counting device its good output. They add up to the period's
    ``sums``. These four fields are a compatible addition: None elsewhere and in documents
    made before them.

    A device whose every day in a period was left out of the KPI (unplanned downtime of a
    machine whose state was inferred, method §1) is listed with no value and the reason codes
    in ``baseline_reasons`` / ``reporting_reasons`` (``downtime_not_measured``), so the
    reviewer sees it was not measured rather than missing it; empty for a device with a
    value, and in documents made before them (a compatible addition).
    """

    device: str
    baseline_value: float | None
    reporting_value: float | None
    baseline_energy_kwh: float | None = None
    reporting_energy_kwh: float | None = None
    baseline_good_count: float | None = None
    reporting_good_count: float | None = None
    baseline_reasons: list[str] = Field(default_factory=list)
    reporting_reasons: list[str] = Field(default_factory=list)


class KpiDoc(_Doc):
    """One KPI of one attempt: target, sufficiency, change, verdict and its reasons."""

    kpi: str
    target: TargetDoc
    status: Status
    reasons: list[str]
    baseline: SufficiencyDoc
    reporting: SufficiencyDoc
    change: ChangeDoc | None
    energy: EnergyDoc | None
    #: The interval that decided (method §5), in the target's unit; None without a verdict.
    interval: IntervalDoc | None
    needed_for_80pct_pass: float | None
    daily: list[DailyPointDoc]
    devices: list[DeviceValueDoc]


class AttemptDoc(_Doc):
    """One review attempt: the original reporting period (1) or a rectification (整改, 2, ...)."""

    number: int = Field(ge=1)
    kind: Literal["original", "rectification"]
    rectification_date: dt.date | None
    reporting: PeriodDoc
    status: Status
    kpis: list[KpiDoc]


class FlagDoc(_Doc):
    """A plausibility or anti-fraud finding for the reviewer (method §6).

    Flags never change a verdict. ``check`` is the check's code, ``figures`` the numbers its
    sentence quotes (both languages), ``days`` and ``device`` where it was seen.
    """

    check: str
    severity: Severity
    device: str | None
    days: list[dt.date]
    figures: dict[str, float | int | str | None]


class SeqGapDoc(_Doc):
    """Sequence numbers the collector never received from an agent (registry ``seq_gaps``)."""

    agent: str
    first_seq: int
    last_seq: int
    closed: bool


class IntegrityDoc(_Doc):
    """What the collector saw of the enterprise's agents: seq gaps and quarantined messages."""

    seq_gaps: list[SeqGapDoc]
    #: agent id → quarantine reason code → messages.
    quarantined: dict[str, dict[str, int]]


#: A daily row's check against its day seal (docs/evidence-bundle.md, "The proof files").
SealOutcome = Literal["sealed_equal", "sealed_different", "unsealed"]


class SealDifferenceDoc(_Doc):
    """One figure where the stored row and its seal disagree, with both values: a number,
    text (a wire timestamp, a digest), a list of names (``overflowed``) or null."""

    field: str
    stored: float | int | str | list[str] | None
    sealed: float | int | str | list[str] | None


class SealedDayDoc(_Doc):
    """One device-day row (agent, device, provenance, local day) against its day's latest
    seal: the outcome, the seal (SHA-256 of its bytes in ``day-seals.jsonl``, version; null
    when unsealed) and, when different, each figure with both values."""

    agent: str
    device: str
    provenance: str
    day: dt.date
    outcome: SealOutcome
    seal_sha256: str | None
    version: int | None
    differences: list[SealDifferenceDoc]


class SealsDoc(_Doc):
    """The day seals behind the device days (issue 17): counts by outcome and every row.

    ``sealed_equal`` rows carry the sealed figures in ``device_days`` (bit for bit);
    ``sealed_different`` and ``unsealed`` rows the stored ones. Also listed: a sealed part
    with no stored row (``sealed_different``, ``windows`` stored 0). No row is dropped.
    """

    sealed_equal: int = Field(ge=0)
    sealed_different: int = Field(ge=0)
    unsealed: int = Field(ge=0)
    device_days: list[SealedDayDoc]


class SubsidyDoc(_Doc):
    """The enterprise's subsidy under the rules (method §7), integer fen.

    ``cost_fen`` is what the share is computed on: the lower of ``plan_cost_fen`` and
    ``invoiced_fen`` (the plan's cost while no invoice is filed), so a verifier recomputes
    ``share_fen`` and ``subsidy_fen`` from these fields alone. Documents written before the
    invoices were compared have neither field: their ``cost_fen`` is the plan's.
    """

    passed: bool
    cost_fen: int
    share_fen: int
    subsidy_fen: int
    capped: bool
    #: The plan's retrofit cost.
    plan_cost_fen: int | None = None
    #: The invoiced total: the sum of the invoices' amounts in the enterprise's file (the
    #: ``documents`` of the evidence); None while it holds no invoice.
    invoiced_fen: int | None = None
    #: Whether the invoiced total differs from the plan's cost (reviewers look at why).
    costs_differ: bool = False


class DocumentDoc(ManifestDocument):
    """A document of the enterprise's file (一企一档) when the evidence was computed: the
    fields the enterprise bundle's manifest lists it with (:mod:`collector.proof.manifest`)."""


# --- Measured inputs for the digital-level assessment (工信厅企业〔2024〕56号; method §11) ---
# What the fleet measures of a few of the assessment's items, with their sources: inputs for
# the on-site assessor, never the rating itself. A compatible addition to format 1.

#: The assessment's data-collection scenarios (数据自动采集 by business area): 设备管理,
#: 能耗管理, 生产管控.
DigitalScenario = Literal["equipment_management", "energy_management", "production_control"]
#: 生产设备联网率's status: ``measured`` (a rate), ``no_total`` (the plan gives no count of
#: production equipment: no rate, never 100 %), ``exceeds_total`` (more production equipment
#: reports than the plan counts: the count is wrong, no rate).
NetworkedStatus = Literal["measured", "no_total", "exceeds_total"]


class DigitalDeviceDoc(_Doc):
    """One device of the enterprise over the measured period (method §11).

    ``production`` is True for production equipment (it reported machine state or part
    counts), False for metering equipment (energy only, or a main meter the plan lists), None
    when it reported nothing measured in the period (unknown). ``measured_days`` counts the
    days with at least one measured (not imported) window.
    """

    device: str
    production: bool | None
    measured_days: int
    first_day: dt.date | None
    last_day: dt.date | None
    scenarios: list[DigitalScenario]


class DigitalScenarioDoc(_Doc):
    """One 数据自动采集 scenario: the quantities that show it, the devices that measured them."""

    scenario: DigitalScenario
    quantities: list[str]
    covered: bool
    devices: list[str]


class MonthlyQualityDoc(_Doc):
    """One calendar month's product pass rate: Σgood / Σtotal over its usable days."""

    month: str
    days: int
    good_count: float
    total_count: float
    rate: float


class PeriodQualityDoc(_Doc):
    """月均产品合格率 over one period: the mean of its months' rates (each a ratio of sums),
    beside the pooled rate of the whole period (the quality KPI's value)."""

    role: PeriodRole
    period: PeriodDoc
    months: list[MonthlyQualityDoc]
    monthly_mean: float | None
    pooled: float | None


class DigitalLevelDoc(_Doc):
    """Measured inputs for the SME digital-level assessment, over the last attempt's
    reporting period (``period``): 生产设备联网率, 数据自动采集 by scenario, 月均产品合格率."""

    period: PeriodDoc
    #: The plan's count of the enterprise's production equipment (the rate's denominator).
    production_equipment_total: int | None
    #: Production equipment with measured data in ``period`` (the rate's numerator).
    networked_devices: list[str]
    networked_status: NetworkedStatus
    #: networked / total, 0..1; None unless ``networked_status`` is ``measured``.
    networked_share: float | None
    devices: list[DigitalDeviceDoc]
    scenarios: list[DigitalScenarioDoc]
    quality: list[PeriodQualityDoc]


class EnterpriseEvidence(_Doc):
    """One enterprise's evidence: the bundle's ``evidence.json``."""

    format: Literal["retrofit-verify.evidence.enterprise/1"] = ENTERPRISE_FORMAT
    software: SoftwareDoc
    method: MethodDoc
    plan: PlanRefDoc
    province: ProvinceDoc
    batch_year: int
    platform: PlatformDoc
    enterprise: EnterpriseDoc
    agents: list[AgentDoc]
    #: Attempts in order; the last one's status is the enterprise's.
    attempts: list[AttemptDoc]
    status: Status
    flags: list[FlagDoc]
    integrity: IntegrityDoc
    subsidy: SubsidyDoc
    device_days: list[DeviceDayDoc]
    #: Measured inputs for the digital-level assessment (method §11); None in documents made
    #: before them.
    digital_level: DigitalLevelDoc | None = None
    #: The enterprise's file (一企一档) at the time: contract, invoices (whose amounts make the
    #: subsidy's ``invoiced_fen``), payment proofs, summary report; oldest first.
    documents: list[DocumentDoc] = Field(default_factory=list)
    #: Each device-day against its day seal; None (and no key in the JSON) when the evidence
    #: was computed without the seal check (documents made before it, or from plain values).
    seals: SealsDoc | None = None

    @model_serializer(mode="wrap")
    def _without_absent_seals(self, handler: SerializerFunctionWrapHandler) -> Any:
        # No ``seals`` key when there is no check: documents computed without one keep the
        # bytes they had before seals existed.
        tree = handler(self)
        if isinstance(tree, dict) and tree.get("seals", 0) is None:
            tree.pop("seals")
        return tree


class EnterpriseSummaryDoc(_Doc):
    """One enterprise's line in a platform roll-up."""

    id: str
    name: str
    status: Status
    attempts: int
    flags: int
    serious_flags: int
    #: SHA-256 of the enterprise's ``evidence.json`` the line was taken from.
    evidence_sha256: str
    subsidy: SubsidyDoc


class PlatformRollup(_Doc):
    """A platform's roll-up: passed enterprises, the minimum of 10, the subsidy (method §7)."""

    format: Literal["retrofit-verify.evidence.platform/1"] = PLATFORM_FORMAT
    software: SoftwareDoc
    plan: PlanRefDoc
    province: ProvinceDoc
    batch_year: int
    platform: PlatformDoc
    enterprises: list[EnterpriseSummaryDoc]
    passed_count: int
    minimum: int
    minimum_met: bool
    uncapped_total_fen: int
    total_fen: int
    platform_capped: bool


class PlatformSummaryDoc(_Doc):
    """One platform's line in a province summary."""

    id: str
    name: str
    sub_industry: str
    enterprises: int
    passed_count: int
    minimum_met: bool
    total_fen: int
    platform_capped: bool
    rollup_sha256: str


class ProvinceSummary(_Doc):
    """A province's batch: its platforms' pass counts and subsidies."""

    format: Literal["retrofit-verify.evidence.province/1"] = PROVINCE_FORMAT
    software: SoftwareDoc
    plan: PlanRefDoc
    province: ProvinceDoc
    batch_year: int
    platforms: list[PlatformSummaryDoc]
    enterprises: int
    passed_count: int
    total_fen: int


def _finite(value: Any) -> Any:
    # NaN and infinity have no JSON; an undefined figure is null (docstring above).
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number {value!r} in an evidence document: use None")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def canonical_json(document: BaseModel) -> bytes:
    """The document's one byte form: sorted keys, UTF-8, 1-space indent, trailing newline.

    ValueError when a float is NaN or infinite (undefined figures are ``None``).
    """
    tree = _finite(document.model_dump(mode="json"))
    text = json.dumps(tree, sort_keys=True, ensure_ascii=False, indent=1, allow_nan=False)
    return (text + "\n").encode("utf-8")
