"""The one catalogue of what a reviewer reads, in Simplified Chinese and English.

The evidence document carries codes, not sentences (collector/evidence/document.py): statuses,
KPI names, reasons, flag checks. This module turns each into words in both languages, and the
reasons and flags into sentences that quote their figures. The reports, the web app and the
demo all read it; nothing else holds a translation.

An unknown code (a newer engine, a typo) is shown as the code itself, never dropped:
:func:`known_codes` lets a test check that every code the engine can emit has its words.

Figures in a flag's sentence are formatted by the unit their name carries (document.py's "units
in names"; the last unit token of the name counts, so ``ideal_cycle_s_before`` is seconds):
``share`` (0..1) as percent, ``pct`` already percent, ``pp`` percentage points, ``s`` seconds,
``h`` hours, ``kwh``, ``fen`` money; a string named ``..._day``/``..._date`` is a date; other
integers as counts, other floats with up to 3 decimals, strings as given.

Why one module of ~740 lines: it is data, a catalogue, and one place per word is the point
(a translator and the untranslated-key test read one file); its code is a few lookups.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from collector.evidence.document import (
    FlagDoc,
    KpiDoc,
    MethodDoc,
    SealsDoc,
    SufficiencyDoc,
)
from collector.report.formatting import (
    MISSING,
    format_count,
    format_date,
    format_money,
    format_number,
    format_percent,
    format_share,
)
from collector.report.labels import LABELS
from collector.report.lang import Lang, Text

__all__ = [
    "ATTEMPT_KINDS",
    "CHECKS",
    "DAY_TYPES",
    "DEVICE_REASONS",
    "DIRECTIONS",
    "KPI_NAMES",
    "PLACES",
    "REASONS",
    "SEAL_COUNTS",
    "SEAL_SIGNED",
    "SEAL_UNSIGNED",
    "SEVERITIES",
    "STATUSES",
    "Catalogue",
    "attempt_kind_text",
    "check_title",
    "day_type_text",
    "device_reason_sentences",
    "direction_text",
    "fill_figures",
    "flag_figure_texts",
    "flag_figures",
    "flag_sentence",
    "format_figure",
    "known_codes",
    "kpi_name",
    "kpi_reasons",
    "label",
    "place_text",
    "reason_sentence",
    "seal_counts",
    "seal_line",
    "severity_text",
    "status_text",
]

STATUSES: Final[dict[str, Text]] = {
    "pass": Text("通过", "Pass"),
    "fail": Text("未通过", "Fail"),
    "insufficient_data": Text("数据不足", "Insufficient data"),
}

SEVERITIES: Final[dict[str, Text]] = {
    "info": Text("提示", "Info"),
    "warning": Text("警告", "Warning"),
    "serious": Text("严重", "Serious"),
}

#: ISO 22400-2 names in the words of the programme's targets (DOMAIN.md).
KPI_NAMES: Final[dict[str, Text]] = {
    "availability": Text("时间开动率（可用率）", "Availability"),
    "performance": Text("性能开动率", "Performance"),
    "quality": Text("合格品率", "Quality rate"),
    "oee": Text("设备综合效率（OEE）", "Overall equipment effectiveness (OEE)"),
    "output_per_planned_hour": Text(
        "生产效率（每计划小时合格品数）", "Output per planned hour (good parts)"
    ),
    "defect_rate": Text("不良品率", "Defect rate"),
    "unplanned_downtime_per_planned_hour": Text(
        "非计划停机时间（每计划小时）", "Unplanned downtime per planned hour"
    ),
    "energy_per_unit": Text("单位产品能耗", "Energy per unit of output"),
}

DIRECTIONS: Final[dict[str, Text]] = {
    "increase": Text("提高", "increase"),
    "decrease": Text("降低", "decrease"),
}

ATTEMPT_KINDS: Final[dict[str, Text]] = {
    "original": Text("首次评审", "Original review"),
    "rectification": Text("整改后复审", "Review after rectification (整改)"),
}

#: Where a day lies against an attempt's periods (document.py ``DayPlace``) and period roles.
PLACES: Final[dict[str, Text]] = {
    "baseline": Text("基期（改造前）", "Baseline (before)"),
    "between": Text("改造实施期", "Retrofit (between periods)"),
    "reporting": Text("报告期（改造后）", "Reporting (after)"),
    "outside": Text("期外", "Outside the periods"),
}

#: Why a KPI has no verdict (method §2–§4). Placeholders are filled by :func:`kpi_reasons`.
REASONS: Final[dict[str, Text]] = {
    "too_few_usable_days": Text(
        "{period}有效天数 {usable_days} 天，少于最低要求 {min_days} 天",
        "{period}: {usable_days} usable days, fewer than the {min_days} required",
    ),
    "reporting_mostly_imported": Text(
        "{period}导入数据占计划时间的 {imported_share}，"
        "超过上限 {limit}：改造后的数据应由采集终端实测",
        "{period}: imported data cover {imported_share} of the scheduled time, more than the "
        "{limit} allowed; after go-live the agent must measure",
    ),
    "downtime_not_measured": Text(
        "{period}未测量：没有一个设备日的计划时间至少 {min_state_code_share} 由状态码测得"
        "（状态由功率、运行信号或计数推断，无法区分故障停机与待机），不以 0 计",
        "{period}: not measured: no device-day had at least {min_state_code_share} of its "
        "planned time measured by a state code (states inferred from power, a run signal or "
        "a counter cannot tell a breakdown from waiting), so it is not taken as 0",
    ),
    "baseline_zero": Text(
        "基期值为零，无法计算相对变化",
        "the baseline value is zero, so a relative change is undefined",
    ),
    "period_value_undefined": Text(
        "期间值无定义（分母为零）", "a period's value is undefined (its denominator is zero)"
    ),
    "energy_model_unusable": Text(
        "无法建立能耗基线模型（基期没有能耗，或模型对报告期产量预测的能耗不为正）",
        "no energy baseline model can be used (no baseline energy, or the model predicts no "
        "energy for the reporting output)",
    ),
    "energy_driver_constant": Text(
        "能耗模型的驱动因素在基期每天取值相同（通常是计划工时：基期只有一种班次安排），"
        "无法估计其系数；实施方案可改为只以产量为驱动因素",
        "a driver of the energy model has the same value on every baseline day (usually "
        "planned hours: the baseline had one shift pattern only), so its coefficient cannot "
        "be estimated; the plan may keep good output as the only driver",
    ),
    "energy_model_fails_g14": Text(
        "能耗基线模型未达到 ASHRAE Guideline 14 要求：CV(RMSE) {cv_rmse}（上限 {cv_limit}），"
        "NMBE {nmbe}（上限 ±{nmbe_limit}）；该模型无法证明节能效果",
        "the energy baseline model fails ASHRAE Guideline 14: CV(RMSE) {cv_rmse} (limit "
        "{cv_limit}), NMBE {nmbe} (limit ±{nmbe_limit}); this model cannot show the savings",
    ),
    "energy_baseline_few_effective_days": Text(
        "能耗基期的等效独立天数 n′ = {n_effective}，少于最低要求 {min_effective_days}"
        "（{n} 个有效天，残差一阶自相关 ρ = {rho}）：基期太短或日间相关太强，无法判定节能",
        "the energy baseline holds n′ = {n_effective} effectively independent days, fewer "
        "than the {min_effective_days} required ({n} usable days, residuals' lag-1 "
        "autocorrelation ρ = {rho}): too short or too autocorrelated to judge a saving",
    ),
    "energy_reporting_outside_baseline_range": Text(
        "报告期 {reporting_days} 天中有 {outside_days} 天（{outside_share}）的产量{hours}"
        "超出基期范围（产量 {output_low} – {output_high}{hours_range}），超过上限 {max_share}："
        "调整后基线将依赖外推（IPMVP）",
        "{outside_days} of {reporting_days} reporting days ({outside_share}) have output"
        "{hours} outside the baseline's range (output {output_low} – {output_high}"
        "{hours_range}), more than the {max_share} allowed: the adjusted baseline would rest "
        "on extrapolation (IPMVP)",
    ),
    "energy_baseline_missing_day_types": Text(
        "报告期有基期未覆盖的运行日类型（基期少于 {min_per_type} 天）：{missing}",
        "the reporting period has day types the baseline does not cover (fewer than "
        "{min_per_type} baseline days): {missing}",
    ),
}

#: The energy baseline's day types (method §4, operating modes).
DAY_TYPES: Final[dict[str, Text]] = {
    "weekday": Text("周一至周五", "Monday to Friday"),
    "saturday": Text("周六", "Saturday"),
    "sunday": Text("周日", "Sunday"),
}


#: Why one device has no value in a period's per-device table (document ``DeviceValueDoc``
#: ``baseline_reasons`` / ``reporting_reasons``); the cell itself says "not measured".
DEVICE_REASONS: Final[dict[str, Text]] = {
    "downtime_not_measured": Text(
        "未测量：该设备在该期各天的计划时间中，由状态码测得的都不足 {min_state_code_share}"
        "（状态由功率、运行信号或计数推断，无法区分故障停机与待机），"
        "因此不计入非计划停机，也不以 0 计",
        "not measured: on each of the period's days a state code measured less than "
        "{min_state_code_share} of the device's planned time (its state was inferred from "
        "power, a run signal or a counter, which cannot tell a breakdown from waiting), so the "
        "device is left out of unplanned downtime, not taken as 0",
    ),
}


@dataclass(frozen=True, slots=True)
class Check:
    """A plausibility check's title, its sentence, and units for figures whose name has none.

    ``units`` maps a figure name to a unit token (module docstring) where the engine's name
    does not carry one, e.g. ``max_performance`` is a share of the ideal.
    """

    title: Text
    sentence: Text
    units: Mapping[str, str] = field(default_factory=dict)


#: The engine's plausibility and anti-fraud checks (docs/evidence-method.md §10,
#: collector/evidence/plausibility/). Flags never change a verdict: they tell the reviewer where
#: to look, with the evidence. The figure names are the engine's.
CHECKS: Final[dict[str, Check]] = {
    "count_faster_than_ideal": Check(
        Text("计数快于理想节拍", "Counts faster than the ideal cycle allows"),
        Text(
            "设备 {device} 有 {days} 天的产量超过理想节拍所允许的上限："
            "最高性能开动率 {max_performance}（上限 {limit}），"
            "理想节拍 {ideal_cycle_s_min} 至 {ideal_cycle_s_max}，"
            "另有 {days_without_run_time} 天有产量而无运行时间",
            "device {device} counted more parts than its ideal cycle allows on {days} days: "
            "highest performance {max_performance} (limit {limit}), ideal cycle "
            "{ideal_cycle_s_min} to {ideal_cycle_s_max}; {days_without_run_time} days had parts "
            "without run time",
        ),
        {"max_performance": "share", "limit": "share"},
    ),
    "energy_not_following_output": Check(
        Text("能耗与产量不相关", "Energy does not follow output"),
        Text(
            "{period}（{period_start}至{period_end}）日能耗与日合格品产量的相关系数仅为 "
            "{correlation}（下限 {limit}，{days_compared} 天，产量变异系数 {output_cv}）："
            "电表可能未计量这些设备",
            "{period} ({period_start} – {period_end}): daily energy and daily good output "
            "correlate at only {correlation} (at least {limit} expected; {days_compared} days, "
            "output varies by {output_cv}): the meter may not measure these machines",
        ),
        {"output_cv": "share", "energy_cv": "share"},
    ),
    "energy_proportional_to_output": Check(
        Text("能耗与产量严格成正比", "Energy exactly proportional to output"),
        Text(
            "{period}（{period_start}至{period_end}）单位产品能耗在 {days_compared} 天中"
            "几乎不变（变异系数 {energy_per_part_cv}），而产量变化 {output_cv}："
            "真实电表总有基础负荷和波动，能耗数据可能由产量推算而非实测",
            "{period} ({period_start} – {period_end}): energy per part hardly varies over "
            "{days_compared} days ({energy_per_part_cv}) while output varies by {output_cv}: a "
            "real meter always sees base load and noise, so the energy may be computed from the "
            "counts rather than measured",
        ),
        {"output_cv": "share", "energy_cv": "share", "energy_per_part_cv": "share"},
    ),
    "identical_days": Check(
        Text("重复或复制的日数据", "Identical or copied days"),
        Text(
            "{copies} 个设备日的全部基础量完全相同（设备 {devices}，来源 {provenances}）："
            "可能是复制的数据",
            "{copies} device-days carry exactly the same quantities (devices {devices}, "
            "provenance {provenances}): likely copied data",
        ),
    ),
    "ideal_cycle_changed": Check(
        Text("理想节拍被修改", "Ideal cycle time changed"),
        Text(
            "设备 {device} 的理想节拍在基期为 {baseline_min_s} 至 {baseline_max_s}，"
            "报告期为 {reporting_min_s} 至 {reporting_max_s}（比值 {ratio}），"
            "首次变化于 {first_changed_day}（距上线 {days_from_go_live} 天）："
            "理想节拍变长会使性能开动率和 OEE 虚高",
            "device {device}'s ideal cycle was {baseline_min_s} to {baseline_max_s} in the "
            "baseline and {reporting_min_s} to {reporting_max_s} after (ratio {ratio}), first "
            "changed on {first_changed_day} ({days_from_go_live} days from go-live): a longer "
            "ideal cycle inflates performance and OEE by itself",
        ),
    ),
    "config_changed_at_go_live": Check(
        Text("上线后采集配置变更", "Agent configuration changed at go-live"),
        Text(
            "第 {attempt} 次评审：设备 {device} 在报告期使用了 {new_digests} 个基期未用过的采集配置"
            "（首次于 {first_change_day}，距上线 {days_from_go_live} 天）："
            "指标变化可能来自配置而非改造",
            "attempt {attempt}: device {device} ran {new_digests} agent configuration(s) the "
            "baseline never used (first on {first_change_day}, {days_from_go_live} days from "
            "go-live): the KPI change may come from the configuration, not the retrofit",
        ),
    ),
    "config_changed_in_period": Check(
        Text("期间内采集配置变更", "Configuration changed within a period"),
        Text(
            "设备 {device} 的采集配置在同一期间内变更 {changes} 次：该期间以两种方式计量",
            "device {device}'s agent configuration changed {changes} times within one period: "
            "the period was measured two ways",
        ),
    ),
    "device_only_in_one_period": Check(
        Text("设备只出现在一个期间", "Device in one period only"),
        Text(
            "第 {attempt} 次评审：设备 {device} 仅在{present_in}有计划时间：前后比较的设备不一致",
            "attempt {attempt}: device {device} has planned time only in the period "
            "“{present_in}”: before and after do not compare the same machines",
        ),
    ),
    "downtime_not_measured": Check(
        Text("非计划停机未测量（状态为推断）", "Unplanned downtime not measured (inferred state)"),
        Text(
            "第 {attempt} 次评审：设备 {device} 的状态由功率、运行信号或计数推断，"
            "状态码只测得这些天计划时间的 {state_code_share}（下限 {min_state_code_share}），"
            "推断无法区分故障停机与待机，故这些设备日不计入非计划停机："
            "基期 {baseline_days} 天、报告期 {reporting_days} 天"
            "（已测量：基期 {baseline_measured_days} 天、报告期 {reporting_measured_days} 天）",
            "attempt {attempt}: device {device} has its state inferred from power, a run signal "
            "or its counter; a state code measured only {state_code_share} of these days' "
            "planned time (at least {min_state_code_share} needed), and inference cannot tell "
            "a breakdown from waiting, so they are left out of unplanned downtime: "
            "{baseline_days} baseline and {reporting_days} reporting days (measured: "
            "{baseline_measured_days} baseline, {reporting_measured_days} reporting days)",
        ),
    ),
    "reporting_imported": Check(
        Text("报告期含导入数据", "Imported data in the reporting period"),
        Text(
            "第 {attempt} 次评审：报告期计划时间中 {imported_share} 为导入数据"
            "（{imported_device_days} 个设备日，设备 {devices}），而非采集终端实测",
            "attempt {attempt}: {imported_share} of the reporting period's scheduled time is "
            "imported ({imported_device_days} device-days, devices {devices}), not measured "
            "by the agent",
        ),
    ),
    "comm_loss_around_go_live": Check(
        Text("上线前后通信中断", "Communication loss around go-live"),
        Text(
            "上线前后 {edge_days} 天内通信中断占计划时间的 {edge_comm_loss_share}"
            "（其余时间 {rest_comm_loss_share}），无数据的天占 {edge_missing_share}"
            "（其余时间 {rest_missing_share}）",
            "in the {edge_days} days around go-live communication was lost for "
            "{edge_comm_loss_share} of the scheduled time (elsewhere {rest_comm_loss_share}) "
            "and {edge_missing_share} of the days have no data (elsewhere {rest_missing_share})",
        ),
    ),
    "seq_gap": Check(
        Text("批次序号缺口", "Sequence gaps"),
        Text(
            "采集终端 {agent} 有 {open_gaps} 处未补齐的序号缺口，共缺 {missing_seqs} 个批次"
            "（最高序号 {highest_seq}，缺失占 {missing_share}）",
            "agent {agent} has {open_gaps} open sequence gaps, {missing_seqs} batches never "
            "received (highest seq {highest_seq}; {missing_share} missing)",
        ),
    ),
    "quarantined_messages": Check(
        Text("被隔离的消息", "Quarantined messages"),
        Text(
            "采集终端 {agent} 有 {messages} 条消息被收集端拒收隔离（原因代码 {reason}）",
            "{messages} messages for agent {agent} were rejected into quarantine (reason {reason})",
        ),
    ),
    "clock_jump": Check(
        Text("时钟跳变", "Clock jumps"),
        Text(
            "设备 {device} 的采集终端在 {days} 天中记录了 {jumps} 次时钟跳变",
            "device {device}'s agent saw its clock step {jumps} times on {days} days",
        ),
    ),
    "day_seal_differs": Check(
        Text("日数据与日封存不一致", "Daily data differ from the day seal"),
        Text(
            "设备 {device} 有 {device_days} 个设备日的库存日汇总与采集终端 {agent} 签名的日封存"
            "不一致（{fields}）；这些天保留库存数值",
            "device {device}: on {device_days} device-days the stored daily sums differ from "
            "the day seal agent {agent} signed ({fields}); those days keep the stored figures",
        ),
    ),
    "device_days_unsealed": Check(
        Text("未封存的设备日", "Device-days without a day seal"),
        Text(
            "设备 {device} 有 {device_days} 个设备日没有采集终端 {agent} 的日封存，"
            "其数值仅凭收集端",
            "device {device}: {device_days} device-days have no day seal from agent {agent}; "
            "their figures rest on the collector alone",
        ),
    ),
}

#: A bundle's device-days by seal outcome (:func:`seal_counts`), in both languages.
SEAL_COUNTS: Final = Text(
    "已封存设备日 {sealed} 个，其中不一致 {different} 个，未封存 {unsealed} 个",
    "{sealed} device-days sealed, {different} different, {unsealed} unsealed",
)
SEAL_SIGNED: Final = Text("由 {fingerprint} 签名", "signed by {fingerprint}")
SEAL_UNSIGNED: Final = Text("未签名", "unsigned")


def seal_counts(seals: SealsDoc | None, lang: Lang) -> str:
    """``N device-days sealed, M different, K unsealed``: N counts every sealed device-day
    (equal or not), M those of them that differ. Without a seal check (``seals`` None: a
    document made without one) every count is 0."""
    equal, different, unsealed = (
        (0, 0, 0) if seals is None else (seals.sealed_equal, seals.sealed_different, seals.unsealed)
    )
    return SEAL_COUNTS.get(lang).format(
        sealed=format_count(equal + different),
        different=format_count(different),
        unsealed=format_count(unsealed),
    )


def seal_line(seals: SealsDoc | None, fingerprint: str | None, lang: Lang) -> str:
    """One bundle's line: ``signed by SHA256:… · `` (or ``unsigned · ``) and
    :func:`seal_counts`. The fingerprint is the signer's, which the document cannot know (the
    signature covers it): the command that writes the bundle prints this line."""
    signed = (
        SEAL_UNSIGNED.get(lang)
        if fingerprint is None
        else SEAL_SIGNED.get(lang).format(fingerprint=fingerprint)
    )
    return f"{signed} · {seal_counts(seals, lang)}"


def known_codes() -> dict[str, frozenset[str]]:
    """Every code the catalogue has words for, by kind (for completeness tests)."""
    return {
        "status": frozenset(STATUSES),
        "severity": frozenset(SEVERITIES),
        "kpi": frozenset(KPI_NAMES),
        "direction": frozenset(DIRECTIONS),
        "attempt_kind": frozenset(ATTEMPT_KINDS),
        "place": frozenset(PLACES),
        "day_type": frozenset(DAY_TYPES),
        "reason": frozenset(REASONS),
        "device_reason": frozenset(DEVICE_REASONS),
        "check": frozenset(CHECKS),
        "label": frozenset(LABELS),
    }


def _word(table: Mapping[str, Text], code: str, lang: Lang) -> str:
    # An unknown code shows as itself: a reviewer sees that something is untranslated, and
    # what, instead of a blank.
    text = table.get(code)
    return code if text is None else text.get(lang)


def status_text(code: str, lang: Lang) -> str:
    """A verdict's word: ``pass`` → 通过 / Pass."""
    return _word(STATUSES, code, lang)


