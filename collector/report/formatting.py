"""Numbers, money, shares, changes and dates as a reader of each language expects them.

Pure and locale-free: the same value gives the same text on every machine (the reports are
hashed, and ``locale`` depends on the host). Both languages group thousands with a comma and
use a point for decimals, as Chinese official documents do; they differ in units and dates
(``2024年3月1日`` / ``2024-03-01``), the space before ``%`` and the words for units. An
undefined figure (``None``) shows as an em dash, never as 0.

A KPI's display (:data:`KPI_DISPLAY`) scales its stored value to the unit a reviewer reads:
ratios as percent, unplanned downtime per planned hour as minutes per hour.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Final

from collector.evidence.document import IntervalDoc, PeriodDoc, SufficiencyDoc
from collector.report.lang import Lang, Text

__all__ = [
    "KPI_DISPLAY",
    "MISSING",
    "Formatter",
    "KpiDisplay",
    "format_change",
    "format_count",
    "format_date",
    "format_interval",
    "format_kpi",
    "format_kpi_of_device",
    "format_kpi_of_period",
    "format_money",
    "format_number",
    "format_percent",
    "format_period",
    "format_share",
    "format_signed",
    "format_size",
    "kpi_display",
    "visible_controls",
]

#: What an undefined figure shows.
MISSING: Final = "—"


@dataclass(frozen=True, slots=True)
class KpiDisplay:
    """How a KPI's stored value is shown: ``value × factor`` with ``digits`` decimals and unit."""

    factor: float
    digits: int
    unit: Text
    #: True for shares shown as percent (their changes may be in percentage points).
    is_share: bool = False


_PERCENT = Text("%", " %")
#: The KPIs of the method (docs/evidence-method.md §1) and how each is shown.
KPI_DISPLAY: Final[dict[str, KpiDisplay]] = {
    "availability": KpiDisplay(100.0, 2, _PERCENT, is_share=True),
    "performance": KpiDisplay(100.0, 2, _PERCENT, is_share=True),
    "quality": KpiDisplay(100.0, 2, _PERCENT, is_share=True),
    "oee": KpiDisplay(100.0, 2, _PERCENT, is_share=True),
    "defect_rate": KpiDisplay(100.0, 2, _PERCENT, is_share=True),
    "output_per_planned_hour": KpiDisplay(1.0, 1, Text(" 件/小时", " parts/h")),
    # Stored as hours down per planned hour; minutes per hour reads better (0.05 → 3.0 min/h).
    "unplanned_downtime_per_planned_hour": KpiDisplay(60.0, 2, Text(" 分钟/小时", " min/h")),
    "energy_per_unit": KpiDisplay(1.0, 4, Text(" 千瓦时/件", " kWh/part")),
}
_PLAIN = KpiDisplay(1.0, 4, Text("", ""))


def kpi_display(kpi: str) -> KpiDisplay:
    """How ``kpi`` is shown; an unknown KPI shows its raw value with 4 decimals."""
    return KPI_DISPLAY.get(kpi, _PLAIN)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def format_number(value: float | None, digits: int) -> str:
    """``value`` with ``digits`` decimals and comma thousands, e.g. 12345.678, 1 → ``12,345.7``."""
    if value is None or not _finite(value):
        return MISSING
    text = f"{value:,.{digits}f}"
    # Rounding can leave "-0.0": a reader would wonder what was negative.
    return text[1:] if text.startswith("-") and float(text.replace(",", "")) == 0 else text


def format_count(value: int | None) -> str:
    """An integer with comma thousands: ``1,234``."""
    return MISSING if value is None else f"{value:,d}"


def format_signed(value: float | None, digits: int) -> str:
    """Like :func:`format_number`, with ``+`` before a positive value: ``+5.20``."""
    text = format_number(value, digits)
    if text == MISSING or text.startswith("-") or float(text.replace(",", "")) == 0:
        return text
    return "+" + text


def format_percent(value: float | None, digits: int, lang: Lang) -> str:
    """A value already in percent: ``88.81%`` (zh-CN) / ``88.81 %`` (en)."""
    text = format_number(value, digits)
    return text if text == MISSING else text + _PERCENT.get(lang)


def format_share(share: float | None, digits: int, lang: Lang) -> str:
    """A share 0..1 as percent: 0.8881 → ``88.81%`` / ``88.81 %``."""
    return format_percent(None if share is None else 100.0 * share, digits, lang)


def _change_unit(unit: str, lang: Lang) -> str:
    if unit == "pp":
        return "个百分点" if lang == "zh-CN" else " pp"
    return _PERCENT.get(lang)


def format_change(value: float | None, unit: str, lang: Lang, digits: int = 2) -> str:
    """A change in ``pp`` or ``%``, signed: ``+5.20 pp`` / ``+5.20个百分点``, ``-12.00 %``."""
    text = format_signed(value, digits)
    return text if text == MISSING else text + _change_unit(unit, lang)


def format_size(value: float | None, unit: str, lang: Lang, digits: int = 2) -> str:
    """A magnitude in ``pp`` or ``%``, unsigned: ``5.00 pp`` / ``5.00个百分点`` (target, MDE)."""
    text = format_number(None if value is None else abs(value), digits)
    return text if text == MISSING else text + _change_unit(unit, lang)


def format_interval(interval: IntervalDoc | None, unit: str, lang: Lang, digits: int = 2) -> str:
    """A two-sided interval: ``[+1.20, +3.40] pp`` / ``[+1.20, +3.40]个百分点``."""
    if interval is None:
        return MISSING
    low = format_signed(interval.low, digits)
    high = format_signed(interval.high, digits)
    return f"[{low}, {high}]" + _change_unit(unit, lang)


