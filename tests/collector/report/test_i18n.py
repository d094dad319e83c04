"""The catalogue: every text in both languages, sentences with their figures (i18n.py)."""

from __future__ import annotations

import datetime as dt
import string

import pytest

from collector.evidence.document import FlagDoc, SealsDoc
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
    seal_counts,
    seal_line,
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
        check="ideal_cycle_changed",
        severity="serious",
        device="cnc-02",
        days=[dt.date(2024, 5, 6)],
        figures={"baseline_min_s": 40.0, "baseline_max_s": 40.0, "reporting_min_s": 45.0,
                 "reporting_max_s": 45.0, "ratio": 1.125, "first_changed_day": "2024-05-06",
                 "days_from_go_live": 0},
    )  # fmt: skip
    zh, en = flag_sentence(flag, "zh-CN"), flag_sentence(flag, "en")
    assert "设备 cnc-02" in zh and "40.0 秒 至 40.0 秒" in zh and "2024年5月6日" in zh
    assert "45.0 s to 45.0 s after (ratio 1.125), first changed on 2024-05-06" in en


def test_a_checks_units_apply_where_the_figure_name_has_none() -> None:
    flag = FlagDoc(
        check="count_faster_than_ideal",
        severity="warning",
        device="p1",
        days=[],
        figures={"days": 3, "max_performance": 1.083, "limit": 1.05},
    )
    assert "highest performance 108.3 % (limit 105.0 %)" in flag_sentence(flag, "en")
    energy = FlagDoc(
        check="energy_not_following_output",
        severity="warning",
        device=None,
        days=[],
        figures={"period": "rectification_1", "period_start": "2024-11-01", "correlation": 0.12},
    )
    assert flag_sentence(energy, "en").startswith(
        "reporting period of attempt 2 (2024-11-01 – —): daily energy and daily good output "
        "correlate at only 0.120"
    )


def test_flag_with_a_missing_figure_shows_a_dash_and_unknown_checks_list_figures() -> None:
    flag = FlagDoc(check="seq_gap", severity="warning", device=None, days=[], figures={})
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
    assert format_figure("period", "baseline", "en") == "Baseline (before)"
    assert format_figure("agent", "baseline", "en") == "baseline"  # only role figures translate
    assert format_figure("ratio", 1.125, "en", unit="share") == "112.5 %"
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


def test_a_bundles_seal_line_in_both_languages() -> None:
    seals = SealsDoc(sealed_equal=1176, sealed_different=2, unsealed=3, device_days=[])
    fp = "SHA256:" + "A" * 43
    assert seal_line(seals, fp, "en") == (
        f"signed by {fp} · 1,178 device-days sealed, 2 different, 3 unsealed"
    )
    assert seal_line(seals, fp, "zh-CN") == (
        f"由 {fp} 签名 · 已封存设备日 1,178 个，其中不一致 2 个，未封存 3 个"
    )
    assert seal_line(None, None, "en") == "unsigned · 0 device-days sealed, 0 different, 0 unsealed"
    assert seal_counts(seals, "en") == "1,178 device-days sealed, 2 different, 3 unsealed"


def test_the_seal_flags_have_sentences_that_quote_their_figures() -> None:
    differs = FlagDoc(
        check="day_seal_differs", severity="serious", device="press-1",
        days=[dt.date(2026, 6, 1)], figures={"agent": "gw-01", "device_days": 1, "fields": "run_s"},
    )  # fmt: skip
    assert flag_sentence(differs, "en") == (
        "device press-1: on 1 device-days the stored daily sums differ from the day seal agent "
        "gw-01 signed (run_s); those days keep the stored figures"
    )
    unsealed = differs.model_copy(
        update={"check": "device_days_unsealed", "figures": {"agent": "gw-01", "device_days": 4}}
    )
    assert "设备 press-1 有 4 个设备日没有采集终端 gw-01 的日封存" in flag_sentence(
        unsealed, "zh-CN"
    )
