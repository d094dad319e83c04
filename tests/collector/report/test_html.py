"""The HTML reports: complete, escaped, accessible and the same bytes every time (html.py)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from collector.evidence.document import DeviceValueDoc, EnterpriseEvidence, KpiDoc, canonical_json
from collector.report.formatting import visible_controls
from collector.report.html import enterprise_html, platform_html, province_html
from collector.report.lang import LANGS, Lang
from tests.collector.report import samples

SCENARIOS: dict[str, Callable[[], EnterpriseEvidence]] = {
    "passing": samples.passing,
    "rectified": samples.rectified,
    "rectification_fails": lambda: samples.rectified("fail"),
    "insufficient": samples.insufficient,
    "energy_model_fails": samples.energy_model_fails,
    "hostile": samples.hostile,
}


class Outline(HTMLParser):
    """What a checker needs of a page: elements, headings, attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[int] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)


def _yuan(fen: int) -> str:
    return f"{fen // 100:,d}.{fen % 100:02d}"


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def documents() -> dict[str, EnterpriseEvidence]:
    return {name: make() for name, make in SCENARIOS.items()}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_enterprise_page_is_complete_and_accessible(
    documents: dict[str, EnterpriseEvidence], scenario: str, lang: Lang
) -> None:
    doc = documents[scenario]
    page = outline(enterprise_html(doc, lang, sibling="other.html"))
    html_tag = page.tags[0]
    assert html_tag == ("html", {"lang": lang})
    assert page.count("h1") == 1
    # Headings never skip a level (h2 after h1, h3 under h2...).
    assert all(b - a <= 1 for a, b in zip(page.headings, page.headings[1:], strict=False))
    # One daily chart per KPI per attempt, each with its title; one energy chart per energy KPI.
    kpis = [kpi for attempt in doc.attempts for kpi in attempt.kpis]
    energies = [kpi for kpi in kpis if kpi.energy is not None]
    assert page.count("svg") == len(kpis) + len(energies)
    assert page.count("title") == 1 + page.count("svg")
    assert all(attrs.get("role") == "img" for tag, attrs in page.tags if tag == "svg")
    # Every table has header cells; every column header has a scope.
    assert page.count("table") and page.count("th") > page.count("table")
    assert all(attrs.get("scope") for tag, attrs in page.tags if tag == "th")
    text = "".join(page.text)
    assert doc.enterprise.name in text
    assert ("设备综合效率" if lang == "zh-CN" else "Overall equipment effectiveness") in text


def test_verdict_comes_first_with_reasons_and_attempts(
    documents: dict[str, EnterpriseEvidence],
) -> None:
    html = enterprise_html(documents["rectified"], "zh-CN")
    verdict = html[html.index('id="verdict"') : html.index('id="plan"')]
    assert "由第 2 次评审（整改后复审" in verdict
    assert verdict.count('class="status status-fail"') == 1  # attempt 1 in the attempts table
    assert "2024年10月15日" in verdict
    insufficient = enterprise_html(documents["insufficient"], "en")
    verdict = insufficient[insufficient.index('id="verdict"') : insufficient.index('id="plan"')]
    assert "Insufficient data" in verdict and "usable days, fewer than the 21 required" in verdict


def test_hostile_text_is_shown_as_text_never_as_markup(
    documents: dict[str, EnterpriseEvidence],
) -> None:
    for lang in LANGS:
        html = enterprise_html(documents["hostile"], lang)
        page = outline(html)
        assert page.count("script") == 0 and page.count("img") == 0
        assert page.count("iframe") == 0 and page.count("i") == 0 and page.count("b") == 0
        assert page.count("h1") == 1  # "</table><h1>forged</h1>" stayed text
        text = "".join(page.text)
        assert samples.HOSTILE_NAME in text  # exactly as written, braces and all
        assert "</td></tr></table><h1>forged</h1>" in text
        assert '"><img src=x onerror=alert(1)>' in text
        # Only our own stylesheet: the name's "</style>" did not end it early.
        assert page.count("style") == 1


