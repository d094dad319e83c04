"""Numbers, money, changes and dates per language (collector/report/formatting.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from collector.evidence.document import IntervalDoc, PeriodDoc
from collector.report.formatting import (
    MISSING,
    format_change,
    format_date,
    format_interval,
    format_kpi,
    format_money,
    format_number,
    format_period,
    format_share,
    format_signed,
    format_size,
)


def test_money_is_exact_integer_fen_in_both_languages() -> None:
    # 30 % of 850,000.01 CNY floored to the fen (method §9.4): no float ever touches money.
    assert format_money(25_500_000, "zh-CN") == "255,000.00 元"
    assert format_money(25_500_000, "en") == "CNY 255,000.00"
    assert format_money(600_000_000_01, "en") == "CNY 600,000,000.01"
    assert format_money(-5, "en") == "CNY -0.05"
    assert format_money(None, "en") == MISSING


def test_numbers_group_thousands_and_never_print_minus_zero() -> None:
    assert format_number(12345.678, 1) == "12,345.7"
    assert format_number(-0.0004, 2) == "0.00"
    assert format_signed(-0.0004, 2) == "0.00"
    assert format_signed(5.2, 2) == "+5.20"
    assert format_signed(-5.2, 2) == "-5.20"
    assert format_number(float("nan"), 2) == MISSING
    assert format_number(None, 2) == MISSING


@pytest.mark.parametrize(
    ("lang", "pp", "pct", "size"),
    [
        ("zh-CN", "+5.20个百分点", "-12.00%", "3.00个百分点"),
        ("en", "+5.20 pp", "-12.00 %", "3.00 pp"),
    ],
)
def test_changes_carry_their_unit(lang: str, pp: str, pct: str, size: str) -> None:
    assert format_change(5.2, "pp", lang) == pp  # type: ignore[arg-type]
    assert format_change(-12.0, "%", lang) == pct  # type: ignore[arg-type]
    assert format_size(-3.0, "pp", lang) == size  # type: ignore[arg-type]


def test_interval_and_share() -> None:
    interval = IntervalDoc(low=-1.234, high=3.4)
    assert format_interval(interval, "pp", "en") == "[-1.23, +3.40] pp"
    assert format_interval(None, "pp", "en") == MISSING
    assert format_share(0.8881, 2, "zh-CN") == "88.81%"
    assert format_share(0.8881, 2, "en") == "88.81 %"


def test_kpi_values_in_their_display_units() -> None:
    # The OEE worked example of the method: 74.79 %.
    assert format_kpi("oee", 0.747916, "en") == "74.79 %"
    assert format_kpi("unplanned_downtime_per_planned_hour", 0.05, "en") == "3.00 min/h"
    assert format_kpi("output_per_planned_hour", 146.12, "zh-CN") == "146.1 件/小时"
    assert format_kpi("energy_per_unit", 0.21291, "en") == "0.2129 kWh/part"
    assert format_kpi("a_future_kpi", 1.5, "en") == "1.5000"
    assert format_kpi("oee", None, "en") == MISSING


def test_dates_and_periods() -> None:
    day = dt.date(2024, 3, 1)
    assert format_date(day, "zh-CN") == "2024年3月1日"
    assert format_date(day, "en") == "2024-03-01"
    period = PeriodDoc(start=dt.date(2024, 1, 1), end=dt.date(2024, 3, 31))
    assert format_period(period, "zh-CN") == "2024年1月1日至2024年3月31日"
    assert format_period(period, "en") == "2024-01-01 – 2024-03-31"