def severity_text(code: str, lang: Lang) -> str:
    """A flag's severity: ``serious`` → 严重 / Serious."""
    return _word(SEVERITIES, code, lang)


def kpi_name(code: str, lang: Lang) -> str:
    """A KPI's name: ``oee`` → 设备综合效率（OEE）."""
    return _word(KPI_NAMES, code, lang)


def direction_text(code: str, lang: Lang) -> str:
    """A target's direction: ``increase`` → 提高."""
    return _word(DIRECTIONS, code, lang)


def attempt_kind_text(code: str, lang: Lang) -> str:
    """``original`` → 首次评审; ``rectification`` → 整改后复审."""
    return _word(ATTEMPT_KINDS, code, lang)


def place_text(code: str, lang: Lang) -> str:
    """A period role or day place: ``baseline`` → 基期（改造前）."""
    return _word(PLACES, code, lang)


def day_type_text(code: str, lang: Lang) -> str:
    """A day type's words (method §4: Monday to Friday, Saturday, Sunday)."""
    return _word(DAY_TYPES, code, lang)


def check_title(code: str, lang: Lang) -> str:
    """A plausibility check's title."""
    check = CHECKS.get(code)
    return code if check is None else check.title.get(lang)


def label(key: str, lang: Lang) -> str:
    """A fixed label of the reports (headings, column headers); KeyError when unknown.

    Unlike codes from the document, labels come from our own templates: a missing one is a
    bug to catch in tests, not something to show.
    """
    return LABELS[key].get(lang)