def test_bidi_controls_in_names_are_shown_not_obeyed(
    documents: dict[str, EnterpriseEvidence],
) -> None:
    # U+202E (right-to-left override) would show "ent-01\u202efdp.exe" as "ent-01exe.pdf".
    doc = documents["passing"]
    enterprise = doc.enterprise.model_copy(
        update={"name": "宁波精锻\u202e公司", "id": "e\u2066-01"}
    )
    for lang in LANGS:
        html = enterprise_html(doc.model_copy(update={"enterprise": enterprise}), lang)
        assert not any(char in html for char in "\u202e\u2066")
        text = "".join(outline(html).text)
        assert "宁波精锻⟨U+202E⟩公司" in text and "e⟨U+2066⟩-01" in text
    assert visible_controls("a\u200fb\u061c") == "a⟨U+200F⟩b⟨U+061C⟩"
    assert visible_controls("plain 中文") == "plain 中文" and visible_controls(3) == 3
    assert visible_controls(Markup("<b>\u202e</b>")) == Markup("<b>\u202e</b>")  # our own markup


def test_same_document_gives_the_same_bytes_also_after_a_json_round_trip(
    documents: dict[str, EnterpriseEvidence],
) -> None:
    doc = documents["passing"]
    again = EnterpriseEvidence.model_validate_json(canonical_json(doc))
    # A document read back from JSON has its dicts in sorted order, one built in memory may not:
    # the page must not depend on it.
    reordered = doc.model_copy(
        update={"integrity": doc.integrity.model_copy(
            update={"quarantined": {"gw-01": {"seq_replay": 1, "bad_signature": 2}}})}
    )  # fmt: skip
    for lang in LANGS:
        first = enterprise_html(doc, lang)
        assert enterprise_html(again, lang) == first
        assert enterprise_html(reordered, lang) == first


def test_pages_link_their_other_language() -> None:
    html = enterprise_html(samples.passing(), "zh-CN", sibling="report.en.html")
    assert '<a href="report.en.html" hreflang="en" lang="en">English</a>' in html
    assert "hreflang" not in enterprise_html(samples.passing(), "en")


@pytest.mark.parametrize("lang", LANGS)
def test_platform_page_shows_pass_count_minimum_and_capped_subsidy(lang: Lang) -> None:
    rollup = samples.rollup(samples.many_lines(25, 22))
    html = platform_html(rollup, lang)
    page = outline(html)
    text = "".join(page.text)
    assert rollup.platform_capped and rollup.total_fen == 600_000_000
    assert ("6,000,000.00 元" if lang == "zh-CN" else "CNY 6,000,000.00") in text
    assert _yuan(rollup.uncapped_total_fen) in text
    assert ("通过 22 / 25 家" if lang == "zh-CN" else "22 of 25 passed") in text
    assert page.count("svg") == 1
    short = samples.rollup(samples.many_lines(12, 9))
    text = "".join(outline(platform_html(short, lang)).text)
    assert ("差 1 家" if lang == "zh-CN" else "(1 short)") in text


@pytest.mark.parametrize("lang", LANGS)
def test_province_page_lists_platforms_and_totals(lang: Lang) -> None:
    first = samples.rollup(samples.many_lines(12, 9))
    second = samples.rollup(samples.many_lines(25, 22), samples.SECOND_PLATFORM)
    summary = samples.province([first, second])
    text = "".join(outline(province_html(summary, lang)).text)
    assert samples.SECOND_PLATFORM.name in text and samples.PLATFORM.name in text
    assert _yuan(summary.total_fen) in text


def _map_kpis(doc: EnterpriseEvidence, change: Callable[[KpiDoc], KpiDoc]) -> EnterpriseEvidence:
    """``doc`` with ``change`` applied to every KPI of every attempt."""
    attempts = [
        attempt.model_copy(update={"kpis": [change(kpi) for kpi in attempt.kpis]})
        for attempt in doc.attempts
    ]
    return doc.model_copy(update={"attempts": attempts})


