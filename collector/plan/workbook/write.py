"""Writing the plan workbook: the template (headers, drop-downs, instructions) and a plan in it.

The sheets come from :data:`~collector.plan.workbook.layout.SHEETS`, so what is written is
what the reader reads. Every text cell is written as text (openpyxl would otherwise take a
name starting with ``=`` for a formula): a plan's names are hostile input, and a formula in a
workbook a province opens would run there. Dates are date cells, costs numbers shown with two
decimals and a thousands separator. The file's timestamps are fixed, so the same plan gives
the same content.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from collector.plan.model import (
    KPI_NAMES,
    MAX_PRODUCTION_EQUIPMENT,
    SUB_INDUSTRY_CATEGORIES,
    Enterprise,
    Plan,
)
from collector.plan.workbook.layout import (
    DATA_ROW,
    HEADER_KEY_ROW,
    HEADER_LABEL_ROW,
    INSTRUCTIONS,
    SHEETS,
    Column,
    Sheet,
)

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["plan_workbook_bytes"]

#: Rows the drop-downs and checks cover in a sheet (a batch lists a few hundred enterprises).
VALIDATED_ROWS = 2000
#: The workbook's creation and modification time, fixed so an export is reproducible.
FIXED_TIME = dt.datetime(2022, 7, 22, 0, 0, 0)

_LISTS = {
    "kpi": KPI_NAMES,
    "direction": ("increase", "decrease"),
    "unit": ("pp", "%"),
    "category": SUB_INDUSTRY_CATEGORIES,
    "boundary": ("devices", "facility"),
    "bool": ("TRUE", "FALSE"),
}
_FORMATS = {
    "date": "yyyy-mm-dd",
    "money": "#,##0.00",
    "int": "0",
    "count": "0",
    "number": "0.###",
}

_INSTRUCTIONS = (
    "实施方案工作簿 / Implementation plan workbook (retrofit-verify)",
    "",
    "每个工作表对应计划的一部分；第1行为中英文表头，第2行为字段键（读取时按键识别列，请勿修改），"
    "数据从第3行开始。",
    "Each sheet holds one part of the plan. Row 1 is the header in Chinese and English, row 2 "
    "the key the reader matches each column by (do not change it); data starts on row 3.",
    "",
    "计划 Plan: 一行：省份代码(GB/T 2260六位)、名称、批次年份、实施期(可选)。",
    "细分行业 SubIndustries: 每行一个细分行业；类别从下拉列表选择。",
    "平台 Platforms: 每行一个服务平台及其细分行业编号。",
    "企业 Enterprises: 每行一个试点企业；平台编号指向平台表；费用以元为单位的数字（不要写“万元”或"
    "千位分隔符）；日期用日期格式；生产设备总数（可选）为企业全部生产设备台（套）数，"
    "含未联网设备，是生产设备联网率的分母。",
    "Enterprises: production_equipment_total (optional) is the enterprise's whole count of "
    "production equipment, networked or not: the denominator of the networked-equipment rate.",
    "绩效目标 Targets: 每行一个企业的一个指标目标；指标、方向、单位从下拉列表选择。",
    "整改 Rectifications: 每行一次整改及其新报告期（可为空）。",
    "采集终端 Agents: 每行一个采集终端：公钥(retrofit-agent keygen 打印)与设备编号（逗号分隔）。",
    "",
    "Rules: values, not formulas; no merged cells; no hidden sheets, rows or columns; dates as "
    "date cells (2026-03-04), never text; costs in yuan as numbers (850000.00), never 85万元 or "
    "850,000 typed as text; ids of letters, digits, '.', '_' and '-'.",
    "Check: retrofit-collector plan validate plan.xlsx   Load: retrofit-collector plan load "
    "plan.xlsx --by <name>",
    "Every key and rule is described in docs/plan.md; the workbook layout in "
    "docs/plan-workbook.md.",
)


def plan_workbook_bytes(plan: Plan | None) -> bytes:
    """The workbook of ``plan``, or the empty template for None, as ``.xlsx`` bytes."""
    from openpyxl import Workbook  # openpyxl loads only when used

    workbook = Workbook()
    instructions = workbook.active
    if instructions is None:  # a new Workbook always has one sheet
        raise RuntimeError("openpyxl created a workbook without a sheet")
    _instructions(instructions)
    rows = _plan_rows(plan) if plan is not None else {}
    for sheet in SHEETS:
        _data_sheet(workbook, sheet, rows.get(sheet.name_en, []))
    workbook.properties.created = FIXED_TIME
    workbook.properties.modified = FIXED_TIME
    workbook.properties.creator = "retrofit-verify"
    return _fixed_times(_saved(workbook))


def _saved(workbook: Workbook) -> bytes:
    # openpyxl's save() stamps the modification time with now; its writer, used the way
    # save() uses it, keeps the fixed time set above.
    from openpyxl.writer.excel import ExcelWriter

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(workbook, archive).save()
    return buffer.getvalue()


def _fixed_times(content: bytes) -> bytes:
    """The archive again with every part dated :data:`FIXED_TIME` (zip keeps a time per part,
    which openpyxl sets to now), so that the same plan gives the same bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for part in source.infolist():
            fixed = zipfile.ZipInfo(part.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(part))
    return out.getvalue()