class _Blank(dict[str, str]):
    """Figures for a sentence: a placeholder without its figure shows the em dash."""

    def __missing__(self, key: str) -> str:
        return MISSING


def fill_figures(template: str, figures: Mapping[str, str]) -> str:
    """``template`` with its ``{name}`` placeholders filled; a missing figure shows the dash."""
    # vformat substitutes values, it never parses them: a hostile device name stays text.
    return string.Formatter().vformat(template, (), _Blank(figures))


def reason_sentence(code: str, lang: Lang, figures: Mapping[str, str] | None = None) -> str:
    """A reason's sentence with its figures (already formatted); an unknown code as itself."""
    text = REASONS.get(code)
    return code if text is None else fill_figures(text.get(lang), figures or {})


def device_reason_sentences(kpi: KpiDoc, method: MethodDoc, lang: Lang) -> list[str]:
    """One sentence per reason a device of the KPI's per-device table has no value for, in
    the order first met; an unknown code as itself."""
    codes: list[str] = []
    for device in kpi.devices:
        for code in (*device.baseline_reasons, *device.reporting_reasons):
            if code not in codes:
                codes.append(code)
    figures = {"min_state_code_share": format_share(method.min_state_code_share, 0, lang)}
    return [
        code
        if code not in DEVICE_REASONS
        else fill_figures(DEVICE_REASONS[code].get(lang), figures)
        for code in codes
    ]