def _with_mde_factor(doc: EnterpriseEvidence, factor: float) -> EnterpriseEvidence:
    """``doc`` with every change carrying its own (t-based) MDE factor."""

    def own_factor(kpi: KpiDoc) -> KpiDoc:
        if kpi.change is None:
            return kpi
        return kpi.model_copy(
            update={"change": kpi.change.model_copy(update={"mde_factor": factor})}
        )

    return _map_kpis(doc, own_factor)


@pytest.mark.parametrize(
    ("lang", "shown"),
    [("zh-CN", "{} × 最大标准误"), ("en", "{} × the largest standard error")],
    ids=LANGS,
)
def test_each_change_shows_its_own_mde_factor_else_the_methods(
    documents: dict[str, EnterpriseEvidence], lang: Lang, shown: str
) -> None:
    doc = documents["passing"]
    changes = sum(1 for a in doc.attempts for kpi in a.kpis if kpi.change is not None)
    assert changes and doc.method.mde_factor == pytest.approx(2.8016)
    own = "".join(outline(enterprise_html(_with_mde_factor(doc, 2.9137), lang)).text)
    assert own.count(shown.format("2.914")) == changes
    assert shown.format("2.802") not in own
    # A document made before changes had their own factor: the method's, the large-sample limit.
    older = "".join(outline(enterprise_html(doc, lang)).text)
    assert older.count(shown.format("2.802")) == changes
    limit = "大样本极限" if lang == "zh-CN" else "large-sample limit"
    assert own.count(limit) == older.count(limit) == 1  # the method constant, named for what it is


def _on_the_facility_boundary(doc: EnterpriseEvidence) -> EnterpriseEvidence:
    """``doc`` with energy per unit measured at a main meter against two counting presses."""
    devices = [
        DeviceValueDoc(device="meter-main", baseline_value=None, reporting_value=None,
                       baseline_energy_kwh=123456.78, reporting_energy_kwh=110987.66),
        DeviceValueDoc(device="press-01", baseline_value=None, reporting_value=None,
                       baseline_good_count=51234.0, reporting_good_count=53210.0),
    ]  # fmt: skip

    def facility(kpi: KpiDoc) -> KpiDoc:
        if kpi.kpi != "energy_per_unit":
            return kpi
        target = kpi.target.model_copy(update={"boundary": "facility", "meters": ["meter-main"]})
        return kpi.model_copy(update={"target": target, "devices": devices})

    return _map_kpis(doc, facility)


@pytest.mark.parametrize("lang", LANGS)
def test_on_the_facility_boundary_devices_show_meter_energy_and_counted_output(
    documents: dict[str, EnterpriseEvidence], lang: Lang
) -> None:
    doc = documents["passing"]
    assert any(kpi.kpi == "energy_per_unit" for a in doc.attempts for kpi in a.kpis)
    html = enterprise_html(_on_the_facility_boundary(doc), lang)
    text = "".join(outline(html).text)
    for figure in ("123,456.8", "110,987.7", "51,234", "53,210"):
        assert text.count(figure) == 1, figure
    note = "设施边界" if lang == "zh-CN" else "facility boundary"
    assert note in text
    headers = ("能耗（kWh）", "合格品") if lang == "zh-CN" else ("Energy (kWh)", "Good output")
    assert all(header in text for header in headers)
    plain = "".join(outline(enterprise_html(doc, lang)).text)
    assert note not in plain and headers[0] not in plain


