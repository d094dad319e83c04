"""Charts of the evidence as inline SVG: daily KPI before/after, energy model fit, pass count.

Hand-written SVG rather than a plotting library (docs/report.md, "Charts"): three chart kinds
with fixed layouts need no more, the output is the same bytes for the same document (every
coordinate is printed with one decimal, nothing carries a clock or a random id), it prints
sharp at any size, and WeasyPrint and Chromium both draw it. Each chart is a
:class:`markupsafe.Markup` with ``role="img"``, a ``<title>`` and a ``<desc>`` giving the
figures in words; every text from the document is escaped.

Colours are Okabe–Ito (safe for colour-blind readers), and baseline and reporting also differ
by marker shape (circle, square) so a grey-scale print still tells them apart.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

from collector.evidence.document import (
    DailyPointDoc,
    EnergyDoc,
    EnergyPointDoc,
    KpiDoc,
    TargetDoc,
)
from collector.report.formatting import (
    format_count,
    format_date,
    format_kpi,
    format_number,
    kpi_display,
    visible_controls,
)
from collector.report.i18n import kpi_name, label, place_text
from collector.report.lang import Lang

__all__ = [
    "BASELINE_COLOUR",
    "REPORTING_COLOUR",
    "daily_kpi_chart",
    "energy_model_chart",
    "nice_ticks",
    "pass_count_chart",
    "target_level",
]

BASELINE_COLOUR: Final = "#0072B2"
REPORTING_COLOUR: Final = "#D55E00"
_OTHER_COLOUR: Final = "#6E6E6E"
_INK: Final = "#1A1A1A"
_GRID: Final = "#D9D9D9"
_BASELINE_BAND: Final = "#E3EEF7"
_REPORTING_BAND: Final = "#FAEBE1"
_PASS_COLOUR: Final = "#1B7837"  # noqa: S105 - a colour, not a password
_FONT: Final = "Noto Sans CJK SC, Noto Sans, sans-serif"

_WIDTH: Final = 720.0
_HEIGHT: Final = 300.0


@dataclass(frozen=True, slots=True)
class _Frame:
    """The plot area inside the chart, in SVG user units, and the data ranges it shows."""

    left: float
    top: float
    right: float
    bottom: float
    x_low: float
    x_high: float
    y_low: float
    y_high: float

    def x(self, value: float) -> float:
        span = self.x_high - self.x_low or 1.0
        return self.left + (value - self.x_low) / span * (self.right - self.left)

    def y(self, value: float) -> float:
        span = self.y_high - self.y_low or 1.0
        return self.bottom - (value - self.y_low) / span * (self.bottom - self.top)


def _n(value: float) -> str:
    # One decimal is finer than any printer; fixed formatting keeps the bytes stable.
    return f"{value:.1f}"


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: float = 11.0,
    fill: str = _INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size:g}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}">{escape(visible_controls(content))}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, **extra: str) -> str:
    attributes = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in extra.items())
    return (
        f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
        f'stroke="{stroke}"{attributes}/>'
    )


def _marker(x: float, y: float, shape: str, colour: str, filled: bool, size: float = 2.6) -> str:
    fill = colour if filled else "#FFFFFF"
    if shape == "square":
        return (
            f'<rect x="{_n(x - size)}" y="{_n(y - size)}" width="{_n(2 * size)}" '
            f'height="{_n(2 * size)}" fill="{fill}" stroke="{colour}" stroke-width="1"/>'
        )
    return (
        f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(size)}" fill="{fill}" '
        f'stroke="{colour}" stroke-width="1"/>'
    )


@dataclass(frozen=True, slots=True)
class _Style:
    """How one series of markers looks."""

    shape: str
    colour: str
    filled: bool


def _marker_path(x: float, y: float, shape: str, size: float) -> str:
    if shape == "square":
        side = _n(2 * size)
        return f"M{_n(x - size)},{_n(y - size)}h{side}v{side}h-{side}z"
    # A circle as two half arcs: path data, so a whole series is one element.
    return f"M{_n(x - size)},{_n(y)}a{_n(size)},{_n(size)} 0 1,0 {_n(2 * size)},0" + (
        f"a{_n(size)},{_n(size)} 0 1,0 -{_n(2 * size)},0z"
    )


def _markers(points: Iterable[tuple[float, float, _Style]], size: float = 2.6) -> list[str]:
    """One ``<path class="markers">`` per marker style, every point a sub-path.

    Hundreds of days as hundreds of elements cost WeasyPrint seconds per chart (each element is
    styled and laid out); one path per series draws the same picture.
    """
    series: dict[_Style, list[str]] = {}
    for x, y, style in points:
        series.setdefault(style, []).append(_marker_path(x, y, style.shape, size))
    return [
        f'<path class="markers" d="{"".join(parts)}" '
        f'fill="{style.colour if style.filled else "#FFFFFF"}" stroke="{style.colour}" '
        f'stroke-width="1"/>'
        for style, parts in series.items()
    ]


def _svg(title: str, description: str, body: Iterable[str], height: float = _HEIGHT) -> Markup:
    # The chart is self-describing: role="img" with a title and a description in words, so a
    # screen reader (and a reviewer without the picture) gets the figures.
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH:g} {height:g}" '
        f'width="{_WIDTH:g}" height="{height:g}" role="img" class="chart" '
        f'font-family="{_FONT}">',
        f"<title>{escape(visible_controls(title))}</title>",
        f"<desc>{escape(visible_controls(description))}</desc>",
        f'<rect x="0" y="0" width="{_WIDTH:g}" height="{height:g}" fill="#FFFFFF"/>',
        *body,
        "</svg>",
    ]
    # Safe: every piece is our own markup with numbers, or text passed through escape().
    return Markup("\n".join(parts))  # noqa: S704


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 × 10^k, about ``count``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"ticks for [{low}, {high}]: expected finite bounds")
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _tick_digits(ticks: Sequence[float]) -> int:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    return max(0, -math.floor(math.log10(step))) if step < 1 else 0


def _y_axis(frame: _Frame, ticks: Sequence[float], unit: str) -> list[str]:
    digits = _tick_digits(ticks)
    parts = []
    for tick in ticks:
        y = frame.y(tick)
        parts.append(_line(frame.left, y, frame.right, y, _GRID, stroke_width="0.8"))
        parts.append(_text(frame.left - 6, y + 4, format_number(tick, digits), anchor="end"))
    parts.append(_text(frame.left - 6, frame.top - 10, unit, anchor="end", size=10))
    return parts


def target_level(target: TargetDoc, baseline_value: float) -> float | None:
    """The reporting value that would meet the target exactly, in the KPI's stored unit.

    ``pp`` targets move a share by ``size / 100``; ``%`` targets scale the baseline value.
    """
    sign = 1.0 if target.direction == "increase" else -1.0
    if target.unit == "pp":
        return baseline_value + sign * target.size / 100.0
    return baseline_value * (1.0 + sign * target.size / 100.0)


_PLACE_STYLE: Final[dict[str, tuple[str, str]]] = {
    "baseline": ("circle", BASELINE_COLOUR),
    "reporting": ("square", REPORTING_COLOUR),
    "between": ("circle", _OTHER_COLOUR),
    "outside": ("circle", _OTHER_COLOUR),
}


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


def _x_date_axis(frame: _Frame, first: dt.date, last: dt.date, lang: Lang) -> list[str]:
    ticks = _month_ticks(first, last)
    if not ticks:
        ticks = [first, last]
    parts = [_line(frame.left, frame.bottom, frame.right, frame.bottom, _INK)]
    for day in ticks:
        x = frame.x(day.toordinal())
        parts.append(_line(x, frame.bottom, x, frame.bottom + 4, _INK))
        text = _month_text(day, lang) if day.day == 1 else format_date(day, lang)
        parts.append(_text(x, frame.bottom + 17, text, anchor="middle", size=10))
    return parts


def _band(frame: _Frame, start: dt.date, end: dt.date, colour: str) -> str:
    # A period covers whole days: from the start of its first to the end of its last.
    x1, x2 = frame.x(start.toordinal() - 0.5), frame.x(end.toordinal() + 0.5)
    x1, x2 = max(x1, frame.left), min(x2, frame.right)
    return (
        f'<rect x="{_n(x1)}" y="{_n(frame.top)}" width="{_n(max(x2 - x1, 0.0))}" '
        f'height="{_n(frame.bottom - frame.top)}" fill="{colour}"/>'
    )


def _level(
    frame: _Frame, start: dt.date, end: dt.date, value: float, colour: str, dashed: bool
) -> str:
    x1, x2 = frame.x(start.toordinal() - 0.5), frame.x(end.toordinal() + 0.5)
    y = frame.y(value)
    dash = {"stroke_dasharray": "6 4"} if dashed else {}
    return _line(x1, y, x2, y, colour, stroke_width="2", **dash)


def _day_mark(frame: _Frame, day: dt.date, text: str, row: int) -> list[str]:
    x = frame.x(day.toordinal() - 0.5)
    return [
        _line(x, frame.top, x, frame.bottom, _INK, stroke_width="1.2", stroke_dasharray="3 3"),
        _text(x + 4, frame.top + 12 + 13 * row, text, size=10, weight="bold"),
    ]


def _legend(items: Sequence[tuple[str, str]], y: float) -> list[str]:
    """Legend entries (symbol SVG drawn at the origin, text) in one row from the left."""
    parts, x = [], 64.0
    for symbol, text in items:
        parts.append(f'<g transform="translate({_n(x)},{_n(y)})">{symbol}</g>')
        parts.append(_text(x + 14, y + 4, text, size=10))
        x += 24 + 10.5 * _display_width(text)
    return parts


def _display_width(text: str) -> float:
    # CJK characters are about twice as wide as Latin ones at the same font size.
    return sum(1.0 if ord(char) > 0x2E80 else 0.55 for char in text)


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
    frame = _Frame(
        72,
        48,
        _WIDTH - 16,
        _HEIGHT - 36,
        first.toordinal() - 0.5,
        last.toordinal() + 0.5,
        ticks[0],
        ticks[-1],
    )
    body = [
        _band(frame, kpi.baseline.period.start, kpi.baseline.period.end, _BASELINE_BAND),
        _band(frame, kpi.reporting.period.start, kpi.reporting.period.end, _REPORTING_BAND),
        *_y_axis(frame, ticks, kpi_display(kpi.kpi).unit.get(lang).strip()),
        *_x_date_axis(frame, first, last, lang),
    ]
    body += _level_lines(kpi, frame, levels)
    body += _markers(_day_point(frame, point, value) for point, value in values)
    body += _day_mark(
        frame, go_live, f"{label('chart.go_live', lang)} {format_date(go_live, lang)}", 0
    )
    if rectification:
        text = f"{label('chart.rectification', lang)} {format_date(rectification, lang)}"
        body += _day_mark(frame, rectification, text, 1)
    body += _legend(_daily_legend(lang), 18)
    if not values:
        body.append(_text(_WIDTH / 2, _HEIGHT / 2, label("chart.no_data", lang), anchor="middle"))
    return _svg(_daily_title(kpi, lang), _daily_description(kpi, go_live, lang), body)


def _level_lines(kpi: KpiDoc, frame: _Frame, levels: dict[str, float]) -> list[str]:
    base, report = kpi.baseline.period, kpi.reporting.period
    lines = []
    if "baseline" in levels:
        lines.append(
            _level(frame, base.start, base.end, levels["baseline"], BASELINE_COLOUR, False)
        )
    if "target" in levels:
        lines.append(_level(frame, report.start, report.end, levels["target"], _INK, True))
    if "reporting" in levels:
        lines.append(
            _level(frame, report.start, report.end, levels["reporting"], REPORTING_COLOUR, False)
        )
    return lines


def _day_point(frame: _Frame, point: DailyPointDoc, value: float) -> tuple[float, float, _Style]:
    shape, colour = _PLACE_STYLE.get(point.place, ("circle", _OTHER_COLOUR))
    return frame.x(point.day.toordinal()), frame.y(value), _Style(shape, colour, point.usable)


def _daily_legend(lang: Lang) -> list[tuple[str, str]]:
    return [
        (_marker(0, 0, "circle", BASELINE_COLOUR, True, 3.5), place_text("baseline", lang)),
        (_marker(0, 0, "square", REPORTING_COLOUR, True, 3.5), place_text("reporting", lang)),
        (_marker(0, 0, "circle", _OTHER_COLOUR, False, 3.5), label("chart.not_usable", lang)),
        (_line(-6, 0, 6, 0, _INK, stroke_width="2"), label("chart.period_value", lang)),
        (
            _line(-6, 0, 6, 0, _INK, stroke_width="2", stroke_dasharray="4 2"),
            label("chart.target_level", lang),
        ),
    ]


def _daily_title(kpi: KpiDoc, lang: Lang) -> str:
    return f"{kpi_name(kpi.kpi, lang)}: {label('chart.daily_title', lang)}"


def _daily_description(kpi: KpiDoc, go_live: dt.date, lang: Lang) -> str:
    return label("chart.daily_desc", lang).format(
        baseline=format_kpi(kpi.kpi, kpi.baseline.value, lang),
        baseline_days=format_count(kpi.baseline.usable_days),
        reporting=format_kpi(kpi.kpi, kpi.reporting.value, lang),
        reporting_days=format_count(kpi.reporting.usable_days),
        go_live=format_date(go_live, lang),
    )


def _energy_frame(points: Sequence[EnergyPointDoc], line: Sequence[float]) -> _Frame:
    xs = [p.good_count for p in points]
    ys = [p.energy_kwh for p in points] + list(line)
    x_ticks = nice_ticks(min(xs), max(xs)) if xs else [0.0, 1.0]
    y_ticks = nice_ticks(min(ys), max(ys)) if ys else [0.0, 1.0]
    return _Frame(
        80, 40, _WIDTH - 16, _HEIGHT - 44, x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]
    )


def _x_number_axis(frame: _Frame, title: str) -> list[str]:
    ticks = nice_ticks(frame.x_low, frame.x_high)
    ticks = [tick for tick in ticks if frame.x_low <= tick <= frame.x_high]
    digits = _tick_digits(ticks)
    parts = [_line(frame.left, frame.bottom, frame.right, frame.bottom, _INK)]
    for tick in ticks:
        x = frame.x(tick)
        parts.append(_line(x, frame.bottom, x, frame.bottom + 4, _INK))
        parts.append(_text(x, frame.bottom + 16, format_number(tick, digits), anchor="middle"))
    parts.append(_text((frame.left + frame.right) / 2, frame.bottom + 34, title, anchor="middle"))
    return parts


def _fitted_line(energy: EnergyDoc, frame: _Frame) -> list[str]:
    """The model's line over its output range (solid) and beyond it (dashed, extrapolated).

    Drawn only for the one-driver model E = b₀ + b₁·G; with planned hours as a second driver
    the model is a plane, and each day's model value is marked instead.
    """
    model = energy.model
    if len(model.coefficients) != 2:
        model_style = _Style("circle", _INK, False)
        return _markers(
            ((frame.x(p.good_count), frame.y(p.model_kwh), model_style) for p in energy.points),
            size=1.6,
        )
    b0, b1 = model.coefficients
    low, high = model.output_range
    parts = []
    segments = [(frame.x_low, low, True), (low, high, False), (high, frame.x_high, True)]
    for start, end, dashed in segments:
        if end <= start:
            continue
        dash = {"stroke_dasharray": "5 4"} if dashed else {}
        parts.append(
            _line(
                frame.x(start),
                frame.y(b0 + b1 * start),
                frame.x(end),
                frame.y(b0 + b1 * end),
                _INK,
                stroke_width="1.6",
                **dash,
            )
        )
    return parts


def _model_line_values(energy: EnergyDoc) -> list[float]:
    model = energy.model
    if len(model.coefficients) != 2 or not energy.points:
        return [p.model_kwh for p in energy.points]
    b0, b1 = model.coefficients
    xs = [p.good_count for p in energy.points]
    return [b0 + b1 * min(xs), b0 + b1 * max(xs)]


def energy_model_chart(energy: EnergyDoc, lang: Lang) -> Markup:
    """Daily energy against daily good output: baseline days, the fitted model, reporting days.

    Reporting days below the line used less energy than the baseline model predicts for their
    output: that vertical distance, summed, is the avoided energy (method §4).
    """
    frame = _energy_frame(energy.points, _model_line_values(energy))
    y_ticks = [t for t in nice_ticks(frame.y_low, frame.y_high) if t <= frame.y_high]
    body = [
        *_y_axis(frame, y_ticks, label("chart.energy_y", lang)),
        *_x_number_axis(frame, label("chart.energy_x", lang)),
        *_fitted_line(energy, frame),
    ]
    body += _markers(
        (frame.x(p.good_count), frame.y(p.energy_kwh), _Style(*_PLACE_STYLE[p.role], True))
        for p in energy.points
    )
    legend = [
        (_marker(0, 0, "circle", BASELINE_COLOUR, True, 3.5), place_text("baseline", lang)),
        (_marker(0, 0, "square", REPORTING_COLOUR, True, 3.5), place_text("reporting", lang)),
        (_line(-6, 0, 6, 0, _INK, stroke_width="2"), label("chart.energy_model", lang)),
        (
            _line(-6, 0, 6, 0, _INK, stroke_width="2", stroke_dasharray="4 2"),
            label("chart.extrapolated", lang),
        ),
    ]
    body += _legend(legend, 14)
    return _svg(label("chart.energy_title", lang), _energy_description(energy, lang), body)


def _energy_description(energy: EnergyDoc, lang: Lang) -> str:
    model = energy.model
    return label("chart.energy_desc", lang).format(
        baseline_days=format_count(model.n),
        reporting_days=format_count(energy.reporting_days),
        r_squared=format_number(model.r_squared, 3),
        cv_rmse=format_number(model.cv_rmse_pct, 2),
        savings=format_number(energy.savings_pct, 2),
    )


def pass_count_chart(passed: int, minimum: int, enterprises: int, lang: Lang) -> Markup:
    """A bar of passed enterprises against the platform's minimum (10) and its total."""
    height = 74.0
    scale_max = max(enterprises, minimum, passed, 1)
    left, right = 16.0, _WIDTH - 16
    width = right - left

    def x(count: float) -> float:
        return left + count / scale_max * width

    met = passed >= minimum
    colour = _PASS_COLOUR if met else REPORTING_COLOUR
    body = [
        f'<rect x="{_n(left)}" y="22" width="{_n(width)}" height="22" fill="#EEEEEE" '
        f'stroke="{_GRID}"/>',
        f'<rect x="{_n(left)}" y="22" width="{_n(x(passed) - left)}" height="22" fill="{colour}"/>',
        _line(x(minimum), 14, x(minimum), 52, _INK, stroke_width="2"),
        _text(
            x(minimum),
            66,
            label("chart.minimum", lang).format(minimum=minimum),
            anchor="middle",
            size=10,
            weight="bold",
        ),
        _text(
            left,
            14,
            label("chart.passed_of", lang).format(passed=passed, total=enterprises),
            size=11,
            weight="bold",
        ),
    ]
    description = label("chart.pass_desc", lang).format(
        passed=passed, total=enterprises, minimum=minimum
    )
    return _svg(label("chart.pass_title", lang), description, body, height=height)
