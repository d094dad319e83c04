"""Words of the digital-level section (measured inputs for 工信厅企业〔2024〕56号), both languages.

Part of the catalogue: :data:`collector.report.labels.LABELS` takes them in, and the report
and the web page read them through it, so both say the same. A section of its own, so that
it can change without touching the rest of the report's words.
"""

from __future__ import annotations

from typing import Final

from collector.report.lang import Text

__all__ = ["DIGITAL_LEVEL_LABELS"]

DIGITAL_LEVEL_LABELS: Final[dict[str, Text]] = {
    "digital.heading": Text(
        "数字化水平评测的实测输入", "Digital-level assessment: measured inputs"
    ),
    "digital.not_rating": Text(
        "以下是采集系统对《中小企业数字化水平评测指标（2024年版）》（工信厅企业〔2024〕56号）"
        "部分评测项的实测输入及其来源，不是官方评测结果，也不给出等级（一级至四级）。"
        "试点企业的数字化水平由现场评定确定。",
        "Measured inputs, with their sources, for a few items of the SME digital-level "
        "indicators (2024 edition, MIIT 2024 No. 56). They are not the official rating and "
        "give no level (1 to 4): a pilot enterprise's level is set by the on-site assessment.",
    ),
    "digital.period": Text("测量期间（末次评审报告期）", "Measured over (last attempt's period)"),
    "digital.networked.caption": Text("生产设备联网率", "Production equipment networked"),
    "digital.networked.devices": Text(
        "报告期内有实测数据的生产设备（分子）",
        "Production equipment with measured data in the period (numerator)",
    ),
    "digital.networked.total": Text(
        "生产设备总数（分母，实施方案填报）",
        "Production equipment, total (denominator, from the plan)",
    ),
    "digital.networked.rate": Text("生产设备联网率", "Share networked"),
    "digital.networked.source": Text(
        "来源：分子为设备日汇总（kpi_daily）中报告期内至少一天有实测（非导入）窗口、"
        "且采集到设备状态或产量计数的设备；只采集电能的设备为计量设备，不计入。"
        "分母为实施方案的 production_equipment_total。",
        "Source: the numerator counts devices with a measured (not imported) window on at "
        "least one day of the period in the daily rollups (kpi_daily) that reported machine "
        "state or part counts; a device that reported energy only is a meter and is not "
        "counted. The denominator is the plan's production_equipment_total.",
    ),
    "digital.status.no_total": Text(
        "未计算：实施方案未填报生产设备总数（不按 100% 计）",
        "Not computed: the plan gives no production equipment total (not 100 %)",
    ),
    "digital.status.exceeds_total": Text(
        "未计算：联网生产设备多于实施方案填报的总数，请核对总数",
        "Not computed: more production equipment reports than the plan's total; check the total",
    ),
    "digital.none": Text("无", "none"),
    "digital.scenarios.caption": Text(
        "数据自动采集（按业务场景）", "Automatic data collection by scenario"
    ),
    "digital.scenarios.scenario": Text("业务场景", "Scenario"),
    "digital.scenarios.covered": Text("有自动采集数据", "Automatic data"),
    "digital.scenarios.quantities": Text("依据的采集量", "Shown by"),
    "digital.scenarios.devices": Text("设备", "Devices"),
    "digital.scenario.equipment_management": Text("设备管理", "Equipment management"),
    "digital.scenario.energy_management": Text("能耗管理", "Energy management"),
    "digital.scenario.production_control": Text("生产管控", "Production control"),
    "digital.scenarios.source": Text(
        "来源：报告期内的实测设备日汇总。设备管理依据设备状态（运行时间 run_s），"
        "能耗管理依据电能（energy_kwh），生产管控依据产量计数（total_count、good_count）。",
        "Source: the period's measured device-days. Equipment management is shown by machine "
        "state (run time, run_s), energy management by energy (energy_kwh), production "
        "control by part counts (total_count, good_count).",
    ),
    "digital.devices.caption": Text("各设备实测情况", "Devices"),
    "digital.devices.device": Text("设备", "Device"),
    "digital.devices.kind": Text("类别", "Kind"),
    "digital.devices.days": Text("有实测数据天数", "Days with measured data"),
    "digital.devices.span": Text("首日 – 末日", "First – last day"),
    "digital.kind.production": Text("生产设备", "Production equipment"),
    "digital.kind.meter": Text("计量设备", "Meter"),
    "digital.kind.unknown": Text("无实测数据（未知）", "No measured data (unknown)"),
    "digital.quality.caption": Text(
        "月均产品合格率（改造前后）", "Monthly product pass rate (before and after)"
    ),
    "digital.quality.period": Text("期间", "Period"),
    "digital.quality.months": Text("各月合格率", "Month by month"),
    "digital.quality.days": Text("{days} 天", "{days} days"),
    "digital.quality.monthly_mean": Text("月均产品合格率", "Monthly mean pass rate"),
    "digital.quality.pooled": Text(
        "全期合格率（合格品率指标）", "Whole-period pass rate (the quality KPI)"
    ),
    "digital.quality.source": Text(
        "来源：合格品率指标的可用天（方法第 2 节）。每月合格率 = 当月合格品数之和 ÷ "
        "当月产量之和；月均产品合格率为各月合格率的算术平均（每月权重相同）。",
        "Source: the quality KPI's usable days (method §2). A month's rate = the month's good "
        "parts ÷ its parts; the monthly mean is the plain mean of the months' rates (each "
        "month weighs the same).",
    ),
}
