"""Tables from the evidence documents of a bundle: what a reviewer files beside the JSON.

Three documents: an enterprise's KPIs and its digital-level section (``evidence.json``;
:mod:`.digital`), a platform's enterprises (``platform.json``) and a province's platforms
(``province.json``). Every figure
is the document's own; nothing is recomputed here. The web app builds the same KPI table from
the enterprise's latest bundle (:func:`kpi_table`).
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from collector.evidence.document import (
    EnterpriseEvidence,
    PlatformRollup,
    ProvinceSummary,
)
from collector.export.digital import digital_level_tables
from collector.export.table import Column, Table, Value

__all__ = [
    "ENTERPRISE_COLUMNS",
    "KPI_COLUMNS",
    "PLATFORM_COLUMNS",
    "DocumentRefused",
    "document_table",
    "document_tables",
    "enterprise_tables",
    "kpi_table",
    "platform_table",
    "province_table",
]

#: One row per KPI per attempt (the original reporting period, then each rectification).
KPI_COLUMNS = (
    Column("attempt", "评估次序", "int", 8),
    Column("attempt_kind", "类型", width=14),
    Column("reporting_start", "报告期开始", "date", 12),
    Column("reporting_end", "报告期结束", "date", 12),
    Column("kpi", "指标", width=30),
    Column("direction", "方向", width=10),
    Column("target", "目标幅度", "number", 10),
    Column("unit", "单位", width=6),
    Column("required", "必须达成", "bool", 8),
    Column("status", "结论", width=18),
    Column("baseline_value", "基线值", "number", 12),
    Column("reporting_value", "报告期值", "number", 12),
    Column("change", "变化", "change", 12),
    Column("interval_low", "区间下限", "change", 12),
    Column("interval_high", "区间上限", "change", 12),
    Column("baseline_usable_days", "基线有效天数", "int", 10),
    Column("reporting_usable_days", "报告期有效天数", "int", 10),
    Column("baseline_coverage", "基线覆盖率", "share", 10),
    Column("reporting_coverage", "报告期覆盖率", "share", 10),
    Column("reasons", "原因", width=40),
)

#: One row per enterprise of a platform's roll-up.
ENTERPRISE_COLUMNS = (
    Column("id", "企业编号", width=14),
    Column("name", "企业名称", width=30),
    Column("status", "证据结论", width=18),
    Column("attempts", "评估次数", "int", 8),
    Column("flags", "提示", "int", 8),
    Column("serious_flags", "严重提示", "int", 8),
    Column("passed", "通过", "bool", 8),
    Column("cost_fen", "改造费用(元)", "fen", 16),
    Column("share_fen", "按比例补助(元)", "fen", 16),
    Column("subsidy_fen", "补助(元)", "fen", 16),
    Column("capped", "封顶", "bool", 8),
)

#: One row per platform of a province's summary.
PLATFORM_COLUMNS = (
    Column("id", "平台编号", width=14),
    Column("name", "平台名称", width=36),
    Column("sub_industry", "细分行业", width=20),
    Column("enterprises", "企业数", "int", 8),
    Column("passed_count", "通过数", "int", 8),
    Column("minimum_met", "达到最低数", "bool", 10),
    Column("total_fen", "补助合计(元)", "fen", 16),
    Column("platform_capped", "平台封顶", "bool", 10),
)


class DocumentRefused(ValueError):
    """The JSON is not an evidence document this exporter knows; the message says why."""


def kpi_table(document: EnterpriseEvidence) -> Table:
    """An enterprise's KPI verdicts, every attempt, as in its ``evidence.json``."""
    rows: list[tuple[Value, ...]] = []
    for attempt in document.attempts:
        for kpi in attempt.kpis:
            change = kpi.change
            interval = kpi.interval
            rows.append(
                (
                    attempt.number, attempt.kind, attempt.reporting.start, attempt.reporting.end,
                    kpi.kpi, kpi.target.direction, kpi.target.size, kpi.target.unit,
                    kpi.target.required, kpi.status, kpi.baseline.value, kpi.reporting.value,
                    None if change is None else change.change,
                    None if interval is None else interval.low,
                    None if interval is None else interval.high,
                    kpi.baseline.usable_days, kpi.reporting.usable_days,
                    kpi.baseline.coverage, kpi.reporting.coverage, "; ".join(kpi.reasons),
                )
            )  # fmt: skip
    enterprise = document.enterprise
    return Table(
        "KPIs",
        f"{enterprise.name} ({enterprise.id}): 绩效指标 KPI verdicts",
        KPI_COLUMNS,
        rows,
        (
            ("plan", f"{document.plan.key} v{document.plan.version} {document.plan.digest}"),
            ("platform", f"{document.platform.name} ({document.platform.id})"),
            ("status 结论", document.status),
            ("retrofit cost 改造费用 (fen)", str(enterprise.retrofit_cost_fen)),
        ),
    )


