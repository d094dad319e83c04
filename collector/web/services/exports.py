"""Exports of what the pages show: a province's platforms, a platform's enterprises, an
enterprise's KPIs, as ``.xlsx`` or CSV downloads (docs/exports.md).

The figures are the same views the pages and the API show (:mod:`.places`: subsidy by review
decision), and for an enterprise the KPI and digital-level tables of its latest bundle, built
by the same function the command line uses on ``evidence.json``. Downloads go out as
attachments with ``nosniff``; the caller's role and scope are checked as for the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from fastapi.responses import Response

from collector.export import (
    ENTERPRISE_COLUMNS,
    Column,
    Table,
    Value,
    csv_bytes,
    enterprise_tables,
    workbook_bytes,
)
from collector.web import scope
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.services.places import platform_view, province_detail
from collector.web.state import WebState

__all__ = [
    "ExportFormat",
    "enterprise_export",
    "export_response",
    "platform_export",
    "province_export",
]

#: The formats a download may take.
ExportFormat = Literal["xlsx", "csv"]

_MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}

_PROVINCE_COLUMNS = (
    Column("id", "平台编号", width=14),
    Column("name", "平台名称", width=36),
    Column("sub_industry", "细分行业编号", width=16),
    Column("sub_industry_name", "细分行业", width=20),
    Column("enterprises", "企业数", "int", 8),
    Column("evidence_passed", "证据通过数", "int", 10),
    Column("reviewed_passed", "评审通过数", "int", 10),
    Column("minimum", "最低数", "int", 8),
    Column("minimum_met", "达到最低数", "bool", 10),
    Column("subsidy_fen", "补助(元)", "fen", 16),
    Column("platform_capped", "平台封顶", "bool", 10),
)
_PLATFORM_COLUMNS = (
    *ENTERPRISE_COLUMNS[:2],
    Column("evidence_status", "证据结论", width=18),
    Column("decision", "评审决定", width=10),
    Column("flags", "提示", "int", 8),
    Column("serious_flags", "严重提示", "int", 8),
    Column("baseline_coverage", "基线覆盖率", "share", 10),
    Column("reporting_coverage", "报告期覆盖率", "share", 10),
    Column("passed", "评审通过", "bool", 8),
    *ENTERPRISE_COLUMNS[-4:],  # cost, share, subsidy, capped: as the roll-up's table
)


def _as_of() -> tuple[str, Value]:
    # Figures by review decision change as reviewers decide: the export says when it was made.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return ("as of 导出时间 (UTC)", now.isoformat())


def province_export(state: WebState, user: Principal, code: str) -> Table:
    """The province page's table: each platform's passes and subsidy by review decision."""
    detail = province_detail(state, user, code)
    rows: list[tuple[Value, ...]] = [
        (
            p.id, p.name, p.sub_industry, p.sub_industry_name, p.enterprises, p.evidence_passed,
            p.reviewed_passed, p.minimum, p.minimum_met, p.subsidy_fen, p.platform_capped,
        )
        for p in detail.platforms
    ]  # fmt: skip
    about = (
        ("plans", ", ".join(detail.plan_keys)),
        ("enterprises 企业数", str(detail.enterprises)),
        ("reviewed passed 评审通过", str(detail.reviewed_passed)),
        ("subsidy 补助合计 (fen)", str(detail.subsidy_fen)),
        _as_of(),
    )
    title = f"{detail.name} ({detail.code}): 平台 platforms"
    return Table("Platforms", title, _PROVINCE_COLUMNS, rows, about)


def platform_export(state: WebState, user: Principal, platform_id: str) -> Table:
    """The platform page's table: each enterprise's verdict, decision, coverage and subsidy."""
    view = platform_view(state, user, platform_id)
    lines = {line.id: line for line in view.lines}
    rows: list[tuple[Value, ...]] = []
    for item in view.rollup.enterprises:
        line = lines.get(item.id)
        rows.append(
            (
                item.id, item.name, item.evidence_status, item.decision,
                None if line is None else line.flags,
                None if line is None else line.serious_flags,
                None if line is None else line.baseline_coverage,
                None if line is None else line.reporting_coverage,
                item.passed, item.cost_fen, item.share_fen, item.subsidy_fen, item.capped,
            )
        )  # fmt: skip
    summary, rollup = view.summary, view.rollup
    about = (
        ("plan", summary.plan_key),
        ("passed by review 评审通过", str(rollup.passed_count)),
        ("minimum 最低数", str(rollup.minimum)),
        ("subsidy 补助合计 (fen)", str(rollup.total_fen)),
        _as_of(),
    )
    title = f"{summary.name} ({summary.id}): 企业 enterprises"
    return Table("Enterprises", title, _PLATFORM_COLUMNS, rows, about)


def enterprise_export(state: WebState, user: Principal, enterprise_id: str) -> tuple[Table, ...]:
    """The tables of the enterprise's latest bundle (KPIs, then the digital-level section's);
    404 if it has none yet."""
    ref = scope.enterprise_in_scope(user, state.directory(), enterprise_id)
    latest = state.bundles.latest(ref.id)
    if latest is None:
        raise Problem(404, f"enterprise {ref.id} has no evidence bundle yet: run the evidence")
    return enterprise_tables(latest.document)


def _csv_table(tables: Sequence[Table], name: str | None) -> Table:
    if not name:
        return tables[0]
    for table in tables:
        if table.name.lower() == name.lower():
            return table
    names = ", ".join(table.name for table in tables)
    raise Problem(404, f"no table {name[:40]!r} in this export; it has {names}")


def export_response(
    tables: Table | Sequence[Table],
    output_format: ExportFormat,
    stem: str,
    table: str | None = None,
) -> Response:
    """The tables as a download: a workbook of every table, or one as CSV (``table`` names
    it, default the first); attachment, its media type, nosniff, never cached."""
    every = (tables,) if isinstance(tables, Table) else tuple(tables)
    if output_format == "xlsx":
        data = workbook_bytes(every)
    else:
        chosen = _csv_table(every, table)
        data = csv_bytes(chosen)
        stem = stem if chosen is every[0] else f"{stem}-{chosen.name.lower()}"
    # ``stem`` is made of ids the path patterns allow ([A-Za-z0-9._-]): safe in the header.
    headers = {
        "Content-Disposition": f'attachment; filename="{stem}.{output_format}"',
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    return Response(content=data, media_type=_MEDIA[output_format], headers=headers)