def format_kpi(kpi: str, value: float | None, lang: Lang) -> str:
    """A KPI's stored value in its display unit: oee 0.7479 → ``74.79 %``."""
    display = kpi_display(kpi)
    text = format_number(None if value is None else value * display.factor, display.digits)
    return text if text == MISSING else text + display.unit.get(lang)


#: A period whose KPI was not measured (unplanned downtime of inferred states): not a dash,
#: which reads as "nothing happened", and never 0.
NOT_MEASURED: Final = Text("未测量", "not measured")
_NOT_MEASURED_REASONS: Final = frozenset({"downtime_not_measured"})


def format_kpi_of_period(kpi: str, period: SufficiencyDoc, lang: Lang) -> str:
    """A period's KPI value (:func:`format_kpi`), or "not measured" / ``未测量`` when it has
    none because its devices could not measure it (reason ``downtime_not_measured``)."""
    if period.value is None and _NOT_MEASURED_REASONS & set(period.reasons):
        return NOT_MEASURED.get(lang)
    return format_kpi(kpi, period.value, lang)


def format_kpi_of_device(kpi: str, value: float | None, reasons: list[str], lang: Lang) -> str:
    """A device's KPI value in a period (:func:`format_kpi`), or "not measured" / ``未测量``
    when it has none because its days were left out (reason ``downtime_not_measured``)."""
    if value is None and _NOT_MEASURED_REASONS & set(reasons):
        return NOT_MEASURED.get(lang)
    return format_kpi(kpi, value, lang)


def format_money(fen: int | None, lang: Lang) -> str:
    """Integer fen as yuan, exact: 25500000 → ``255,000.00 元`` / ``CNY 255,000.00``."""
    if fen is None:
        return MISSING
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    amount = f"{sign}{whole:,d}.{cents:02d}"
    return f"{amount} 元" if lang == "zh-CN" else f"CNY {amount}"


def format_date(day: dt.date | None, lang: Lang) -> str:
    """A local date: ``2024年3月1日`` / ``2024-03-01`` (ISO 8601, unambiguous in English)."""
    if day is None:
        return MISSING
    if lang == "zh-CN":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()


def format_period(period: PeriodDoc, lang: Lang) -> str:
    """Whole days, both included: ``2024年1月1日至2024年3月31日`` / ``2024-01-01 – 2024-03-31``."""
    start, end = format_date(period.start, lang), format_date(period.end, lang)
    return f"{start}至{end}" if lang == "zh-CN" else f"{start} – {end}"


class Formatter:
    """The functions above bound to one language, as templates use them: ``fmt.money(fen)``."""

    __slots__ = ("lang",)

    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang

    def number(self, value: float | None, digits: int = 2) -> str:
        """:func:`format_number`."""
        return format_number(value, digits)

    def count(self, value: int | None) -> str:
        """:func:`format_count`."""
        return format_count(value)

    def signed(self, value: float | None, digits: int = 2) -> str:
        """:func:`format_signed`."""
        return format_signed(value, digits)

    def percent(self, value: float | None, digits: int = 2) -> str:
        """:func:`format_percent` (value already in percent)."""
        return format_percent(value, digits, self.lang)

    def share(self, share: float | None, digits: int = 1) -> str:
        """:func:`format_share` (0..1)."""
        return format_share(share, digits, self.lang)

    def change(self, value: float | None, unit: str, digits: int = 2) -> str:
        """:func:`format_change`."""
        return format_change(value, unit, self.lang, digits)

    def size(self, value: float | None, unit: str, digits: int = 2) -> str:
        """:func:`format_size`."""
        return format_size(value, unit, self.lang, digits)

    def interval(self, interval: IntervalDoc | None, unit: str, digits: int = 2) -> str:
        """:func:`format_interval`."""
        return format_interval(interval, unit, self.lang, digits)

    def kpi(self, kpi: str, value: float | None) -> str:
        """:func:`format_kpi`."""
        return format_kpi(kpi, value, self.lang)

    def kpi_of_period(self, kpi: str, period: SufficiencyDoc) -> str:
        """:func:`format_kpi_of_period`."""
        return format_kpi_of_period(kpi, period, self.lang)

    def kpi_of_device(self, kpi: str, value: float | None, reasons: list[str]) -> str:
        """:func:`format_kpi_of_device`."""
        return format_kpi_of_device(kpi, value, reasons, self.lang)

    def money(self, fen: int | None) -> str:
        """:func:`format_money`."""
        return format_money(fen, self.lang)

    def date(self, day: dt.date | None) -> str:
        """:func:`format_date`."""
        return format_date(day, self.lang)

    def period(self, period: PeriodDoc) -> str:
        """:func:`format_period`."""
        return format_period(period, self.lang)


#: Bidirectional formatting characters (Unicode Bidi_Control): in a name they can reorder what
#: a reader sees ("RLO" turns ``ent-01<RLO>fdp.exe`` around) in a browser and in a PDF alike.
_BIDI_CONTROL: Final = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible_controls(value: object) -> object:
    """``value`` with each bidi control character shown as ``⟨U+XXXX⟩``; non-strings as they are.

    The reports' and the pages' Jinja2 ``finalize``: every text from a document or the registry
    is printed as its characters, never as an instruction to reorder them. Markup (our own
    charts, which show such text through :func:`visible_controls` themselves) passes unchanged.
    """
    if not isinstance(value, str) or hasattr(value, "__html__"):
        return value
    return _BIDI_CONTROL.sub(lambda found: f"⟨U+{ord(found.group()):04X}⟩", value)
