"""The digital-level section of the enterprise report: the document's figures as a reader sees
them (HTML both languages, PDF text), labelled as measured inputs and not the rating."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.report import Lang, enterprise_files
from collector.report.html import enterprise_html
from tests.collector.report import samples
from tests.collector.report.digital_samples import digital_level, figures
from tests.collector.report.viewers import pdf_text

#: What each figure must read, formatted by hand from digital_samples' values.
SHOWN = {
    "en": {
        "period": "2026-06-01 – 2026-08-30",
        "networked_count": "2",
        "production_equipment_total": "5",
        "networked_share": "40.0 %",
        "covered.equipment_management": "yes",
        "devices.energy_management": "meter-main, press-1",
        "measured_days.press-2": "1",
        "measured_days.press-3": "0",
        "monthly_mean.baseline": "92.50 %",
        "pooled.baseline": "92.59 %",
        "monthly_mean.reporting": "98.00 %",
        "pooled.reporting": "97.99 %",
    },
    "zh-CN": {
        "period": "2026年6月1日至2026年8月30日",
        "networked_share": "40.0%",
        "covered.equipment_management": "是",
        "monthly_mean.baseline": "92.50%",
        "pooled.reporting": "97.99%",
    },
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_section_shows_the_documents_figures(lang: Lang) -> None:
    doc = samples.passing().model_copy(update={"digital_level": digital_level()})
    html = enterprise_html(doc, lang)
    shown = figures(html)
    for name, text in SHOWN[lang].items():
        assert shown[name] == text, name
    heading = "Digital-level assessment: measured inputs" if lang == "en" else "实测输入"
    not_rating = "not the official rating" if lang == "en" else "不是官方评测结果"
    assert heading in html and not_rating in html
    # A device with no data says so; the one it cannot classify is "unknown", not a meter.
    assert ("No measured data (unknown)" if lang == "en" else "无实测数据（未知）") in html


def test_without_the_plans_total_the_rate_is_absent_and_says_why() -> None:
    doc = samples.passing().model_copy(update={"digital_level": digital_level(total=None)})
    html = enterprise_html(doc, "en")
    shown = figures(html)
    assert shown["networked_share"] == "—"
    assert shown["production_equipment_total"] == "—"
    assert "Not computed: the plan gives no production equipment total (not 100 %)" in html


def test_a_document_made_before_the_section_renders_without_it() -> None:
    html = enterprise_html(samples.passing(), "en")
    assert samples.passing().digital_level is None
    assert 'id="digital-level"' not in html and "data-figure" not in html


def test_the_pdf_carries_the_section_in_chinese(tmp_path: Path) -> None:
    doc = samples.passing().model_copy(update={"digital_level": digital_level()})
    pdf = tmp_path / "report.zh-CN.pdf"
    pdf.write_bytes(enterprise_files(doc)["report.zh-CN.pdf"])
    text = pdf_text(pdf)
    for expected in ("数字化水平评测的实测输入", "不是官方评测结果", "生产设备联网率", "40.0%"):
        assert expected in text, expected
