"""The files of a bundle that the renderers make: each document's report in both languages.

The bundle writer (collector/evidence) calls these with the documents it wrote as JSON and
puts the returned files beside them (and in its ``manifest.json``). Names:
``report.<lang>.html`` and ``report.<lang>.pdf`` for ``lang`` in zh-CN and en. Charts are
inline in each HTML file (and so in the PDF), not separate files: one report is one file a
reviewer can open offline; the web app draws them with :mod:`collector.report.charts`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from collector.evidence.document import EnterpriseEvidence, PlatformRollup, ProvinceSummary
from collector.report.html import enterprise_html, platform_html, province_html
from collector.report.lang import LANGS, Lang
from collector.report.pdf import html_to_pdf

__all__ = ["enterprise_files", "platform_files", "province_files", "report_name"]

_Doc = TypeVar("_Doc", EnterpriseEvidence, PlatformRollup, ProvinceSummary)


def report_name(lang: Lang, extension: str) -> str:
    """A report's file name in a bundle: ``report.zh-CN.html``, ``report.en.pdf``."""
    return f"report.{lang}.{extension}"


def _files(doc: _Doc, render: Callable[..., str], *, pdf: bool) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for lang in LANGS:
        other = next(other for other in LANGS if other != lang)
        html = render(doc, lang, sibling=report_name(other, "html"))
        files[report_name(lang, "html")] = html.encode("utf-8")
        if pdf:
            files[report_name(lang, "pdf")] = html_to_pdf(html)
    return files


def enterprise_files(doc: EnterpriseEvidence, *, pdf: bool = True) -> dict[str, bytes]:
    """An enterprise's report files: HTML and (unless ``pdf`` is False) PDF, zh-CN and en,
    name → bytes. A PDF takes seconds, its HTML a fraction of one."""
    return _files(doc, enterprise_html, pdf=pdf)


def platform_files(doc: PlatformRollup, *, pdf: bool = True) -> dict[str, bytes]:
    """A platform roll-up's report files: HTML and (unless ``pdf`` is False) PDF, zh-CN and
    en, name → bytes."""
    return _files(doc, platform_html, pdf=pdf)


def province_files(doc: ProvinceSummary, *, pdf: bool = True) -> dict[str, bytes]:
    """A province summary's report files: HTML and (unless ``pdf`` is False) PDF, zh-CN and
    en, name → bytes."""
    return _files(doc, province_html, pdf=pdf)