def _period_figures(period: SufficiencyDoc, method: MethodDoc, lang: Lang) -> dict[str, str]:
    return {
        "period": place_text(period.role, lang),
        "usable_days": format_count(period.usable_days),
        "min_days": format_count(period.min_days),
        "imported_share": format_share(period.imported_share, 1, lang),
        "limit": format_share(method.max_reporting_imported_share, 0, lang),
        "min_state_code_share": format_share(method.min_state_code_share, 0, lang),
    }


def _model_figures(kpi: KpiDoc, method: MethodDoc, lang: Lang) -> dict[str, str]:
    if kpi.energy is None:
        return {}
    model = kpi.energy.model
    figures = {
        "cv_rmse": format_percent(model.cv_rmse_pct, 2, lang),
        "cv_limit": format_percent(method.g14_max_cv_rmse_pct, 0, lang),
        "nmbe": format_percent(model.nmbe_pct, 3, lang),
        "nmbe_limit": format_percent(method.g14_max_abs_nmbe_pct, 1, lang),
        "n": format_count(model.n),
        "rho": format_number(model.rho, 3),
        "output_low": format_number(model.output_range[0], 0),
        "output_high": format_number(model.output_range[1], 0),
        "hours": _or_hours(model.hours_range is not None, lang),
        "hours_range": _hours_range_text(model.hours_range, lang),
    }
    check = kpi.energy.baseline_check
    if check is not None:
        figures |= {
            "n_effective": format_number(check.n_effective, 1),
            "min_effective_days": format_number(check.min_effective_days, 0),
            "reporting_days": format_count(check.reporting_days),
            "outside_days": format_count(check.outside_days),
            "outside_share": format_share(check.outside_share, 1, lang),
            "max_share": format_share(check.max_outside_share, 0, lang),
            "min_per_type": format_count(method.min_baseline_days_per_type),
            "missing": ("、" if lang == "zh-CN" else ", ").join(
                day_type_text(kind, lang) for kind in check.missing_day_types
            ),
        }
    return figures


