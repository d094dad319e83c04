"""The reports as HTML: one Jinja2 environment, autoescaped, and a render function per document.

Every value from the JSON is hostile text (an enterprise may be named ``<script>``): the
environment escapes everything a template prints, charts escape their own text and come in as
:class:`markupsafe.Markup`, and no template puts a document value into a URL, a style or a
script. A template that names an undefined variable fails (``StrictUndefined``) instead of
printing a blank.

The page is self-contained (styles and charts inline, no external resource), so one file can
be mailed, archived or opened offline, and WeasyPrint prints the same HTML to PDF.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from pydantic import BaseModel

from collector.evidence.document import (
    AttemptDoc,
    EnergyDoc,
    EnterpriseEvidence,
    KpiDoc,
    PlatformRollup,
    ProvinceSummary,
    canonical_json,
)
from collector.report import charts, view
from collector.report.formatting import Formatter, visible_controls
from collector.report.i18n import Catalogue, label
from collector.report.lang import LANGS, Lang

__all__ = [
    "ENTERPRISE_SOURCE",
    "PLATFORM_SOURCE",
    "PROVINCE_SOURCE",
    "enterprise_html",
    "environment",
    "platform_html",
    "province_html",
]

#: The JSON file each report renders, as the bundle writer names it (docs/evidence-bundle.md);
#: its SHA-256 is printed on every page.
ENTERPRISE_SOURCE: Final = "evidence.json"
PLATFORM_SOURCE: Final = "platform.json"
PROVINCE_SOURCE: Final = "province.json"

_ENVIRONMENT: Environment | None = None


def environment() -> Environment:
    """The reports' Jinja2 environment (templates in ``collector/report/templates``)."""
    global _ENVIRONMENT  # built once on first use, so importing this module stays cheap
    if _ENVIRONMENT is None:
        _ENVIRONMENT = Environment(
            loader=PackageLoader("collector.report", "templates"),
            autoescape=True,
            finalize=visible_controls,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
    return _ENVIRONMENT


class _Charts:
    """The chart functions bound to one document and language, for the templates."""

    __slots__ = ("go_live", "lang")

    def __init__(self, go_live: dt.date | None, lang: Lang) -> None:
        self.go_live = go_live
        self.lang: Lang = lang

    def daily(self, kpi: KpiDoc, attempt: AttemptDoc) -> Markup:
        if self.go_live is None:
            raise ValueError("a daily chart needs the enterprise's go-live date")
        return charts.daily_kpi_chart(
            kpi, self.go_live, self.lang, rectification=attempt.rectification_date
        )

    def energy(self, energy: EnergyDoc) -> Markup:
        return charts.energy_model_chart(energy, self.lang)

    def pass_count(self, passed: int, minimum: int, enterprises: int) -> Markup:
        return charts.pass_count_chart(passed, minimum, enterprises, self.lang)


def _other(lang: Lang) -> Lang:
    return next(other for other in LANGS if other != lang)


def _render(
    template: str,
    doc: BaseModel,
    lang: Lang,
    *,
    title: str,
    subject: str,
    source: str,
    sibling: str | None,
    go_live: dt.date | None = None,
) -> str:
    other = _other(lang)
    context: dict[str, Any] = {
        "doc": doc,
        "lang": lang,
        "tr": Catalogue(lang),
        "fmt": Formatter(lang),
        "view": view,
        "charts": _Charts(go_live, lang),
        "title": title,
        "subject": subject,
        "software": getattr(doc, "software"),  # noqa: B009 - every document kind has it
        "source_name": source,
        "source_sha256": hashlib.sha256(canonical_json(doc)).hexdigest(),
        "other_file": sibling or "",
        "other_lang": other,
        "other_lang_name": label("lang_name", other) if sibling else "",
    }
    return environment().get_template(template).render(context)


def enterprise_html(doc: EnterpriseEvidence, lang: Lang, *, sibling: str | None = None) -> str:
    """One enterprise's evidence report; ``sibling`` links the other language's file."""
    subject = " · ".join(
        (doc.enterprise.name, doc.platform.name, f"{doc.province.name} {doc.batch_year}")
    )
    return _render(
        "enterprise.html.j2",
        doc,
        lang,
        title=label("title.enterprise", lang),
        subject=subject,
        source=ENTERPRISE_SOURCE,
        sibling=sibling,
        go_live=doc.enterprise.go_live,
    )


def platform_html(doc: PlatformRollup, lang: Lang, *, sibling: str | None = None) -> str:
    """A platform's roll-up page: each enterprise's verdict, the minimum of 10, the subsidy."""
    subject = " · ".join((doc.platform.name, f"{doc.province.name} {doc.batch_year}"))
    return _render(
        "platform.html.j2",
        doc,
        lang,
        title=label("title.platform", lang),
        subject=subject,
        source=PLATFORM_SOURCE,
        sibling=sibling,
    )


def province_html(doc: ProvinceSummary, lang: Lang, *, sibling: str | None = None) -> str:
    """A province's summary page: its platforms' pass counts and subsidies."""
    subject = f"{doc.province.name} {doc.batch_year}"
    return _render(
        "province.html.j2",
        doc,
        lang,
        title=label("title.province", lang),
        subject=subject,
        source=PROVINCE_SOURCE,
        sibling=sibling,
    )
