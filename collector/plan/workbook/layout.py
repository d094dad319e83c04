"""The plan workbook's sheets and columns: one table per level of the plan model.

Both the reader and the writer take their sheets, columns and kinds from :data:`SHEETS`, so
the two cannot drift apart. Row 1 of each data sheet holds the Chinese header, row 2 the
English key the reader goes by (so columns may be reordered, never renamed); data starts on
row 3. A child row names its parent by id (an enterprise row its platform, a target row its
enterprise), the way the YAML nests them. docs/plan-workbook.md shows the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DATA_ROW",
    "HEADER_KEY_ROW",
    "HEADER_LABEL_ROW",
    "INSTRUCTIONS",
    "SHEETS",
    "Column",
    "ColumnKind",
    "Sheet",
    "sheet_named",
]

#: Row of the Chinese and English header, and the key row the reader matches columns by.
HEADER_LABEL_ROW = 1
HEADER_KEY_ROW = 2
#: First row of data.
DATA_ROW = 3

#: How a cell is read and written: ``text`` a string, ``date`` a date cell, ``money`` CNY with
#: two decimals, ``number`` a positive decimal, ``int`` a whole number (a year), ``count`` a
#: whole number of things (at least 1), ``bool`` TRUE/FALSE,
#: ``list`` comma-separated ids in one cell; ``kpi``, ``direction``, ``unit``, ``category``
#: and ``boundary`` are text from a fixed list (a drop-down in the workbook).
ColumnKind = Literal[
    "text",
    "date",
    "money",
    "number",
    "int",
    "count",
    "bool",
    "list",
    "kpi",
    "direction",
    "unit",
    "category",
    "boundary",
]


#: English headers by column key (one meaning per key across the sheets).
ENGLISH_LABELS: dict[str, str] = {
    "province_code": "Province code (GB/T 2260)",
    "province_name": "Province",
    "batch_year": "Batch year",
    "implementation_start": "Implementation start",
    "implementation_end": "Implementation end",
    "id": "Id",
    "name": "Name",
    "category": "Category",
    "sub_industry": "Sub-industry id",
    "platform": "Platform id",
    "industry": "Industry",
    "retrofit_cost_cny": "Retrofit cost (CNY)",
    "solution": "Solution",
    "production_equipment_total": "Production equipment, total (units)",
    "timezone": "Time zone",
    "baseline_start": "Baseline start",
    "baseline_end": "Baseline end",
    "go_live": "Go-live date",
    "reporting_start": "Reporting start",
    "reporting_end": "Reporting end",
    "enterprise": "Enterprise id",
    "kpi": "KPI",
    "direction": "Direction",
    "size": "Size",
    "unit": "Unit (pp or %)",
    "required": "Required",
    "boundary": "Energy boundary",
    "meters": "Main meters",
    "drivers": "Energy model drivers",
    "date": "Rectification date",
    "public_key": "Public key",
    "devices": "Device ids",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key (the model's field, or ``parent`` for the parent's id)."""

    key: str
    label_zh: str
    kind: ColumnKind = "text"
    required: bool = True
    width: int = 18

    @property
    def label_en(self) -> str:
        """The column's English header (row 1 shows it under the Chinese one)."""
        return ENGLISH_LABELS.get(self.key, self.key)


@dataclass(frozen=True, slots=True)
class Sheet:
    """One data sheet: its title (Chinese and English) and columns."""

    title: str
    name_en: str
    columns: tuple[Column, ...]
    #: The column that names the parent row's id, if rows belong to a parent.
    parent: str | None = None
    #: At most one data row (the plan's own fields).
    single: bool = False

    def column(self, key: str) -> Column:
        """The column with this key; raises KeyError if there is none."""
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)


PLAN_SHEET = Sheet(
    "计划 Plan",
    "Plan",
    (
        Column("province_code", "省份代码", width=14),
        Column("province_name", "省份名称", width=20),
        Column("batch_year", "批次年份", "int", width=12),
        Column("implementation_start", "实施期开始", "date", required=False, width=14),
        Column("implementation_end", "实施期结束", "date", required=False, width=14),
    ),
    single=True,
)
SUB_INDUSTRY_SHEET = Sheet(
    "细分行业 SubIndustries",
    "SubIndustries",
    (
        Column("id", "编号"),
        Column("name", "名称", width=30),
        Column("category", "类别", "category", width=30),
    ),
)
PLATFORM_SHEET = Sheet(
    "平台 Platforms",
    "Platforms",
    (
        Column("id", "编号"),
        Column("name", "名称", width=40),
        Column("sub_industry", "细分行业编号"),
    ),
)
ENTERPRISE_SHEET = Sheet(
    "企业 Enterprises",
    "Enterprises",
    (
        Column("platform", "平台编号"),
        Column("id", "编号"),
        Column("name", "名称", width=30),
        Column("industry", "所属行业", width=30),
        Column("retrofit_cost_cny", "改造费用(元)", "money", width=16),
        Column("solution", "改造方案", width=40),
        Column("timezone", "时区", required=False, width=16),
        Column("baseline_start", "基线期开始", "date", width=14),
        Column("baseline_end", "基线期结束", "date", width=14),
        Column("go_live", "上线日期", "date", width=14),
        Column("reporting_start", "报告期开始", "date", width=14),
        Column("reporting_end", "报告期结束", "date", width=14),
        # Last, so that adding it moved no column of workbooks written before it.
        Column("production_equipment_total", "生产设备总数(台/套)", "count", required=False),
    ),
    parent="platform",
)
TARGET_SHEET = Sheet(
    "绩效目标 Targets",
    "Targets",
    (
        Column("enterprise", "企业编号"),
        Column("kpi", "指标", "kpi", width=34),
        Column("direction", "方向", "direction", width=12),
        Column("size", "幅度", "number", width=10),
        Column("unit", "单位", "unit", width=8),
        Column("required", "必须达成", "bool", required=False, width=10),
        Column("boundary", "能耗边界", "boundary", required=False, width=12),
        Column("meters", "总表设备", "list", required=False, width=20),
        Column("drivers", "能耗模型变量", "list", required=False, width=20),
    ),
    parent="enterprise",
)
RECTIFICATION_SHEET = Sheet(
    "整改 Rectifications",
    "Rectifications",
    (
        Column("enterprise", "企业编号"),
        Column("date", "整改日期", "date", width=14),
        Column("reporting_start", "新报告期开始", "date", width=14),
        Column("reporting_end", "新报告期结束", "date", width=14),
    ),
    parent="enterprise",
)
AGENT_SHEET = Sheet(
    "采集终端 Agents",
    "Agents",
    (
        Column("enterprise", "企业编号"),
        Column("id", "编号"),
        Column("public_key", "公钥", width=60),
        Column("devices", "设备编号", "list", width=40),
    ),
    parent="enterprise",
)

#: The data sheets in workbook order.
SHEETS: tuple[Sheet, ...] = (
    PLAN_SHEET,
    SUB_INDUSTRY_SHEET,
    PLATFORM_SHEET,
    ENTERPRISE_SHEET,
    TARGET_SHEET,
    RECTIFICATION_SHEET,
    AGENT_SHEET,
)

#: The instructions sheet's title (first in the workbook; the reader skips it).
INSTRUCTIONS = "说明 Instructions"


def sheet_named(title: str) -> Sheet | None:
    """The data sheet with this title, or None."""
    for sheet in SHEETS:
        if sheet.title == title:
            return sheet
    return None