def _or_hours(with_hours: bool, lang: Lang) -> str:
    if not with_hours:
        return ""
    return "或计划工时" if lang == "zh-CN" else " or planned hours"


def _hours_range_text(hours: tuple[float, float] | None, lang: Lang) -> str:
    if hours is None:
        return ""
    low, high = format_number(hours[0], 1), format_number(hours[1], 1)
    return (
        f"，计划工时 {low} – {high} h" if lang == "zh-CN" else f", planned hours {low} – {high} h"
    )


def kpi_reasons(kpi: KpiDoc, method: MethodDoc, lang: Lang) -> list[str]:
    """The sentences behind a KPI's ``insufficient_data`` (or any reason it carries).

    A period's reasons quote that period's figures; the others (``baseline_zero``, the energy
    model) quote the change or model. Each reason the document lists gives one sentence.
    """
    sentences: list[str] = []
    remaining = list(kpi.reasons)
    for period in (kpi.baseline, kpi.reporting):
        for code in period.reasons:
            sentences.append(reason_sentence(code, lang, _period_figures(period, method, lang)))
            if code in remaining:
                remaining.remove(code)
    for code in remaining:
        sentences.append(reason_sentence(code, lang, _model_figures(kpi, method, lang)))
    return sentences


def format_figure(
    name: str, value: float | int | str | None, lang: Lang, unit: str | None = None
) -> str:
    """One figure of a flag, formatted by the unit its name carries (module docstring).

    ``unit`` overrides the name's unit token (a check's ``units``). Strings are shown as
    given, except an ISO date (as a date) and a period role in ``period`` or ``present_in``.
    """
    if value is None:
        return MISSING
    if isinstance(value, str):
        return _string_text(name, value, lang)
    if isinstance(value, bool):
        return label("yes" if value else "no", lang)
    return _number_text(unit or _unit_token(name), value, lang)


