"""The renderers on the engine's real output (collector/evidence/assemble.py).

The sample documents of the other tests are built by hand; these are made by the evidence
engine from simulated device-days and the plan (with a 整改 rectification), so a change of the
engine's codes, figure names or fields shows here: every check and reason it emits has words
in both languages, every figure a sentence quotes exists, and the pages render.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from html import unescape
from pathlib import Path

import pytest

import collector.evidence.plausibility as plausibility
from collector.evidence.assemble import EnterpriseInputs, enterprise_evidence
from collector.evidence.document import EnterpriseEvidence, PlanRefDoc, SoftwareDoc, canonical_json
from collector.evidence.rollups import platform_rollup, province_summary
from collector.plan import Plan, load_plan, parse_plan
from collector.report.html import enterprise_html, platform_html, province_html
from collector.report.i18n import CHECKS, REASONS, flag_sentence
from collector.report.lang import LANGS, Lang
from collector.report.pdf import html_to_pdf
from collector.store import DailyRow
from tests.collector.evidence.helpers import shift_plant_rows, simulated_rows
from tests.collector.report.viewers import artifact_dir, ink, pdf_page_images, pdf_text

CASES = Path(__file__).parents[1] / "plan_cases"
SOFTWARE = SoftwareDoc(retrofit_verify="0.test", python="3", numpy="2", scipy="1", statsmodels="0")
EXTRAS = {"device", "day_count", "first_day", "last_day"}


@pytest.fixture(scope="module")
def rectified() -> EnterpriseEvidence:
    """Enterprise 4 of the plan case: fails, fails again after 整改, then passes; with flags."""
    plan = load_plan(CASES / "valid_with_rectification" / "plan.yaml").plan
    platform = plan.platforms[0]
    enterprise = platform.enterprises[3]
    base = enterprise.baseline
    original, first_fix, second_fix = enterprise.reporting_periods
    rows = simulated_rows(base.start, base.end, availability=0.70, seed=5)
    rows += simulated_rows(original.start, original.end, availability=0.70, seed=6)
    rows += simulated_rows(first_fix.start, first_fix.end, availability=0.72, seed=7)
    # The last attempt passes, but its ideal cycle grew and one device's clock stepped: flags.
    rows += simulated_rows(second_fix.start, second_fix.end, availability=0.85, seed=8,
                           ideal_cycle_s_min=22.0, ideal_cycle_s_max=22.0)  # fmt: skip
    rows = [replace(r, clock_jumps=1) if r.day == date(2026, 12, 1) else r for r in rows]
    inputs = EnterpriseInputs(
        plan=plan,
        plan_ref=PlanRefDoc(key=plan.key, version=2, digest="sha256:" + "ab" * 32),
        platform=platform,
        enterprise=enterprise,
        rows=tuple(rows),
        quarantined={"plat-a-e04-gw": {"bad_signature": 3}},
    )
    return enterprise_evidence(inputs, software=SOFTWARE, seed=20220722)


def test_the_catalogue_has_words_for_every_check_the_engine_has() -> None:
    # The engine names its checks as the first argument of plausibility.common.flag(...).
    folder = Path(plausibility.__file__).parent
    codes = set()
    for module in folder.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "flag"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                codes.add(node.args[0].value)
    assert len(codes) >= 10, codes
    assert codes <= set(CHECKS), codes - set(CHECKS)


def test_every_code_and_figure_of_a_real_document_has_its_words(
    rectified: EnterpriseEvidence,
) -> None:
    assert [(a.kind, a.status) for a in rectified.attempts] == [
        ("original", "fail"), ("rectification", "fail"), ("rectification", "pass")
    ]  # fmt: skip
    checks = {flag.check for flag in rectified.flags}
    assert {"ideal_cycle_changed", "clock_jump", "quarantined_messages"} <= checks
    for flag in rectified.flags:
        template = CHECKS[flag.check].sentence
        for lang_text in (template.zh, template.en):
            quoted = {name for _, name, _, _ in string.Formatter().parse(lang_text) if name}
            assert quoted <= set(flag.figures) | EXTRAS, (flag.check, quoted - set(flag.figures))
        for lang in LANGS:
            assert flag.check not in flag_sentence(flag, lang)
    reasons = {r for a in rectified.attempts for k in a.kpis for r in k.reasons}
    assert reasons <= set(REASONS)


def test_real_document_renders_in_both_languages(
    rectified: EnterpriseEvidence, tmp_path: Path
) -> None:
    for lang in LANGS:
        html = enterprise_html(rectified, lang)
        assert html.count("<svg") >= 3 * len(rectified.attempts[0].kpis)
    assert "理想节拍被修改" in enterprise_html(rectified, "zh-CN")
    pdf = tmp_path / "report.zh-CN.pdf"
    pdf.write_bytes(html_to_pdf(enterprise_html(rectified, "zh-CN")))
    # Narrow table columns wrap Chinese anywhere: compare without the line breaks.
    text = "".join(pdf_text(pdf).split())
    for expected in ("设备综合效率", "整改后复审", "企业plat-a-e04", "理想节拍被修改", "时钟跳变"):
        assert expected in text, expected
    pages = pdf_page_images(pdf, artifact_dir() / "engine.zh-CN.page")
    assert pages and not any(ink(page).blank for page in pages)


def test_real_rollups_render() -> None:
    plan = load_plan(CASES / "valid_minimal" / "plan.yaml").plan
    platform = plan.platforms[0]
    ref = PlanRefDoc(key=plan.key, version=1, digest="sha256:" + "0" * 64)
    docs = []
    for index, enterprise in enumerate(platform.enterprises):
        after = 0.85 if index < 9 else 0.70
        rows = simulated_rows(enterprise.baseline.start, enterprise.baseline.end,
                              availability=0.70, seed=index)  # fmt: skip
        for period in enterprise.reporting_periods:
            rows += simulated_rows(period.start, period.end, availability=after, seed=index + 50)
        inputs = EnterpriseInputs(plan=plan, plan_ref=ref, platform=platform,
                                  enterprise=enterprise, rows=tuple(rows))  # fmt: skip
        docs.append(enterprise_evidence(inputs, software=SOFTWARE))
    rollup = platform_rollup(plan, ref, platform, docs, software=SOFTWARE)
    summary = province_summary(plan, ref, [rollup], software=SOFTWARE)
    assert rollup.passed_count == 9 and not rollup.minimum_met
    assert "差 1 家" in platform_html(rollup, "zh-CN")
    assert "1,350,000.00 元" in province_html(summary, "zh-CN")


def _planned_hours_document(constant_baseline_hours: bool) -> EnterpriseEvidence:
    """Energy per unit with planned hours as a driver, on a plant whose shifts vary."""
    text = (CASES / "valid_minimal" / "plan.yaml").read_text()
    energy = 'energy_per_unit: {direction: decrease, size: 8, unit: "%", required: false'
    plan = parse_plan(text.replace(energy, energy + ", drivers: [good_count, planned_h]"), "p").plan
    enterprise = plan.platforms[0].enterprises[0]
    rows = shift_plant_rows(enterprise, 20.0)
    if constant_baseline_hours:
        rows = [
            replace(r, scheduled_s=57600.0, planned_s=57600.0) if r.day < enterprise.go_live else r
            for r in rows
        ]
    return _first_enterprise_evidence(plan, rows)


def _first_enterprise_evidence(plan: Plan, rows: Sequence[DailyRow]) -> EnterpriseEvidence:
    """The evidence of the plan's first platform's first enterprise over ``rows``."""
    platform = plan.platforms[0]
    inputs = EnterpriseInputs(
        plan=plan,
        plan_ref=PlanRefDoc(key=plan.key, version=1, digest="sha256:" + "0" * 64),
        platform=platform,
        enterprise=platform.enterprises[0],
        rows=tuple(rows),
    )
    return enterprise_evidence(inputs, software=SOFTWARE)


@pytest.mark.parametrize("lang", LANGS)
def test_planned_hours_show_in_the_formula_the_ranges_and_the_reason(lang: Lang) -> None:
    page = enterprise_html(_planned_hours_document(constant_baseline_hours=False), lang)
    assert "× planned_h" in page
    hours_row = (
        "基期日计划工时范围（小时）" if lang == "zh-CN" else "Baseline daily planned hours (h)"
    )
    assert hours_row in page and "16.0 – 32.0" in page
    refused = _planned_hours_document(constant_baseline_hours=True)
    (kpi,) = [k for k in refused.attempts[0].kpis if k.kpi == "energy_per_unit"]
    assert kpi.reasons == ["energy_driver_constant"]
    sentence = "通常是计划工时" if lang == "zh-CN" else "usually planned hours"
    assert sentence in enterprise_html(refused, lang)


def _downtime_document() -> EnterpriseEvidence:
    """Unplanned downtime on a plant with a press read through its state code and a lathe
    read through a power meter only (#18): every day of the lathe is left out."""
    text = (CASES / "valid_minimal" / "plan.yaml").read_text()
    targets = "  oee: {direction: increase, size: 5, unit: pp}\n"
    downtime = (
        "  unplanned_downtime_per_planned_hour: "
        '{direction: decrease, size: 10, unit: "%", required: false}\n'
    )
    plan = parse_plan(text.replace(targets, targets + downtime), "p").plan
    enterprise = plan.platforms[0].enterprises[0]
    base, report = enterprise.baseline, enterprise.reporting
    devices = ("press-1", "lathe-1")
    rows = simulated_rows(base.start, base.end, availability=0.70, seed=1, devices=devices)
    rows += simulated_rows(report.start, report.end, availability=0.80, seed=2, devices=devices)
    rows = [
        replace(r, inferred_planned_s=r.planned_s, down_s=0.0) if r.device == "lathe-1" else r
        for r in rows
    ]
    return _first_enterprise_evidence(plan, rows)


NOT_MEASURED_WORDS = {
    "zh-CN": ("未测量", "由状态码测得的都不足 80%"),
    "en": ("not measured", "a state code measured less than 80 % of the device's planned time"),
}


def test_a_device_never_measured_for_downtime_is_listed_as_not_measured(tmp_path: Path) -> None:
    doc = _downtime_document()
    (kpi,) = [k for k in doc.attempts[0].kpis if k.kpi == "unplanned_downtime_per_planned_hour"]
    assert kpi.baseline.value is not None  # the press measures it: the enterprise has a value
    by_device = {d.device: d for d in kpi.devices}
    lathe = by_device["lathe-1"]  # before #18's fix the lathe was missing from the table
    assert (lathe.baseline_value, lathe.reporting_value) == (None, None)
    assert lathe.baseline_reasons == lathe.reporting_reasons == ["downtime_not_measured"]
    press = by_device["press-1"]
    assert press.baseline_value is not None and press.baseline_reasons == []
    assert lathe.device in canonical_json(doc).decode()
    for lang in LANGS:
        shown, sentence = NOT_MEASURED_WORDS[lang]
        html = enterprise_html(doc, lang)
        row = (
            '<th scope="row" class="code user">lathe-1</th>'
            f'<td class="num">{shown}</td><td class="num">{shown}</td></tr>'
        )
        assert html.count(row) == 1, lang
        assert sentence in unescape(html), lang
        pdf = tmp_path / f"report.{lang}.pdf"
        pdf.write_bytes(html_to_pdf(html))
        # Narrow table columns wrap anywhere: compare without the line breaks and spaces.
        text = "".join(pdf_text(pdf).split())
        assert "lathe-1" + shown.replace(" ", "") * 2 in text, lang
        assert sentence.replace(" ", "") in text, lang
