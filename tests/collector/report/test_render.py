"""The reports looked at as images and text: headless Chromium, poppler (files.py, pdf.py).

Renders each document kind once per module (PDFs take seconds), then checks what a reader
would: the page is not blank, Chinese is in the PDF's text layer with the key figures, the
CJK font is embedded, the same document gives the same bytes in another process. Screenshots
and page images are kept in out/test-artifacts/report/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collector.evidence.document import canonical_json
from collector.report import enterprise_files, platform_files, province_files
from tests.collector.report import samples
from tests.collector.report.viewers import (
    artifact_dir,
    ink,
    pdf_fonts,
    pdf_page_images,
    pdf_pages,
    pdf_text,
    screenshot,
)

ROOT = Path(__file__).resolve().parents[3]
NAMES = {"report.zh-CN.html", "report.en.html", "report.zh-CN.pdf", "report.en.pdf"}


def _write(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder


@pytest.fixture(scope="module")
def enterprise_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    files = enterprise_files(samples.passing())
    assert set(files) == NAMES
    return _write(files, tmp_path_factory.mktemp("enterprise"))


@pytest.fixture(scope="module")
def platform_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [samples.summary_line(samples.hostile()), *samples.many_lines(11, 8)]
    files = platform_files(samples.rollup(lines))
    assert set(files) == NAMES
    return _write(files, tmp_path_factory.mktemp("platform"))


@pytest.fixture(scope="module")
def province_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rollups = [
        samples.rollup(samples.many_lines(12, 9)),
        samples.rollup(samples.many_lines(25, 22), samples.SECOND_PLATFORM),
    ]
    files = province_files(samples.province(rollups))
    assert set(files) == NAMES
    return _write(files, tmp_path_factory.mktemp("province"))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_enterprise_html_renders_in_chromium(enterprise_bundle: Path, lang: str) -> None:
    png = screenshot(
        enterprise_bundle / f"report.{lang}.html", artifact_dir() / f"enterprise.{lang}.png"
    )
    seen = ink(png)
    assert not seen.blank, seen
    # A rendered report is mostly white paper with text, tables and a chart: some ink, not all.
    assert 0.02 < seen.inked < 0.6, seen


@pytest.mark.parametrize("kind", ["platform", "province"])
def test_rollup_pages_render_in_chromium(
    platform_bundle: Path, province_bundle: Path, kind: str
) -> None:
    folder = platform_bundle if kind == "platform" else province_bundle
    png = screenshot(
        folder / "report.zh-CN.html", artifact_dir() / f"{kind}.zh-CN.png", height=1400
    )
    assert not ink(png).blank


def test_enterprise_pdf_pages_text_and_fonts(enterprise_bundle: Path) -> None:
    doc = samples.passing()
    zh, en = enterprise_bundle / "report.zh-CN.pdf", enterprise_bundle / "report.en.pdf"
    pages = pdf_pages(zh)
    assert pages >= 5  # verdict, plan, 4 KPIs with charts, flags, integrity, reproducibility
    images = pdf_page_images(zh, artifact_dir() / "enterprise.zh-CN.page")
    assert len(images) == pages
    blank = [image.name for image in images if ink(image).blank]
    assert not blank, blank
    text = pdf_text(zh)
    oee = doc.attempts[0].kpis[0]
    for expected in (
        "设备综合效率",
        "试点企业改造成效证据报告",
        doc.enterprise.name,
        "255,000.00 元",
        # The subsidy's rounding, worked (method §7): 850,000.01 CNY × 30 % = 255,000.003.
        "30 % × 850,000.01 = 255,000.003 → 255,000.00",
        f"{100 * (oee.baseline.value or 0):.2f}%",
        "整改" if doc.attempts[-1].kind == "rectification" else "首次评审",
        "通过",
    ):
        assert expected in text, expected
    english = pdf_text(en)
    assert "Overall equipment effectiveness" in english and "CNY 255,000.00" in english
    assert "30 % × 850,000.01 = 255,000.003 → 255,000.00" in english
    assert doc.enterprise.name in english  # the enterprise's own name stays Chinese
    fonts = pdf_fonts(zh)
    assert any("Noto-Sans-CJK-SC" in name and embedded for name, embedded in fonts), fonts


def test_platform_pdf_shows_the_hostile_name_as_text(platform_bundle: Path) -> None:
    text = pdf_text(platform_bundle / "report.en.pdf")
    assert "<script>alert(" in text  # printed as characters, never interpreted
    assert "9 of 12 pilot enterprises passed." in text
    assert "1 short" in text


def test_province_pdf(province_bundle: Path) -> None:
    text = pdf_text(province_bundle / "report.zh-CN.pdf")
    assert "省级汇总" in text and samples.SECOND_PLATFORM.name in text
    assert all(not ink(page).blank for page in pdf_page_images(
        province_bundle / "report.zh-CN.pdf", artifact_dir() / "province.zh-CN.page"))  # fmt: skip


def test_same_document_same_bytes_in_another_process(
    enterprise_bundle: Path, tmp_path: Path
) -> None:
    """HTML and PDF bytes do not depend on the process (hash seed, caches, clock)."""
    (tmp_path / "evidence.json").write_bytes(canonical_json(samples.passing()))
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from collector.evidence.document import EnterpriseEvidence
        from collector.report.html import enterprise_html
        from collector.report.pdf import html_to_pdf
        folder = Path(sys.argv[1])
        doc = EnterpriseEvidence.model_validate_json((folder / "evidence.json").read_bytes())
        html = enterprise_html(doc, "en", sibling="report.zh-CN.html")
        (folder / "report.en.html").write_text(html, encoding="utf-8")
        (folder / "report.en.pdf").write_bytes(html_to_pdf(html))
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], check=True, cwd=ROOT, env=env, timeout=300
    )
    for name in ("report.en.html", "report.en.pdf"):
        assert (tmp_path / name).read_bytes() == (enterprise_bundle / name).read_bytes(), name