_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_RECTIFICATION_ROLE: Final = re.compile(r"rectification_(\d+)")
#: Figures whose string value is a period role (the engine's ``baseline``, ``reporting``,
#: ``rectification_N``), translated; any other string stays as the document has it.
_ROLE_FIGURES: Final = frozenset({"period", "present_in"})


def _string_text(name: str, value: str, lang: Lang) -> str:
    if _ISO_DATE.fullmatch(value):
        try:
            return format_date(dt.date.fromisoformat(value), lang)
        except ValueError:
            return value
    if name in _ROLE_FIGURES:
        if value in PLACES:
            return place_text(value, lang)
        match = _RECTIFICATION_ROLE.fullmatch(value)
        if match:
            return label("rectification_period", lang).format(number=int(match[1]) + 1)
    return value


_UNIT_TOKENS: Final[dict[str, Text]] = {
    "s": Text(" 秒", " s"),
    "h": Text(" 小时", " h"),
    "kwh": Text(" 千瓦时", " kWh"),
    "pp": Text("个百分点", " pp"),
}


def _unit_token(name: str) -> str | None:
    """The unit a figure's name carries: its last token that names a unit.

    ``comm_loss_s`` → ``s``; ``ideal_cycle_s_before`` → ``s``; ``max_performance_share`` →
    ``share``; ``digests_before`` → None.
    """
    units = {"share", "pct", "fen", *_UNIT_TOKENS}
    return next((token for token in reversed(name.split("_")) if token in units), None)


