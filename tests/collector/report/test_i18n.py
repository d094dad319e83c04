"""The catalogue: every text in both languages, sentences with their figures (i18n.py)."""

from __future__ import annotations

import datetime as dt
import string

import pytest

from collector.evidence.document import FlagDoc
from collector.report.i18n import (
    CHECKS,
    KPI_NAMES,
    REASONS,
    STATUSES,
    check_title,
    flag_sentence,
    format_figure,
    known_codes,
    kpi_name,
    kpi_reasons,
    label,
    status_text,
)
from collector.report.labels import LABELS
from collector.report.lang import Text
from tests.collector.report import samples


def _texts() -> list[tuple[str, Text]]:
    texts = [(f"label {key}", text) for key, text in LABELS.items()]
    texts += [(f"reason {key}", text) for key, text in REASONS.items()]
    texts += [(f"kpi {key}", text) for key, text in KPI_NAMES.items()]
    texts += [(f"status {key}", text) for key, text in STATUSES.items()]
    for key, check in CHECKS.items():
        texts += [(f"check {key}", check.title), (f"check {key} sentence", check.sentence)]
    return texts


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize(("where", "text"), _texts(), ids=[where for where, _ in _texts()])
def test_every_text_has_both_languages_with_the_same_placeholders(where: str, text: Text) -> None:
    assert text.zh.strip() and text.en.strip(), where
    assert _fields(text.zh) == _fields(text.en), where
    # Chinese text is Chinese: a CJK character or full-width punctuation (the em-dash pair of
    # "dash" aside, which is what Chinese uses).
    if where != "label dash":
        assert any(ord(char) >= 0x2E80 for char in text.zh), where


def test_unknown_codes_show_as_themselves() -> None:
    assert status_text("pass", "zh-CN") == "通过"
    assert status_text("withdrawn", "zh-CN") == "withdrawn"
    assert kpi_name("oee", "zh-CN") == "设备综合效率（OEE）"
    assert check_title("a_newer_check", "en") == "a_newer_check"
    with pytest.raises(KeyError):
        label("no.such.label", "en")
    assert set(known_codes()["status"]) == {"pass", "fail", "insufficient_data"}


def test_flag_sentence_quotes_its_figures_in_each_language() -> None:
    flag = FlagDoc(
        check="config_change_at_go_live",
        severity="serious",
        device="cnc-02",
        days=[dt.date(2024, 5, 6)],
        figures={"ideal_cycle_s_before": 45.0, "ideal_cycle_s_after": 40.0},
    )
    assert "cnc-02" in flag_sentence(flag, "zh-CN")
    assert "45.0 秒 → 40.0 秒" in flag_sentence(flag, "zh-CN")
    assert "45.0 s → 40.0 s" in flag_sentence(flag, "en")


def test_flag_with_a_missing_figure_shows_a_dash_and_unknown_checks_list_figures() -> None:
    flag = FlagDoc(check="seq_gaps", severity="warning", device=None, days=[], figures={})
    assert "—" in flag_sentence(flag, "en")
    unknown = FlagDoc(
        check="newer", severity="info", device=None, days=[], figures={"b_share": 0.5, "a": 2}
    )
    assert flag_sentence(unknown, "en") == "newer: a = 2; b_share = 50.0 %"


def test_figures_formatted_by_the_unit_in_their_name() -> None:
    assert format_figure("comm_loss_share", 0.123, "en") == "12.3 %"
    assert format_figure("savings_pct", 9.34, "zh-CN") == "9.3%"
    assert format_figure("subsidy_fen", 25_500_000, "en") == "CNY 255,000.00"
    assert format_figure("first_day", "2024-05-06", "zh-CN") == "2024年5月6日"
    assert format_figure("gaps", 3, "en") == "3"
    assert format_figure("note", "<b>", "en") == "<b>"  # escaped by the template, not here
    assert format_figure("x", None, "en") == "—"


def test_reasons_quote_the_period_figures() -> None:
    doc = samples.insufficient()
    energy = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    assert energy.reasons == ["too_few_usable_days"]
    days = energy.reporting.usable_days
    assert kpi_reasons(energy, doc.method, "zh-CN") == [
        f"报告期（改造后）有效天数 {days} 天，少于最低要求 21 天"
    ]


def test_energy_model_reason_quotes_the_g14_statistics() -> None:
    doc = samples.energy_model_fails()
    energy = next(k for k in doc.attempts[0].kpis if k.kpi == "energy_per_unit")
    assert energy.energy is not None
    (sentence,) = kpi_reasons(energy, doc.method, "en")
    assert f"CV(RMSE) {energy.energy.model.cv_rmse_pct:.2f} % (limit 20 %)" in sentence
