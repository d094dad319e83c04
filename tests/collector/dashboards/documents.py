"""Evidence documents for the dashboard tests, built as the evidence engine would fill them.

Small but complete: the model is the contract (collector/evidence/document.py), so every field
is given and pydantic checks it. Figures are plausible, not computed: these tests are about
what the dashboards show of a document, not about the method.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from collector.evidence.document import EnterpriseEvidence, PlatformRollup

_SOFTWARE = {"retrofit_verify": "0.1.0", "python": "3.11", "numpy": "2.4", "scipy": "1.17",
             "statsmodels": "0.15"}  # fmt: skip
_PLAN = {"key": "330200-2026", "version": 1, "digest": "sha256:" + "0" * 64}
_PROVINCE = {"code": "330200", "name": "浙江省宁波市"}
_PLATFORM = {
    "id": "plat-a",
    "name": "甬链工业互联网平台",
    "sub_industry": {"id": "auto-parts", "name": "汽车零部件", "category": "auto_parts"},
}
_METHOD = {
    "seed": 20260101, "replicates": 2000, "confidence": 0.9, "power": 0.8, "mde_factor": 2.49,
    "min_coverage": 0.8, "max_reporting_imported_share": 0.0,
    "min_data_days": {"baseline": 20, "reporting": 20}, "g14_max_cv_rmse_pct": 20.0,
    "g14_max_abs_nmbe_pct": 0.5, "g14_max_fsu_68": 0.5,
}  # fmt: skip


def _sufficiency(role: str, start: str, end: str, value: float | None) -> dict[str, Any]:
    return {
        "role": role, "period": {"start": start, "end": end}, "calendar_days": 40,
        "scheduled_days": 30, "usable_days": 28 if value is not None else 3, "min_days": 20,
        "coverage": 0.97, "imported_share": 0.0, "comm_loss_share": 0.03,
        "reasons": [] if value is not None else ["too_few_days"],
        "sums": {"ideal_count_s": 1.0e6, "planned_s": 2.0e6}, "value": value,
    }  # fmt: skip


def _kpi(name: str, status: str, baseline: float, reporting: float | None) -> dict[str, Any]:
    change = None
    if reporting is not None:
        change = {
            "unit": "pp", "baseline_value": baseline, "reporting_value": reporting,
            "change": round((reporting - baseline) * 100, 6), "confidence": 0.9,
            "bootstrap": {"low": 4.1, "high": 9.0}, "bootstrap_se": 1.4, "block_lengths": [3, 3],
            "replicates": 2000, "seed": 20260101, "undefined_replicates": 0, "hac_change": 6.4,
            "hac": {"low": 4.0, "high": 8.9}, "hac_se": 1.5, "hac_maxlags": 3, "mde": 2.2,
            "power": 0.8,
        }  # fmt: skip
    return {
        "kpi": name,
        "target": {
            "kpi": name,
            "direction": "increase",
            "size": 5.0,
            "unit": "pp",
            "required": True,
        },
        "status": status,
        "reasons": [] if reporting is not None else ["reporting_insufficient"],
        "baseline": _sufficiency("baseline", "2026-02-02", "2026-03-29", baseline),
        "reporting": _sufficiency("reporting", "2026-06-01", "2026-08-30", reporting),
        "change": change,
        "energy": None,
        "interval": {"low": 4.1, "high": 9.0} if reporting is not None else None,
        "needed_for_80pct_pass": None,
        "daily": [],
        "devices": [],
    }


def _subsidy(passed: bool, cost_fen: int) -> dict[str, Any]:
    share = cost_fen * 3 // 10
    return {"passed": passed, "cost_fen": cost_fen, "share_fen": share,
            "subsidy_fen": share if passed else 0, "capped": False}  # fmt: skip


def enterprise_evidence(enterprise: str, *, passed: bool, flagged: bool) -> EnterpriseEvidence:
    """An enterprise's evidence: OEE passed (or failed), with a flag if ``flagged``."""
    status = "pass" if passed else "fail"
    kpis = [_kpi("oee", status, 0.52, 0.60 if passed else 0.53)]
    flags = []
    if flagged:
        flags.append({"check": "flat_counter", "severity": "warning", "device": "press-2",
                      "days": ["2026-06-03", "2026-06-04"], "figures": {"hours": 9.5}})  # fmt: skip
    document = {
        "software": _SOFTWARE, "method": _METHOD, "plan": _PLAN, "province": _PROVINCE,
        "batch_year": 2026, "platform": _PLATFORM,
        "enterprise": {
            "id": enterprise, "name": "宁波精锻汽配有限公司", "industry": "C3670",
            "solution": "冲压线设备联网", "timezone": "Asia/Shanghai",
            "retrofit_cost_fen": 85_000_000,
            "baseline": {"start": "2026-02-02", "end": "2026-03-29"}, "go_live": "2026-05-06",
            "reporting": {"start": "2026-06-01", "end": "2026-08-30"},
            "targets": [kpis[0]["target"]],
        },
        "agents": [{"id": f"{enterprise}-gw1", "public_key": "ed25519:x", "devices": ["press-1"],
                    "revoked": False}],
        "attempts": [{"number": 1, "kind": "original", "rectification_date": None,
                      "reporting": {"start": "2026-06-01", "end": "2026-08-30"},
                      "status": status, "kpis": kpis}],
        "status": status, "flags": flags,
        "integrity": {"seq_gaps": [], "quarantined": {}},
        "subsidy": _subsidy(passed, 85_000_000),
        "device_days": [],
    }  # fmt: skip
    return EnterpriseEvidence.model_validate(document)


def platform_rollup(statuses: dict[str, str]) -> PlatformRollup:
    """A platform roll-up over ``statuses`` (enterprise id → status)."""
    lines = [
        {"id": enterprise, "name": enterprise, "status": status, "attempts": 1, "flags": 0,
         "serious_flags": 0, "evidence_sha256": "0" * 64,
         "subsidy": _subsidy(status == "pass", 50_000_000)}
        for enterprise, status in sorted(statuses.items())
    ]  # fmt: skip
    passed = sum(1 for status in statuses.values() if status == "pass")
    total = 15_000_000 * passed if passed >= 10 else 0
    return PlatformRollup.model_validate(
        {
            "software": _SOFTWARE,
            "plan": _PLAN,
            "province": _PROVINCE,
            "batch_year": 2026,
            "platform": _PLATFORM,
            "enterprises": lines,
            "passed_count": passed,
            "minimum": 10,
            "minimum_met": passed >= 10,
            "uncapped_total_fen": 15_000_000 * passed,
            "total_fen": total,
            "platform_capped": False,
        }
    )


RUN_AT = dt.datetime(2026, 9, 15, 2, 0, tzinfo=dt.UTC)