def _number_text(unit: str | None, value: float | int, lang: Lang) -> str:
    if unit == "share":
        return format_share(float(value), 1, lang)
    if unit == "pct":
        return format_percent(float(value), 1, lang)
    if unit == "fen" and isinstance(value, int):
        return format_money(value, lang)
    if unit in _UNIT_TOKENS:
        digits = 3 if abs(value) < 10 else 1
        return format_number(float(value), digits) + _UNIT_TOKENS[unit].get(lang)
    if isinstance(value, int):
        return format_count(value)
    return format_number(value, 3 if abs(value) < 100 else 1)


def flag_figure_texts(flag: FlagDoc, lang: Lang) -> dict[str, str]:
    """The flag's own figures, formatted with its check's units, in name order."""
    check = CHECKS.get(flag.check)
    units: Mapping[str, str] = {} if check is None else check.units
    texts = {
        name: format_figure(name, flag.figures[name], lang, units.get(name))
        for name in sorted(flag.figures)
    }
    if isinstance(flag.figures.get("kpi"), str):
        texts["kpi"] = kpi_name(str(flag.figures["kpi"]), lang)
    return texts


def flag_figures(flag: FlagDoc, lang: Lang) -> dict[str, str]:
    """A flag's figures, formatted, plus ``device``, ``day_count``, ``first_day``, ``last_day``.

    ``kpi`` (a code) becomes its name. Keys in name order, for a stable listing.
    """
    figures = flag_figure_texts(flag, lang)
    days = sorted(flag.days)
    figures.setdefault("device", flag.device or MISSING)
    figures.setdefault("day_count", format_count(len(days)))
    figures.setdefault("first_day", format_date(days[0], lang) if days else MISSING)
    figures.setdefault("last_day", format_date(days[-1], lang) if days else MISSING)
    return figures


