"""The evidence engine: daily sums in, verdicts and subsidy out (docs/evidence-method.md).

Pure computation on values; the collector's bundle and web steps feed it. Needs numpy, scipy
and statsmodels (the ``collector`` extra); the ingest does not import it.
"""

from collector.evidence.assemble import EnterpriseInputs, enterprise_evidence
from collector.evidence.baseline_check import (
    MAX_OUTSIDE_RANGE_SHARE,
    MIN_EFFECTIVE_BASELINE_DAYS,
    BaselineCheck,
    check_baseline,
)
from collector.evidence.change import (
    DEFAULT_SEED,
    ChangeEstimate,
    Interval,
    block_length,
    estimate_change,
    hac_maxlags,
    moving_block_indices,
)
from collector.evidence.daily import (
    DEVICES_BOUNDARY,
    KPI_INPUTS,
    EnterpriseDay,
    MeasurementBoundary,
    energy_boundary,
    enterprise_days,
    kpi_value,
    kpi_values,
    oee_quality,
)
from collector.evidence.energy import (
    G14_MAX_ABS_NMBE_PCT,
    G14_MAX_CV_RMSE_PCT,
    EnergyModel,
    EnergySavings,
    energy_savings,
    fit_baseline,
    g14_statistics,
)
from collector.evidence.errors import EvidenceError, UndefinedChange
from collector.evidence.inputs import AgentRecord, DailySums, DeviceDay, SeqGapRecord
from collector.evidence.plausibility import FlagInputs, plausibility_flags
from collector.evidence.provenance import current_software
from collector.evidence.rollups import platform_rollup, province_summary
from collector.evidence.series import plan_days
from collector.evidence.subsidy import (
    ENTERPRISE_CAP_FEN,
    PLATFORM_CAP_FEN,
    EnterpriseOutcome,
    EnterpriseSubsidy,
    PlatformSubsidy,
    enterprise_subsidy,
    fen_text,
    platform_subsidy,
)
from collector.evidence.sufficiency import (
    MAX_REPORTING_IMPORTED_SHARE,
    MIN_COVERAGE,
    KpiSeries,
    Sufficiency,
    is_usable,
    period_series,
)
from collector.evidence.verdict import (
    KpiVerdict,
    Status,
    decide,
    enterprise_status,
    judge_kpi,
)

__all__ = [
    "DEFAULT_SEED",
    "DEVICES_BOUNDARY",
    "ENTERPRISE_CAP_FEN",
    "G14_MAX_ABS_NMBE_PCT",
    "G14_MAX_CV_RMSE_PCT",
    "KPI_INPUTS",
    "MAX_OUTSIDE_RANGE_SHARE",
    "MAX_REPORTING_IMPORTED_SHARE",
    "MIN_COVERAGE",
    "MIN_EFFECTIVE_BASELINE_DAYS",
    "PLATFORM_CAP_FEN",
    "AgentRecord",
    "BaselineCheck",
    "ChangeEstimate",
    "DailySums",
    "DeviceDay",
    "EnergyModel",
    "EnergySavings",
    "EnterpriseDay",
    "EnterpriseInputs",
    "EnterpriseOutcome",
    "EnterpriseSubsidy",
    "EvidenceError",
    "FlagInputs",
    "Interval",
    "KpiSeries",
    "KpiVerdict",
    "MeasurementBoundary",
    "PlatformSubsidy",
    "SeqGapRecord",
    "Status",
    "Sufficiency",
    "UndefinedChange",
    "block_length",
    "check_baseline",
    "current_software",
    "decide",
    "energy_boundary",
    "energy_savings",
    "enterprise_days",
    "enterprise_evidence",
    "enterprise_status",
    "enterprise_subsidy",
    "estimate_change",
    "fen_text",
    "fit_baseline",
    "g14_statistics",
    "hac_maxlags",
    "is_usable",
    "judge_kpi",
    "kpi_value",
    "kpi_values",
    "moving_block_indices",
    "oee_quality",
    "period_series",
    "plan_days",
    "platform_rollup",
    "platform_subsidy",
    "plausibility_flags",
    "province_summary",
]
