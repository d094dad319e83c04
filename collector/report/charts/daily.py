"""The daily KPI chart: one KPI's daily values before and after go-live, with its periods."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Final

from markupsafe import Markup

from collector.evidence.document import DailyPointDoc, KpiDoc, TargetDoc
from collector.report.formatting import (
    format_count,
    format_date,
    format_kpi_of_period,
    kpi_display,
)
from collector.report.i18n import kpi_name, label, place_text
from collector.report.lang import Lang

from .svg import (
    BASELINE_COLOUR,
    HEIGHT,
    INK,
    OTHER_COLOUR,
    PLACE_STYLE,
    REPORTING_COLOUR,
    WIDTH,
    Frame,
    Style,
    coord,
    legend_row,
    marker,
    markers,
    nice_ticks,
    svg_chart,
    svg_line,
    svg_text,
    y_axis,
)

__all__ = ["daily_kpi_chart", "target_level"]

_BASELINE_BAND: Final = "#E3EEF7"
_REPORTING_BAND: Final = "#FAEBE1"


def target_level(target: TargetDoc, baseline_value: float) -> float | None:
    """The reporting value that would meet the target exactly, in the KPI's stored unit.

    ``pp`` targets move a share by ``size / 100``; ``%`` targets scale the baseline value.
    """
    sign = 1.0 if target.direction == "increase" else -1.0
    if target.unit == "pp":
        return baseline_value + sign * target.size / 100.0
    return baseline_value * (1.0 + sign * target.size / 100.0)


def _day_range(kpi: KpiDoc, marks: Sequence[dt.date]) -> tuple[dt.date, dt.date]:
    days = [point.day for point in kpi.daily]
    days += [kpi.baseline.period.start, kpi.reporting.period.end, *marks]
    return min(days), max(days)


def _month_ticks(first: dt.date, last: dt.date) -> list[dt.date]:
    months = []
    year, month = first.year, first.month
    while dt.date(year, month, 1) <= last:
        if dt.date(year, month, 1) >= first:
            months.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    stride = max(1, math.ceil(len(months) / 8))
    return months[::stride]


def _month_text(day: dt.date, lang: Lang) -> str:
    return f"{day.year}年{day.month}月" if lang == "zh-CN" else f"{day.year}-{day.month:02d}"


def _x_date_axis(frame: Frame, first: dt.date, last: dt.date, lang: Lang) -> list[str]:
    ticks = _month_ticks(first, last)
    if not ticks:
        ticks = [first, last]
    parts = [svg_line(frame.left, frame.bottom, frame.right, frame.bottom, INK)]
    for day in ticks:
        x = frame.x(day.toordinal())
        parts.append(svg_line(x, frame.bottom, x, frame.bottom + 4, INK))
        text = _month_text(day, lang) if day.day == 1 else format_date(day, lang)
        parts.append(svg_text(x, frame.bottom + 17, text, anchor="middle", size=10))
    return parts


def _band(frame: Frame, start: dt.date, end: dt.date, colour: str) -> str:
    # A period covers whole days: from the start of its first to the end of its last.
    x1, x2 = frame.x(start.toordinal() - 0.5), frame.x(end.toordinal() + 0.5)
    x1, x2 = max(x1, frame.left), min(x2, frame.right)
    return (
        f'<rect x="{coord(x1)}" y="{coord(frame.top)}" width="{coord(max(x2 - x1, 0.0))}" '
        f'height="{coord(frame.bottom - frame.top)}" fill="{colour}"/>'
    )


def _level(
    frame: Frame, start: dt.date, end: dt.date, value: float, colour: str, dashed: bool
) -> str:
    x1, x2 = frame.x(start.toordinal() - 0.5), frame.x(end.toordinal() + 0.5)
    y = frame.y(value)
    dash = {"stroke_dasharray": "6 4"} if dashed else {}
    return svg_line(x1, y, x2, y, colour, stroke_width="2", **dash)


def _day_mark(frame: Frame, day: dt.date, text: str, row: int) -> list[str]:
    x = frame.x(day.toordinal() - 0.5)
    return [
        svg_line(x, frame.top, x, frame.bottom, INK, stroke_width="1.2", stroke_dasharray="3 3"),
        svg_text(x + 4, frame.top + 12 + 13 * row, text, size=10, weight="bold"),
    ]


def _daily_values(kpi: KpiDoc) -> list[tuple[DailyPointDoc, float]]:
    factor = kpi_display(kpi.kpi).factor
    return [(p, p.value * factor) for p in kpi.daily if p.value is not None]


def _daily_levels(kpi: KpiDoc) -> dict[str, float]:
    factor = kpi_display(kpi.kpi).factor
    levels = {}
    if kpi.baseline.value is not None:
        levels["baseline"] = kpi.baseline.value * factor
        target = target_level(kpi.target, kpi.baseline.value)
        if target is not None:
            levels["target"] = target * factor
    if kpi.reporting.value is not None:
        levels["reporting"] = kpi.reporting.value * factor
    return levels


def daily_kpi_chart(
    kpi: KpiDoc, go_live: dt.date, lang: Lang, *, rectification: dt.date | None = None
) -> Markup:
    """One KPI's daily values before and after, with the periods, their values and go-live.

    Days in the baseline and reporting periods are shaded; each period's value (ratio of its
    sums, not a mean of days) is a solid line across it; the level that would meet the target
    exactly is dashed over the reporting period; days that do not count (coverage below the
    minimum) are hollow. ``rectification`` marks a 整改 date as well.
    """
    marks = [go_live] + ([rectification] if rectification else [])
    first, last = _day_range(kpi, marks)
    values = _daily_values(kpi)
    levels = _daily_levels(kpi)
    all_values = [value for _, value in values] + list(levels.values())
    low, high = (min(all_values), max(all_values)) if all_values else (0.0, 1.0)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    ticks = nice_ticks(low - pad, high + pad)
    frame = Frame(
        72,
        48,
        WIDTH - 16,
        HEIGHT - 36,
        first.toordinal() - 0.5,
        last.toordinal() + 0.5,
        ticks[0],
        ticks[-1],
    )
    body = [
        _band(frame, kpi.baseline.period.start, kpi.baseline.period.end, _BASELINE_BAND),
        _band(frame, kpi.reporting.period.start, kpi.reporting.period.end, _REPORTING_BAND),
        *y_axis(frame, ticks, kpi_display(kpi.kpi).unit.get(lang).strip()),
        *_x_date_axis(frame, first, last, lang),
    ]
    body += _level_lines(kpi, frame, levels)
    body += markers(_day_point(frame, point, value) for point, value in values)
    body += _day_mark(
        frame, go_live, f"{label('chart.go_live', lang)} {format_date(go_live, lang)}", 0
    )
    if rectification:
        text = f"{label('chart.rectification', lang)} {format_date(rectification, lang)}"
        body += _day_mark(frame, rectification, text, 1)
    body += legend_row(_daily_legend(lang), 18)
    if not values:
        body.append(svg_text(WIDTH / 2, HEIGHT / 2, label("chart.no_data", lang), anchor="middle"))
    return svg_chart(_daily_title(kpi, lang), _daily_description(kpi, go_live, lang), body)


def _level_lines(kpi: KpiDoc, frame: Frame, levels: dict[str, float]) -> list[str]:
    base, report = kpi.baseline.period, kpi.reporting.period
    lines = []
    if "baseline" in levels:
        lines.append(
            _level(frame, base.start, base.end, levels["baseline"], BASELINE_COLOUR, False)
        )
    if "target" in levels:
        lines.append(_level(frame, report.start, report.end, levels["target"], INK, True))
    if "reporting" in levels:
        lines.append(
            _level(frame, report.start, report.end, levels["reporting"], REPORTING_COLOUR, False)
        )
    return lines


def _day_point(frame: Frame, point: DailyPointDoc, value: float) -> tuple[float, float, Style]:
    shape, colour = PLACE_STYLE.get(point.place, ("circle", OTHER_COLOUR))
    return frame.x(point.day.toordinal()), frame.y(value), Style(shape, colour, point.usable)


def _daily_legend(lang: Lang) -> list[tuple[str, str]]:
    return [
        (marker(0, 0, "circle", BASELINE_COLOUR, True, 3.5), place_text("baseline", lang)),
        (marker(0, 0, "square", REPORTING_COLOUR, True, 3.5), place_text("reporting", lang)),
        (marker(0, 0, "circle", OTHER_COLOUR, False, 3.5), label("chart.not_usable", lang)),
        (svg_line(-6, 0, 6, 0, INK, stroke_width="2"), label("chart.period_value", lang)),
        (
            svg_line(-6, 0, 6, 0, INK, stroke_width="2", stroke_dasharray="4 2"),
            label("chart.target_level", lang),
        ),
    ]


def _daily_title(kpi: KpiDoc, lang: Lang) -> str:
    return f"{kpi_name(kpi.kpi, lang)}: {label('chart.daily_title', lang)}"


def _daily_description(kpi: KpiDoc, go_live: dt.date, lang: Lang) -> str:
    return label("chart.daily_desc", lang).format(
        baseline=format_kpi_of_period(kpi.kpi, kpi.baseline, lang),
        baseline_days=format_count(kpi.baseline.usable_days),
        reporting=format_kpi_of_period(kpi.kpi, kpi.reporting, lang),
        reporting_days=format_count(kpi.reporting.usable_days),
        go_live=format_date(go_live, lang),
    )