def platform_table(rollup: PlatformRollup) -> Table:
    """A platform's enterprises with verdicts and subsidy, as in its ``platform.json``."""
    rows: list[tuple[Value, ...]] = [
        (
            e.id, e.name, e.status, e.attempts, e.flags, e.serious_flags, e.subsidy.passed,
            e.subsidy.cost_fen, e.subsidy.share_fen, e.subsidy.subsidy_fen, e.subsidy.capped,
        )
        for e in rollup.enterprises
    ]  # fmt: skip
    return Table(
        "Enterprises",
        f"{rollup.platform.name} ({rollup.platform.id}): 企业 enterprises",
        ENTERPRISE_COLUMNS,
        rows,
        (
            ("plan", f"{rollup.plan.key} v{rollup.plan.version} {rollup.plan.digest}"),
            ("passed 通过", str(rollup.passed_count)),
            ("minimum 最低数", str(rollup.minimum)),
            ("subsidy 补助合计 (fen)", str(rollup.total_fen)),
        ),
    )


def province_table(summary: ProvinceSummary) -> Table:
    """A province's platforms with passes and subsidy, as in its ``province.json``."""
    rows: list[tuple[Value, ...]] = [
        (
            p.id, p.name, p.sub_industry, p.enterprises, p.passed_count, p.minimum_met,
            p.total_fen, p.platform_capped,
        )
        for p in summary.platforms
    ]  # fmt: skip
    return Table(
        "Platforms",
        f"{summary.province.name} ({summary.province.code}) {summary.batch_year}: 平台 platforms",
        PLATFORM_COLUMNS,
        rows,
        (
            ("plan", f"{summary.plan.key} v{summary.plan.version} {summary.plan.digest}"),
            ("enterprises 企业数", str(summary.enterprises)),
            ("passed 通过", str(summary.passed_count)),
            ("subsidy 补助合计 (fen)", str(summary.total_fen)),
        ),
    )


def enterprise_tables(document: EnterpriseEvidence) -> tuple[Table, ...]:
    """An enterprise's tables: its KPIs, then its digital-level section's (if it has one)."""
    return (kpi_table(document), *digital_level_tables(document))


def document_table(content: bytes, source: str) -> Table:
    """The (first) table of an evidence document's JSON. Raises DocumentRefused."""
    return document_tables(content, source)[0]


def document_tables(content: bytes, source: str) -> tuple[Table, ...]:
    """The tables of an evidence document's JSON, by its ``format``: an enterprise's KPIs and
    digital-level section, a platform's enterprises, a province's platforms. Raises
    DocumentRefused."""
    try:
        kind = json.loads(content).get("format")
    except (ValueError, AttributeError):
        raise DocumentRefused(f"{source}: not a JSON object") from None
    try:
        if kind == EnterpriseEvidence.model_fields["format"].default:
            return enterprise_tables(EnterpriseEvidence.model_validate_json(content))
        if kind == PlatformRollup.model_fields["format"].default:
            return (platform_table(PlatformRollup.model_validate_json(content)),)
        if kind == ProvinceSummary.model_fields["format"].default:
            return (province_table(ProvinceSummary.model_validate_json(content)),)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise DocumentRefused(
            f"{source}: not a valid {kind} document ({exc.error_count()} errors; first at "
            f"{where}: {first['msg']})"
        ) from None
    raise DocumentRefused(
        f"{source}: format {kind!r}, expected an evidence document: evidence.json, "
        "platform.json or province.json of a bundle"
    )