@pytest.mark.parametrize("lang", LANGS)
def test_the_targets_table_says_how_energy_per_unit_is_measured(
    documents: dict[str, EnterpriseEvidence], lang: Lang
) -> None:
    doc = documents["passing"]
    option_b, option_c = ("方案 B", "方案 C") if lang == "zh-CN" else ("option B", "option C")
    hours = "计划工时" if lang == "zh-CN" else "planned hours"

    def measured(**update: object) -> tuple[str, str]:
        targets = [
            t.model_copy(update=update) if t.kpi == "energy_per_unit" else t
            for t in doc.enterprise.targets
        ]
        enterprise = doc.enterprise.model_copy(update={"targets": targets})
        html = enterprise_html(doc.model_copy(update={"enterprise": enterprise}), lang)
        return html, "".join(outline(html).text)

    _, devices = measured(boundary="devices", drivers=["good_count"])
    assert devices.count(option_b) == 1 and option_c not in devices
    html, facility = measured(
        boundary="facility", meters=["meter-main", "meter-<b>"], drivers=["good_count", "planned_h"]
    )
    assert facility.count(option_c) == 1 and option_b not in facility
    assert facility.count(hours) == devices.count(hours) + 1  # the second driver
    assert "meter-main" in facility and "meter-<b>" in facility and "<b>" not in html  # escaped
    # Documents made before the boundary key say nothing about it.
    before = "".join(outline(enterprise_html(doc, lang)).text)
    assert option_b not in before and option_c not in before


@pytest.mark.parametrize("lang", LANGS)
def test_the_subsidy_table_shows_the_rounding_down_to_the_fen(lang: Lang) -> None:
    # 30 % of 999,999.99 CNY is 299,999.997: the rule floors it to 299,999.99 (method §7).
    doc = samples.passing()
    doc = doc.model_copy(
        update={
            "subsidy": doc.subsidy.model_copy(
                update={"cost_fen": 99_999_999, "share_fen": 29_999_999, "subsidy_fen": 29_999_999}
            )
        }
    )
    text = "".join(outline(enterprise_html(doc, lang)).text)
    assert "30 % × 999,999.99 = 299,999.997 → 299,999.99" in text
    # A cost whose 30 % is a whole number of fen shows no rounding.
    doc = doc.model_copy(
        update={
            "subsidy": doc.subsidy.model_copy(
                update={"cost_fen": 50_000_000, "share_fen": 15_000_000, "subsidy_fen": 15_000_000}
            )
        }
    )
    text = "".join(outline(enterprise_html(doc, lang)).text)
    assert "30 % × 500,000.00 = 150,000.00" in text and "150,000.00 →" not in text


def test_the_subsidy_table_shows_the_plans_cost_the_invoices_and_the_lower() -> None:
    doc = samples.passing()
    invoiced = doc.subsidy.model_copy(
        update={
            "cost_fen": 40_000_000, "share_fen": 12_000_000, "subsidy_fen": 12_000_000,
            "plan_cost_fen": 50_000_000, "invoiced_fen": 40_000_000, "costs_differ": True,
        }
    )  # fmt: skip
    text = "".join(
        outline(enterprise_html(doc.model_copy(update={"subsidy": invoiced}), "en")).text
    )
    assert "Retrofit cost in the plan" in text and "500,000.00" in text
    assert "Invoiced total (enterprise file)" in text and "400,000.00" in text
    assert "differs from the plan: the lower is used" in text
    none_yet = invoiced.model_copy(
        update={"cost_fen": 50_000_000, "invoiced_fen": None, "costs_differ": False}
    )
    zh = "".join(
        outline(enterprise_html(doc.model_copy(update={"subsidy": none_yet}), "zh-CN")).text
    )
    assert "尚无发票，按实施方案费用" in zh and "取较低者" not in zh
    # A document from before enterprise files shows the table as it was.
    assert "Retrofit cost in the plan" not in "".join(outline(enterprise_html(doc, "en")).text)


@pytest.mark.parametrize("lang", LANGS)
def test_the_oee_shows_its_quality_factor_beside_the_count_quality(lang: Lang) -> None:
    doc = samples.passing()
    oee = next(k for a in doc.attempts for k in a.kpis if k.kpi == "oee")
    sums = oee.reporting.sums
    text = " ".join(outline(enterprise_html(doc, lang)).text)
    label = "OEE 的质量系数" if lang == "zh-CN" else "Quality factor of the OEE"
    assert label in text and ("合格率（件数比）" if lang == "zh-CN" else "count ratio") in text
    q_oee = sums["ideal_good_s"] / sums["ideal_count_s"]
    a_times_p = sums["ideal_count_s"] / sums["planned_s"]
    assert f"{100 * q_oee:.2f}" in text and f"{100 * a_times_p:.2f}" in text
    assert oee.reporting.value == pytest.approx(a_times_p * q_oee, rel=1e-12)