def _instructions(worksheet: Worksheet) -> None:
    from openpyxl.styles import Alignment, Font

    worksheet.title = INSTRUCTIONS
    worksheet.column_dimensions["A"].width = 120
    for number, line in enumerate(_INSTRUCTIONS, start=1):
        cell = _cell(worksheet, number, 1)
        _text(cell, line)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if number == 1:
            cell.font = Font(bold=True, size=14)


def _data_sheet(workbook: Workbook, sheet: Sheet, rows: list[dict[str, object]]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    worksheet = workbook.create_sheet(sheet.title)
    worksheet.row_dimensions[HEADER_LABEL_ROW].height = 32
    worksheet.freeze_panes = f"A{DATA_ROW}"
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for number, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(number)
        worksheet.column_dimensions[letter].width = column.width
        label = _cell(worksheet, HEADER_LABEL_ROW, number)
        optional = "" if column.required else " (可选 optional)"
        _text(label, f"{column.label_zh}\n{column.label_en}{optional}")
        label.alignment = Alignment(wrap_text=True, vertical="top")
        label.font = Font(bold=True)
        label.fill = header_fill
        key = _cell(worksheet, HEADER_KEY_ROW, number)
        _text(key, column.key)
        key.font = Font(italic=True, color="666666")
        _validation(worksheet, letter, column)
    for offset, values in enumerate(rows):
        for number, column in enumerate(sheet.columns, start=1):
            _value(_cell(worksheet, DATA_ROW + offset, number), column, values.get(column.key))


def _validation(worksheet: Worksheet, letter: str, column: Column) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    cells = f"{letter}{DATA_ROW}:{letter}{DATA_ROW + VALIDATED_ROWS - 1}"
    choices = _LISTS.get(column.kind)
    rule: DataValidation | None = None
    if choices is not None:
        rule = DataValidation(type="list", formula1='"' + ",".join(choices) + '"')
        rule.error = "choose from the list / 请从列表中选择"
    elif column.kind == "date":
        rule = DataValidation(
            type="date", operator="between", formula1="DATE(2000,1,1)", formula2="DATE(2199,12,31)"
        )
        rule.error = "a date, e.g. 2026-03-04 / 请输入日期"
    elif column.kind == "money":
        rule = DataValidation(
            type="decimal", operator="between", formula1="0.01", formula2="1000000000"
        )
        rule.error = "an amount in yuan, more than 0 / 请输入以元为单位的正数金额"
    elif column.kind == "number":
        rule = DataValidation(type="decimal", operator="greaterThan", formula1="0")
        rule.error = "a number more than 0 / 请输入正数"
    elif column.kind == "int":
        rule = DataValidation(type="whole", operator="between", formula1="2020", formula2="2100")
        rule.error = "a year from 2020 to 2100 / 请输入年份"
    elif column.kind == "count":
        rule = DataValidation(
            type="whole", operator="between", formula1="1", formula2=str(MAX_PRODUCTION_EQUIPMENT)
        )
        rule.error = "a whole number, at least 1 / 请输入正整数（台/套）"
    if rule is None:
        return
    rule.showErrorMessage = True
    rule.errorTitle = column.key
    rule.add(cells)
    worksheet.add_data_validation(rule)


def _cell(worksheet: Worksheet, row: int, column: int) -> Cell:
    from openpyxl.cell.cell import Cell

    cell = worksheet.cell(row, column)
    if not isinstance(cell, Cell):  # only a merged range has others; these sheets have none
        raise TypeError(f"{worksheet.title} row {row} column {column} is part of a merged range")
    return cell


def _text(cell: Cell, value: str) -> None:
    # Assigning a string that starts with "=" makes openpyxl write a formula; a text cell
    # with quotePrefix is what Excel itself writes for text typed after an apostrophe.
    cell.value = value
    cell.data_type = "s"
    if value.startswith(("=", "+", "-", "@")):
        cell.quotePrefix = True


def _value(cell: Cell, column: Column, value: object) -> None:
    if value is None:
        if column.kind not in ("date", "money", "int", "count", "number", "bool"):
            cell.number_format = "@"  # a code typed in later stays text
        return
    if isinstance(value, str):
        _text(cell, value)
        cell.number_format = "@"
        return
    if isinstance(value, Decimal):
        cell.value = float(value)  # exact to the fen: at most 12 significant digits
    elif isinstance(value, bool | int | float | dt.date):
        cell.value = value
    else:
        raise TypeError(f"no cell for {type(value).__name__}")
    number_format = _FORMATS.get(column.kind)
    if number_format is not None:
        cell.number_format = number_format


def _plan_rows(plan: Plan) -> dict[str, list[dict[str, object]]]:
    period = plan.implementation_period
    rows: dict[str, list[dict[str, object]]] = {
        "Plan": [
            {
                "province_code": plan.province.code,
                "province_name": plan.province.name,
                "batch_year": plan.batch_year,
                "implementation_start": None if period is None else period.start,
                "implementation_end": None if period is None else period.end,
            }
        ],
        "SubIndustries": [
            {"id": s.id, "name": s.name, "category": s.category} for s in plan.sub_industries
        ],
        "Platforms": [
            {"id": p.id, "name": p.name, "sub_industry": p.sub_industry} for p in plan.platforms
        ],
    }
    for name in ("Enterprises", "Targets", "Rectifications", "Agents"):
        rows[name] = []
    for platform in plan.platforms:
        for enterprise in platform.enterprises:
            rows["Enterprises"].append(_enterprise_row(platform.id, enterprise))
            rows["Targets"].extend(_target_rows(enterprise))
            rows["Rectifications"].extend(
                {
                    "enterprise": enterprise.id,
                    "date": r.date,
                    "reporting_start": r.reporting.start,
                    "reporting_end": r.reporting.end,
                }
                for r in enterprise.rectifications
            )
            rows["Agents"].extend(
                {
                    "enterprise": enterprise.id,
                    "id": a.id,
                    "public_key": a.public_key,
                    "devices": ", ".join(a.devices),
                }
                for a in enterprise.agents
            )
    return rows


def _enterprise_row(platform_id: str, enterprise: Enterprise) -> dict[str, object]:
    return {
        "platform": platform_id,
        "id": enterprise.id,
        "name": enterprise.name,
        "industry": enterprise.industry,
        "retrofit_cost_cny": enterprise.retrofit_cost_cny,
        "solution": enterprise.solution,
        "production_equipment_total": enterprise.production_equipment_total,
        "timezone": enterprise.timezone,
        "baseline_start": enterprise.baseline.start,
        "baseline_end": enterprise.baseline.end,
        "go_live": enterprise.go_live,
        "reporting_start": enterprise.reporting.start,
        "reporting_end": enterprise.reporting.end,
    }


def _target_rows(enterprise: Enterprise) -> Iterator[dict[str, object]]:
    # In the model's KPI order, whatever order the plan gave: the registry stores targets with
    # sorted keys, and the same plan must give the same workbook from a file or the registry.
    for kpi in sorted(enterprise.targets, key=KPI_NAMES.index):
        target = enterprise.targets[kpi]
        # Boundary, meters and drivers where the plan gives them (a YAML file, or the stored
        # content, which holds only what is not a default): the rules refuse them on any KPI
        # but energy per unit, so a key given with its default value must still reach them.
        # An empty cell is the default.
        given = target.model_fields_set
        yield {
            "enterprise": enterprise.id,
            "kpi": kpi,
            "direction": target.direction,
            "size": target.size,
            "unit": target.unit,
            "required": target.required,
            "boundary": target.boundary if "boundary" in given else None,
            "meters": ", ".join(target.meters) if "meters" in given else None,
            "drivers": ", ".join(target.drivers) if "drivers" in given else None,
        }