def flag_sentence(flag: FlagDoc, lang: Lang) -> str:
    """What a flag found, in a sentence quoting its figures.

    An unknown check gives its code and its figures as ``name = value`` pairs.
    """
    check = CHECKS.get(flag.check)
    figures = flag_figures(flag, lang)
    if check is not None:
        return fill_figures(check.sentence.get(lang), figures)
    pairs = "; ".join(f"{name} = {text}" for name, text in flag_figure_texts(flag, lang).items())
    return f"{flag.check}: {pairs}" if pairs else flag.check


class Catalogue:
    """The catalogue bound to one language, as templates use it: ``tr.status("pass")``."""

    __slots__ = ("lang",)

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang

    def label(self, key: str) -> str:
        """A fixed label (:func:`label`)."""
        return label(key, self.lang)

    def status(self, code: str) -> str:
        """A verdict's word."""
        return status_text(code, self.lang)

    def severity(self, code: str) -> str:
        """A flag severity's word."""
        return severity_text(code, self.lang)

    def kpi(self, code: str) -> str:
        """A KPI's name."""
        return kpi_name(code, self.lang)

    def direction(self, code: str) -> str:
        """A target direction's word."""
        return direction_text(code, self.lang)

    def attempt_kind(self, code: str) -> str:
        """An attempt kind's words."""
        return attempt_kind_text(code, self.lang)

    def place(self, code: str) -> str:
        """A period role's or day place's words."""
        return place_text(code, self.lang)

    def check(self, code: str) -> str:
        """A check's title."""
        return check_title(code, self.lang)

    def flag(self, flag: FlagDoc) -> str:
        """A flag's sentence."""
        return flag_sentence(flag, self.lang)

    def reasons(self, kpi: KpiDoc, method: MethodDoc) -> list[str]:
        """A KPI's reasons as sentences."""
        return kpi_reasons(kpi, method, self.lang)

    def device_reasons(self, kpi: KpiDoc, method: MethodDoc) -> list[str]:
        """Why devices of the KPI's per-device table have no value, as sentences."""
        return device_reason_sentences(kpi, method, self.lang)

    def seal_counts(self, seals: SealsDoc | None) -> str:
        """A bundle's device-days by seal outcome (:func:`seal_counts`)."""
        return seal_counts(seals, self.lang)

    def flag_figures(self, flag: FlagDoc) -> dict[str, str]:
        """A flag's own figures, formatted (:func:`flag_figure_texts`)."""
        return flag_figure_texts(flag, self.lang)
