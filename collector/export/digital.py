"""The digital-level section of an enterprise's evidence as tables: measured inputs for the SME
digital-level assessment (工信厅企业〔2024〕56号; evidence-method.md §11), never the rating.

Four tables from the document's ``digital_level`` (docs/exports.md, "Digital level"), every
figure the document's own:

- **Networked** (生产设备联网率): one row: the period, the plan's count of production
  equipment, the networked devices, the status and the rate (a share; empty unless measured);
- **Devices**: one row per device: production or metering equipment, the days it measured, the
  scenarios it shows;
- **Scenarios** (数据自动采集): one row per scenario (设备管理, 能耗管理, 生产管控): covered or
  not, by which quantities and devices;
- **Quality** (月均产品合格率): one row per month per period with its pass rate, then per period
  its monthly mean and its pooled rate (the ``month`` column says which).

A document made before the section (``digital_level`` absent) has none of these tables.
"""

from __future__ import annotations

from typing import Final

from collector.evidence.document import DigitalLevelDoc, EnterpriseEvidence
from collector.export.table import Column, Table, Value

__all__ = [
    "DIGITAL_DEVICE_COLUMNS",
    "DIGITAL_NETWORKED_COLUMNS",
    "DIGITAL_QUALITY_COLUMNS",
    "DIGITAL_SCENARIO_COLUMNS",
    "MONTHLY_MEAN",
    "POOLED",
    "SCENARIO_LABELS",
    "digital_level_tables",
]

#: The assessment's names of the data-collection scenarios.
SCENARIO_LABELS: Final = {
    "equipment_management": "设备管理",
    "energy_management": "能耗管理",
    "production_control": "生产管控",
}
#: The Quality table's ``month`` for a period's mean of monthly rates, and its pooled rate.
MONTHLY_MEAN: Final = "monthly mean 月均"
POOLED: Final = "pooled 合计"

DIGITAL_NETWORKED_COLUMNS = (
    Column("period_start", "期间开始", "date", 12),
    Column("period_end", "期间结束", "date", 12),
    Column("production_equipment_total", "生产设备总数", "int", 12),
    Column("networked_count", "联网设备数", "int", 10),
    Column("networked_status", "状态", width=14),
    Column("networked_share", "生产设备联网率", "share", 14),
    Column("networked_devices", "联网设备", width=40),
)
DIGITAL_DEVICE_COLUMNS = (
    Column("device", "设备", width=16),
    Column("production", "生产设备", "bool", 10),
    Column("networked", "计入联网", "bool", 10),
    Column("measured_days", "实测天数", "int", 10),
    Column("first_day", "首日", "date", 12),
    Column("last_day", "末日", "date", 12),
    Column("scenarios", "采集场景", width=40),
)
DIGITAL_SCENARIO_COLUMNS = (
    Column("scenario", "场景", width=22),
    Column("label", "名称", width=10),
    Column("covered", "已自动采集", "bool", 10),
    Column("quantities", "基础量", width=36),
    Column("devices", "设备", width=36),
)
DIGITAL_QUALITY_COLUMNS = (
    Column("role", "期间", width=10),
    Column("period_start", "期间开始", "date", 12),
    Column("period_end", "期间结束", "date", 12),
    Column("month", "月份", width=18),
    Column("days", "天数", "int", 8),
    Column("good_count", "合格数", "number", 14),
    Column("total_count", "总数", "number", 14),
    Column("rate", "合格率", "share", 10),
)


def _networked(section: DigitalLevelDoc) -> tuple[Value, ...]:
    return (
        section.period.start, section.period.end, section.production_equipment_total,
        len(section.networked_devices), section.networked_status, section.networked_share,
        ", ".join(section.networked_devices),
    )  # fmt: skip


def _devices(section: DigitalLevelDoc) -> list[tuple[Value, ...]]:
    networked = set(section.networked_devices)
    return [
        (
            d.device, d.production, d.device in networked, d.measured_days, d.first_day,
            d.last_day, ", ".join(d.scenarios),
        )
        for d in section.devices
    ]  # fmt: skip


def _scenarios(section: DigitalLevelDoc) -> list[tuple[Value, ...]]:
    return [
        (
            s.scenario, SCENARIO_LABELS.get(s.scenario, ""), s.covered, ", ".join(s.quantities),
            ", ".join(s.devices),
        )
        for s in section.scenarios
    ]  # fmt: skip


def _quality(section: DigitalLevelDoc) -> list[tuple[Value, ...]]:
    rows: list[tuple[Value, ...]] = []
    for period in section.quality:
        start, end = period.period.start, period.period.end
        for month in period.months:
            rows.append(
                (period.role, start, end, month.month, month.days, month.good_count,
                 month.total_count, month.rate)
            )  # fmt: skip
        days = sum(month.days for month in period.months)
        rows.append((period.role, start, end, MONTHLY_MEAN, days, None, None, period.monthly_mean))
        rows.append((period.role, start, end, POOLED, days, None, None, period.pooled))
    return rows


def digital_level_tables(document: EnterpriseEvidence) -> tuple[Table, ...]:
    """The section's four tables (Networked, Devices, Scenarios, Quality); none without it."""
    section = document.digital_level
    if section is None:
        return ()
    who = f"{document.enterprise.name} ({document.enterprise.id})"
    about: tuple[tuple[str, Value], ...] = (
        ("measured inputs 实测输入", "not the official rating 非正式评级 (工信厅企业〔2024〕56号)"),
        ("period 期间", f"{section.period.start} – {section.period.end}"),
    )
    return (
        Table("Networked", f"{who}: 生产设备联网率 networked", DIGITAL_NETWORKED_COLUMNS,
              [_networked(section)], about),
        Table("Devices", f"{who}: 设备 devices", DIGITAL_DEVICE_COLUMNS, _devices(section), about),
        Table("Scenarios", f"{who}: 数据自动采集 scenarios", DIGITAL_SCENARIO_COLUMNS,
              _scenarios(section), about),
        Table("Quality", f"{who}: 月均产品合格率 quality", DIGITAL_QUALITY_COLUMNS,
              _quality(section), about),
    )  # fmt: skip
