"""Fixed labels of the reports (headings, column headers, notes), in both languages.

Part of the catalogue (:mod:`collector.report.i18n` re-exports it): the codes of the document
live there, the words of our own pages here. ``{name}`` placeholders are filled with
``str.format`` by the templates, with figures already formatted.
"""

from __future__ import annotations

from typing import Final

from collector.report.digital_labels import DIGITAL_LEVEL_LABELS
from collector.report.lang import Text

__all__ = ["LABELS"]

LABELS: Final[dict[str, Text]] = {
    # Page frame.
    "programme": Text(
        "中小企业数字化转型试点 · 改造成效核验（工信厅联企业〔2022〕22号）",
        "SME digital-transformation pilot · retrofit verification (MIIT/MoF 2022 No. 22)",
    ),
    "title.enterprise": Text("试点企业改造成效证据报告", "Retrofit evidence report"),
    "title.platform": Text("服务平台汇总与补助测算", "Service platform roll-up and subsidy"),
    "title.province": Text("省级汇总", "Province summary"),
    "lang_name": Text("中文", "English"),
    "renders": Text("本报告呈现", "This report renders"),
    "yes": Text("是", "yes"),
    "sep": Text("，", ", "),
    "semicolon": Text("；", "; "),
    "colon": Text("：", ": "),
    "dash": Text("——", " — "),
    "no": Text("否", "no"),
    "rectification_period": Text(
        "第 {number} 次评审报告期", "reporting period of attempt {number}"
    ),
    "more_days": Text("等，另有 {count} 天", "and {count} more"),
    # Verdict.
    "verdict.heading": Text("结论", "Verdict"),
    "verdict.enterprise": Text("企业结论：", "Enterprise verdict:"),
    "verdict.decided_by": Text(
        "由第 {attempt} 次评审（{kind}，报告期 {period}）决定。",
        "Decided by attempt {attempt} ({kind}, reporting period {period}).",
    ),
    "verdict.change": Text("变化", "change"),
    "verdict.interval": Text("95% 判定区间", "decisive 95 % interval"),
    "verdict.target": Text("目标", "target"),
    "verdict.no_required": Text(
        "实施方案未设定必选指标，无法判定。", "The plan sets no required target: no verdict."
    ),
    "verdict.rule": Text(
        "判定规则：所有必选指标均通过则企业通过；任一必选指标未通过则企业未通过；否则为数据不足。"
        "指标通过的条件是变化的 95% 判定区间"
        "（自助法、HAC 与等效独立天数区间的并集）的保守边界达到目标。",
        "Rule: the enterprise passes when every required target passes, fails when any "
        "required target fails, and otherwise has insufficient data. A target passes when "
        "the conservative bound of the change's decisive 95 % interval (the union of the "
        "bootstrap, HAC and effective-days intervals) reaches the target.",
    ),
    "verdict.flags_note": Text(
        "可信性检查发现 {count} 项（其中严重 {serious} 项）。检查结果不改变结论，由评审专家研判。",
        "Plausibility flags raised: {count} ({serious} serious). Flags do not change the "
        "verdict; they are for the reviewer to weigh.",
    ),
    # Attempts.
    "attempts.caption": Text("评审记录（含整改）", "Review attempts (including rectification)"),
    "attempts.number": Text("次序", "Attempt"),
    "attempts.kind": Text("类型", "Kind"),
    "attempts.rectification_date": Text("整改完成日期", "Rectification date"),
    "attempts.reporting": Text("报告期", "Reporting period"),
    "attempts.status": Text("结论", "Verdict"),
    "attempt.heading": Text("第 {number} 次评审", "Attempt {number}"),
    # Plan record.
    "plan.heading": Text("实施方案记录", "Implementation plan record"),
    "plan.enterprise": Text("试点企业", "Pilot enterprise"),
    "plan.industry": Text("所属行业", "Industry"),
    "plan.solution": Text("改造方案", "Solution"),
    "plan.platform": Text("服务平台", "Service platform"),
    "plan.sub_industry": Text("细分行业", "Sub-industry"),
    "plan.province": Text("省份", "Province"),
    "plan.batch": Text("批次年度", "batch"),
    "plan.cost": Text("实际改造费用", "Actual retrofit cost"),
    "plan.baseline": Text("基期（改造前）", "Baseline period (before)"),
    "plan.go_live": Text("上线日期", "Go-live date"),
    "plan.reporting": Text("报告期（改造后）", "Reporting period (after)"),
    "plan.timezone": Text("时区", "Time zone"),
    "targets.caption": Text("绩效目标", "Performance targets"),
    "targets.kpi": Text("指标", "KPI"),
    "targets.target": Text("目标", "Target"),
    "targets.required": Text("必选", "Required"),
    "targets.boundary.devices": Text(
        "测量边界：各设备自身的电表与计数（IPMVP 方案 B）",
        "boundary: each device's own meter and counters (IPMVP option B)",
    ),
    "targets.boundary.facility": Text(
        "测量边界：厂级电表 {meters} 对全部计数设备（IPMVP 方案 C）",
        "boundary: the facility meters {meters} against every counting device (IPMVP option C)",
    ),
    "targets.drivers": Text(
        "基线模型调整变量：{drivers}", "the baseline model adjusts for {drivers}"
    ),
    "targets.driver.good_count": Text("合格品产量", "good output"),
    "targets.driver.planned_h": Text("计划工时", "planned hours"),
    # KPI table.
    "kpis.caption": Text("指标结果", "KPI results"),
    "kpis.kpi": Text("指标", "KPI"),
    "kpis.required": Text("（必选）", "(required)"),
    "kpis.baseline": Text("基期值", "Baseline"),
    "kpis.reporting": Text("报告期值", "Reporting"),
    "kpis.change": Text("变化", "Change"),
    "kpis.interval": Text("[95% 判定区间]", "[decisive 95 % interval]"),
    "kpis.target": Text("目标", "Target"),
    "kpis.mde": Text("最小可检测效应", "MDE"),
    "kpis.needed": Text("80%通过所需", "needed for 80 % pass"),
    "kpis.status": Text("结论", "Verdict"),
    "kpis.note": Text(
        "期间值为该期间有效天基础量之和的比值（非日值平均）。"
        "单位产品能耗的变化为相对于产量调整基线的节能量。"
        "最小可检测效应（MDE）为现有数据以 80% 把握能检测到的最小真实变化；"
        "真实变化约为“目标 + MDE”时，通过概率约为 80%。",
        "A period's value is the ratio of the sums of its usable days (not a mean of daily "
        "values). For energy per unit the change is the saving against the "
        "production-adjusted baseline. The MDE is the smallest true change these data detect "
        "four times in five; a true change of about target + MDE passes about 80 % of the time.",
    ),
    # Sufficiency.
    "sufficiency.heading": Text("数据充分性", "Data sufficiency"),
    "sufficiency.period": Text("期间", "Period"),
    "sufficiency.calendar_days": Text("日历天数", "Calendar days"),
    "sufficiency.scheduled_days": Text("排产天数", "Scheduled days"),
    "sufficiency.usable_days": Text("有效天数 / 最低要求", "Usable days / minimum"),
    "sufficiency.coverage": Text("覆盖率", "Coverage"),
    "sufficiency.imported_share": Text("导入数据占比", "Imported share"),
    "sufficiency.comm_loss_share": Text("通信中断占比", "Communication-loss share"),
    "sufficiency.value": Text("期间值", "Period value"),
    "oee.availability_performance": Text(
        "可用率 × 性能率（Σ理想时间 / Σ计划时间）",
        "Availability × performance (Σ ideal time / Σ planned time)",
    ),
    "oee.quality_factor": Text(
        "OEE 的质量系数（按理想节拍加权）", "Quality factor of the OEE (weighted by ideal cycle)"
    ),
    "oee.count_quality": Text("合格率（件数比）", "Quality (count ratio)"),
    "oee.note": Text(
        "OEE = Σ(理想节拍 × 合格品数) / Σ计划时间（ISO 22400-2）"
        "= 可用率 × 性能率 × OEE 的质量系数。各设备理想节拍不同时，"
        "该系数按理想时间加权，与按件数计算的合格率不同；质量指标仍为合格率。",
        "OEE = Σ(ideal cycle × good parts) / Σ planned time (ISO 22400-2) = availability × "
        "performance × the OEE's quality factor. Where devices' ideal cycles differ, that factor "
        "weighs each part by its ideal time and differs from the count-ratio quality, which "
        "remains the quality KPI.",
    ),
    "sufficiency.note": Text(
        "有效天：有排产、覆盖率不低于 {coverage}、当日指标有定义。"
        "报告期导入数据占比不得超过 {imported}。",
        "A usable day has a schedule, coverage of at least {coverage} and a defined value. "
        "At most {imported} of the reporting period may be imported data.",
    ),
    # Change.
    "change.heading": Text("变化与不确定性", "Change and its uncertainty"),
    "change.method": Text("方法", "Method"),
    "change.estimate": Text("估计值", "Estimate"),
    "change.interval": Text("{confidence} 置信区间", "{confidence} interval"),
    "change.se": Text("标准误", "Standard error"),
    "change.settings": Text("参数", "Settings"),
    "change.bootstrap": Text("移动块自助法（主方法）", "Moving-block bootstrap (primary)"),
    "change.bootstrap_settings": Text(
        "块长 基期 {lb} 天 / 报告期 {lr} 天；"
        "重抽样 {replicates} 次；随机种子 {seed}；"
        "未定义重抽样 {undefined} 次",
        "block length {lb} d baseline / {lr} d reporting; {replicates} replicates; seed "
        "{seed}; {undefined} undefined replicates",
    ),
    "change.hac": Text("Newey–West HAC（交叉验证）", "Newey–West HAC (cross-check)"),
    "change.hac_settings": Text("最大滞后 {maxlags}", "maxlags {maxlags}"),
    "change.effective": Text(
        "等效独立天数区间（小样本校正）", "Effective days (small-sample correction)"
    ),
    "change.effective_settings": Text(
        "等效独立天数 基期 {nb} / 报告期 {nr}；滞后 1 阶自相关 {rb} / {rr}；自由度 {dof}",
        "effective days {nb} baseline / {nr} reporting; lag-1 autocorrelation {rb} / {rr}; "
        "{dof} degrees of freedom",
    ),
    "change.note": Text(
        "最小可检测效应 {mde} = {factor} × 最大标准误（检验把握度 {power}）。"
        "判定区间为各区间的并集：只有各方法一致时才能通过。",
        "Minimum detectable effect {mde} = {factor} × the largest standard error (power "
        "{power}). The decisive interval is the union of the intervals: a pass needs every "
        "method to agree.",
    ),
    # Energy.
    "energy.heading": Text(
        "能耗模型（产量调整基线，IPMVP B/C，ASHRAE Guideline 14）",
        "Energy model (production-adjusted baseline, IPMVP B/C, ASHRAE Guideline 14)",
    ),
    "energy.model": Text("基期回归模型：", "Baseline regression:"),
    "energy.fit_days": Text("基期 {n} 天，参数 {p} 个", "{n} baseline days, {p} parameters"),
    "energy.g14_caption": Text(
        "Guideline 14 拟合统计量与限值", "Guideline 14 fit statistics and limits"
    ),
    "energy.statistic": Text("统计量", "Statistic"),
    "energy.value": Text("数值", "Value"),
    "energy.limit": Text("限值", "Limit"),
    "energy.within": Text("满足", "Within"),
    "energy.no_limit": Text("不设限值（仅报告）", "no limit (reported)"),
    "energy.fsu": Text("节能量相对不确定度（68%）", "Fractional savings uncertainty (68 %)"),
    "energy.rho": Text("残差一阶自相关 ρ", "Lag-1 autocorrelation of residuals ρ"),
    "energy.output_range": Text("基期日产量范围", "Baseline daily output range"),
    "energy.extrapolated": Text(
        "报告期超出范围 {days} 天（外推）", "{days} reporting days outside it (extrapolated)"
    ),
    "energy.hours_range": Text("基期日计划工时范围（小时）", "Baseline daily planned hours (h)"),
    "energy.outside_share": Text(
        "报告期产量（或计划工时）超出基期范围的天数",
        "Reporting days with drivers outside that range",
    ),
    "energy.day_types": Text("基期各类运行日天数", "Baseline days per day type"),
    "energy.day_types_limit": Text(
        "报告期出现的每类 ≥ {days} 天", "≥ {days} of each type the reporting period has"
    ),
    "energy.dof": Text("节能量区间 t 分布自由度", "t degrees of freedom of the savings interval"),
    "energy.dof_convention": Text(
        "n − p，按 Guideline 14 附录 B（与 eemeter 相同）",
        "n − p, as Guideline 14 Annex B (and eemeter)",
    ),
    "energy.meets_g14": Text(
        "模型满足 Guideline 14 拟合要求：", "Model meets Guideline 14 fit limits:"
    ),
    "energy.savings_caption": Text(
        "报告期节能量（{days} 个有效天）", "Savings over the reporting period ({days} usable days)"
    ),
    "energy.adjusted_baseline": Text("调整后基线能耗", "Adjusted baseline energy"),
    "energy.actual": Text("实际能耗", "Actual energy"),
    "energy.avoided": Text("节约能耗", "Avoided energy"),
    "energy.savings": Text("节能率", "Savings"),
    "energy.at95": Text("95% 置信", "95 % confidence"),
    "energy.at68": Text("68% 置信", "68 % confidence"),
    "energy.note": Text(
        "调整后基线 = 基期模型代入报告期实际产量（及计划工时，若为驱动因素）的预测能耗之和；"
        "节能率 = 节约能耗 / 调整后基线。"
        "不确定度按 Guideline 14 附录 B 计算，并按残差自相关修正有效样本数 n′。",
        "Adjusted baseline = the baseline model's energy at the reporting period's actual "
        "output (and planned hours, when a driver), summed; savings = avoided / adjusted "
        "baseline. Uncertainty per Guideline 14 Annex B, with the effective number of days n′ "
        "corrected for autocorrelation.",
    ),
    # Devices.
    "devices.heading": Text("各设备数值", "Per device"),
    "devices.device": Text("设备", "Device"),
    "devices.note": Text(
        "各设备数值仅供参考，不参与判定；企业值为各设备基础量之和的比值。",
        "Shown for reference; they do not decide. The enterprise value is the ratio of the "
        "devices' summed base quantities.",
    ),
    "devices.energy_kwh": Text("能耗（kWh）", "Energy (kWh)"),
    "devices.good_count": Text("合格品产量", "Good output"),
    "devices.facility_note": Text(
        "设施边界（IPMVP 方案 C）：能耗只在所列计量表处计量，单台设备没有自己的单位产品能耗。"
        "表中列出各计量表的能耗与各计数设备的合格品产量（有效天之和），"
        "企业值 = 能耗之和 ÷ 合格品之和。",
        "On the facility boundary (IPMVP option C) energy is measured only at the listed "
        "meters, so no device has an energy per unit of its own. Listed: each meter's energy "
        "and each counting device's good output, summed over the usable days; the enterprise "
        "value is the energy's sum divided by the output's sum.",
    ),
    # Charts.
    "chart.go_live": Text("上线", "go-live"),
    "chart.rectification": Text("整改", "rectification"),
    "chart.no_data": Text("无数据", "no data"),
    "chart.not_usable": Text("未计入（覆盖率不足）", "not usable (low coverage)"),
    "chart.period_value": Text("期间值", "period value"),
    "chart.target_level": Text("达标水平", "target level"),
    "chart.daily_title": Text("日值（改造前后）", "daily values before and after"),
    "chart.daily_desc": Text(
        "基期值 {baseline}（{baseline_days} 个有效天），"
        "报告期值 {reporting}（{reporting_days} 个有效天），"
        "上线日期 {go_live}。",
        "Baseline value {baseline} over {baseline_days} usable days, reporting value "
        "{reporting} over {reporting_days} usable days, go-live {go_live}.",
    ),
    "chart.daily_caption": Text(
        "每个点为一天的企业值（当日基础量之和的比值）。"
        "浅色底为基期与报告期；实线为期间值；"
        "虚线为恰好达到目标的报告期水平；"
        "空心点为未计入的天。",
        "Each point is one enterprise-day (ratio of that day's sums). Shaded: baseline and "
        "reporting periods; solid lines: period values; dashed: the reporting level that "
        "would just meet the target; hollow points: days that do not count.",
    ),
    "chart.energy_title": Text("能耗基线模型拟合", "Energy baseline model fit"),
    "chart.energy_x": Text("日合格品产量（件）", "Daily good output (parts)"),
    "chart.energy_y": Text("千瓦时", "kWh"),
    "chart.energy_model": Text("基期模型", "baseline model"),
    "chart.extrapolated": Text("外推", "extrapolated"),
    "chart.energy_desc": Text(
        "基期 {baseline_days} 天拟合，R² {r_squared}，"
        "CV(RMSE) {cv_rmse}%；报告期 {reporting_days} 天，"
        "节能率 {savings}%。",
        "Fitted on {baseline_days} baseline days, R² {r_squared}, CV(RMSE) {cv_rmse} %; "
        "{reporting_days} reporting days, savings {savings} %.",
    ),
    "chart.energy_caption": Text(
        "每个点为一天：横轴为合格品产量，"
        "纵轴为能耗。报告期的点低于模型线，"
        "表示在相同产量下比改造前用能更少。",
        "Each point is one day: good output across, energy up. Reporting days below the model "
        "line used less energy than before the retrofit for the same output.",
    ),
    "chart.pass_title": Text("通过企业数与最低要求", "Passed enterprises against the minimum"),
    "chart.passed_of": Text("通过 {passed} / {total} 家", "{passed} of {total} passed"),
    "chart.minimum": Text("最低要求 {minimum} 家", "minimum {minimum}"),
    "chart.pass_desc": Text(
        "{total} 家企业中 {passed} 家通过；最低要求 {minimum} 家。",
        "{passed} of {total} enterprises passed; the minimum is {minimum}.",
    ),
    # Flags.
    "flags.heading": Text("可信性与防造假检查", "Plausibility and anti-fraud checks"),
    "flags.note": Text(
        "服务平台按结果获得补助，因此系统对数据进行可信性检查。"
        "检查结果附证据，不自动改变结论，"
        "由评审专家研判。",
        "The service platform is paid by the result, so the data are checked for "
        "plausibility. Each flag comes with its evidence; flags never change the verdict by "
        "themselves, the reviewer weighs them.",
    ),
    "flags.severity": Text("严重程度", "Severity"),
    "flags.check": Text("检查项", "Check"),
    "flags.finding": Text("发现", "Finding"),
    "flags.days": Text("日期", "Days"),
    "flags.figures": Text("证据数值", "Figures"),
    "flags.none": Text("未发现问题。", "No flags."),
    # Integrity.
    "integrity.heading": Text("数据完整性", "Data integrity"),
    "agents.caption": Text("已登记的采集终端", "Registered agents"),
    "agents.agent": Text("采集终端", "Agent"),
    "agents.devices": Text("设备", "Devices"),
    "agents.key": Text("公钥（Ed25519）", "Public key (Ed25519)"),
    "agents.revoked": Text("已吊销", "Revoked"),
    "agents.none": Text("无已登记的采集终端。", "No registered agent."),
    "gaps.caption": Text("批次序号缺口", "Batch sequence gaps"),
    "gaps.first": Text("起始序号", "First seq"),
    "gaps.last": Text("结束序号", "Last seq"),
    "gaps.missing": Text("缺失批次数", "Missing batches"),
    "gaps.closed": Text("已关闭", "Closed"),
    "gaps.none": Text("无序号缺口。", "No sequence gaps."),
    "seals.heading": Text("日封存", "Day seals"),
    "gaps.note": Text(
        "每个批次都带有采集终端的签名和连续序号；缺口表示收集端从未收到的批次。",
        "Every batch is signed by its agent and numbered in sequence; a gap is batches the "
        "collector never received.",
    ),
    "quarantine.caption": Text("被隔离的消息", "Quarantined messages"),
    "quarantine.reason": Text("原因代码", "Reason code"),
    "quarantine.messages": Text("消息数", "Messages"),
    "quarantine.none": Text("无被隔离的消息。", "No quarantined messages."),
    # Subsidy.
    "subsidy.heading": Text("补助测算", "Subsidy"),
    "subsidy.passed": Text("改造通过验收", "Retrofit passed review"),
    "subsidy.cost": Text("实际改造费用", "Actual retrofit cost"),
    "subsidy.plan_cost": Text("实施方案改造费用", "Retrofit cost in the plan"),
    "subsidy.invoiced": Text("发票合计（一企一档）", "Invoiced total (enterprise file)"),
    "subsidy.no_invoice": Text("尚无发票，按实施方案费用", "no invoice yet: the plan's cost"),
    "subsidy.costs_differ": Text(
        "与实施方案不一致，取较低者", "differs from the plan: the lower is used"
    ),
    "subsidy.share": Text("改造费用的 30%", "30 % of the cost"),
    "subsidy.working": Text("计算（元，向下取整到分）", "Working (CNY, rounded down to the fen)"),
    "subsidy.cap": Text("单个企业上限", "Cap per enterprise"),
    "subsidy.capped": Text("触及上限", "Capped"),
    "subsidy.amount": Text("补助金额", "Subsidy"),
    "subsidy.note": Text(
        "补助 = min(实际改造费用 × 30%，30 万元)，向下取整到分；未通过或数据不足的企业为 0。",
        "Subsidy = min(30 % of the actual retrofit cost, 300,000 CNY), rounded down to the "
        "fen; 0 for an enterprise that failed or has insufficient data.",
    ),
    # Reproducibility.
    "repro.heading": Text("可复核性", "Reproducibility"),
    "repro.how": Text(
        "本报告中的每个数值均可由同目录下的 JSON 文件独立复算：JSON 包含各设备每日基础量之和、"
        "实施方案的期间与目标、方法常数和随机种子。复算步骤与算例见 {document}（第 9 节）。"
        "相同数据、相同随机种子和相同软件版本得到相同结果。",
        "Every figure in this report can be recomputed from the JSON file beside it, which "
        "holds the device-day sums, the plan's periods and targets, the method's constants "
        "and the seed. {document} (section 9) gives the procedure with a worked example. The "
        "same data, seed and software versions give the same figures.",
    ),
    "repro.inputs": Text("输入", "Inputs"),
    "repro.format": Text("文件格式", "Format"),
    "repro.source": Text("证据文件", "Evidence file"),
    "repro.plan": Text("实施方案", "Implementation plan"),
    "repro.plan_version": Text("版本", "version"),
    "repro.plan_digest": Text("实施方案摘要（SHA-256）", "Plan digest (SHA-256)"),
    "repro.device_days": Text("设备日数据条数", "Device-day rows"),
    "repro.method": Text("方法文档", "Method document"),
    "repro.constants": Text("方法常数", "Method constants"),
    "repro.seed": Text("随机种子", "Seed"),
    "repro.replicates": Text("自助法重抽样次数", "Bootstrap replicates"),
    "repro.confidence": Text("置信水平", "Confidence"),
    "repro.power": Text("检验把握度", "Power"),
    "repro.mde_factor": Text(
        "MDE 系数（大样本极限；各变化按其自由度另有系数）",
        "MDE factor (large-sample limit; each change has its own for its degrees of freedom)",
    ),
    "repro.min_coverage": Text("有效天最低覆盖率", "Minimum coverage of a usable day"),
    "repro.max_imported": Text("报告期导入数据上限", "Maximum imported share (reporting)"),
    "repro.min_days": Text("最少有效天数：{kpi}", "Minimum usable days: {kpi}"),
    "repro.g14_cv": Text("Guideline 14 CV(RMSE) 上限", "Guideline 14 CV(RMSE) limit"),
    "repro.g14_nmbe": Text("Guideline 14 |NMBE| 上限", "Guideline 14 |NMBE| limit"),
    "repro.g14_fsu": Text("Guideline 14 节能不确定度上限（68%）", "Guideline 14 FSU limit (68 %)"),
    "repro.software": Text("软件版本", "Software versions"),
    "repro.component": Text("组件", "Component"),
    "repro.version": Text("版本", "Version"),
    # Platform roll-up.
    "rollup.heading": Text("通过情况与补助", "Passed enterprises and subsidy"),
    "rollup.passed": Text(
        "{total} 家试点企业中 {passed} 家通过验收。",
        "{passed} of {total} pilot enterprises passed.",
    ),
    "rollup.minimum_met": Text(
        "已达到每个服务平台至少完成 10 家企业的要求。",
        "The minimum of 10 enterprises per platform is met.",
    ),
    "rollup.minimum_not_met": Text(
        "未达到每个服务平台至少 {minimum} 家的要求（差 {shortfall} 家）。",
        "The minimum of {minimum} enterprises per platform is not met ({shortfall} short).",
    ),
    "rollup.total": Text("平台补助合计", "Platform subsidy total"),
    "rollup.capped": Text(
        "按规则计算为 {uncapped}，受平台上限 {cap} 限制",
        "the rule gives {uncapped}, capped at the platform limit of {cap}",
    ),
    "rollup.minimum_note": Text(
        "通过家数少于 10 家时，系统仍列出按规则计算的金额与差额，"
        "是否拨付及金额由评审部门决定；未通过企业可整改后复审。",
        "When fewer than 10 pass, the amount the rule gives is still shown with the shortfall; "
        "the reviewers decide whether and how much is paid, and failed enterprises may be "
        "rectified (整改) and reviewed again.",
    ),
    "rollup.enterprises": Text("各试点企业", "Pilot enterprises"),
    "rollup.enterprise": Text("试点企业", "Enterprise"),
    "rollup.attempts": Text("评审次数", "Attempts"),
    "rollup.flags": Text("检查发现", "Flags"),
    "rollup.serious": Text("严重 {count}", "{count} serious"),
    "rollup.no_enterprises": Text("无试点企业。", "No enterprises."),
    "rollup.uncapped_total": Text(
        "按企业合计（未设平台上限）", "Sum over enterprises (before the platform cap)"
    ),
    "rollup.platform_cap": Text("平台上限", "Platform cap"),
    "rollup.subsidy_note": Text(
        "每家通过企业：min(实际改造费用 × 30%，"
        "30 万元)；平台合计不超过 600 万元。"
        "平台上限生效时，规则未规定在企业间如何分配，"
        "故仅列出合计。",
        "Per passed enterprise: min(30 % of the actual cost, 300,000 CNY); platform total at "
        "most 6,000,000 CNY. When the platform cap binds, the rules do not say how it is split "
        "between enterprises, so only the total is given.",
    ),
    "rollup.evidence_files": Text("各企业证据文件", "Enterprise evidence files"),
    # Province.
    "province.heading": Text("各服务平台", "Service platforms"),
    "province.platforms": Text("服务平台数", "Platforms"),
    "province.enterprises": Text("试点企业数", "Enterprises"),
    "province.passed": Text("通过家数", "Passed"),
    "province.minimum_met": Text("达到 10 家", "Minimum of 10 met"),
    "province.platform_total": Text("平台补助", "Platform subsidy"),
    "province.total": Text("补助合计", "Subsidy total"),
    "province.sum": Text("合计", "Total"),
    "province.no_platforms": Text("无服务平台。", "No platforms."),
    "province.rollup_files": Text("各平台汇总文件", "Platform roll-up files"),
} | DIGITAL_LEVEL_LABELS