def _downtime_not_measured(doc: EnterpriseEvidence) -> EnterpriseEvidence:
    """``doc`` with its first KPI turned into unplanned downtime no device-day measured (#18):
    the engine's output for a plant whose machines are read through meters only."""
    attempt = doc.attempts[0]
    first = attempt.kpis[0]
    reasons = ["downtime_not_measured", "too_few_usable_days"]
    periods = {
        role: getattr(first, role).model_copy(
            update={"value": None, "reasons": reasons, "usable_days": 0, "sums": {}}
        )
        for role in ("baseline", "reporting")
    }
    kpi = first.model_copy(
        update={
            "kpi": "unplanned_downtime_per_planned_hour",
            "target": first.target.model_copy(
                update={"kpi": "unplanned_downtime_per_planned_hour", "direction": "decrease"}
            ),
            "status": "insufficient_data",
            "reasons": reasons + reasons,
            "change": None,
            "energy": None,
            "interval": None,
            "needed_for_80pct_pass": None,
            "devices": [],
            **periods,
        }
    )
    kpis = [kpi, *attempt.kpis[1:]]
    attempts = [attempt.model_copy(update={"kpis": kpis}), *doc.attempts[1:]]
    return doc.model_copy(update={"attempts": attempts})


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh-CN", ("未测量", "至少 80% 由状态码测得")),
        ("en", ("not measured", "at least 80 % of its planned time measured by a state code")),
    ],
)
def test_downtime_of_inferred_states_shows_not_measured_never_zero(
    lang: Lang, words: tuple[str, str]
) -> None:
    doc = _downtime_not_measured(samples.passing())
    text = " ".join(outline(enterprise_html(doc, lang)).text)
    shown, sentence = words
    # Values in the KPI table, the KPI's section and its chart's caption; the reason's sentence.
    assert text.count(shown) >= 4, text
    assert sentence in text
    untouched = " ".join(outline(enterprise_html(samples.passing(), lang)).text)
    assert shown not in untouched


@pytest.mark.parametrize("lang", LANGS)
def test_a_device_measured_in_one_period_only_shows_its_value_and_not_measured(
    lang: Lang,
) -> None:
    # Coded in the baseline, a power meter after go-live (#18): the baseline cell has its
    # value, the reporting cell says not measured, and the note gives the reason once.
    doc = _downtime_not_measured(samples.passing())
    lathe = DeviceValueDoc(device="lathe-1", baseline_value=0.05, reporting_value=None,
                           reporting_reasons=["downtime_not_measured"])  # fmt: skip
    unknown = DeviceValueDoc(device="mill-1", baseline_value=None, reporting_value=None,
                             baseline_reasons=["a_newer_reason"])  # fmt: skip

    def with_devices(kpi: KpiDoc) -> KpiDoc:
        if kpi.kpi != "unplanned_downtime_per_planned_hour":
            return kpi
        return kpi.model_copy(update={"devices": [lathe, unknown]})

    html = enterprise_html(_map_kpis(doc, with_devices), lang)
    shown = "未测量" if lang == "zh-CN" else "not measured"
    value = "3.00 分钟/小时" if lang == "zh-CN" else "3.00 min/h"
    row = (
        '<th scope="row" class="code user">lathe-1</th>'
        f'<td class="num">{value}</td><td class="num">{shown}</td></tr>'
    )
    assert html.count(row) == 1
    # An unknown reason leaves the cell a dash and shows its code, never drops it.
    assert '<th scope="row" class="code user">mill-1</th><td class="num">—</td>' in html
    assert html.count('<p class="note">a_newer_reason</p>') == 1
    reason = (
        "由状态码测得的都不足 80%" if lang == "zh-CN" else "a state code measured less than 80 %"
    )
    assert html.count(reason) == 1
