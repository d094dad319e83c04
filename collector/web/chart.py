"""A KPI's before/after chart as inline SVG: daily values, baseline and reporting shaded
differently, the go-live day as a vertical line. No script, no external file: it prints and
works offline. Text in the SVG is escaped; labels come from the caller's catalogue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from collector.evidence.document import DailyPointDoc

__all__ = ["before_after_svg"]

_W, _H = 640, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 14, 30
_COLOURS = {
    "baseline": "#52606d",
    "reporting": "#0b6e4f",
    "between": "#9aa5b1",
    "outside": "#9aa5b1",
}


def _scale(low: float, high: float, span: float) -> tuple[float, float]:
    if high <= low:
        low, high = low - 1.0, high + 1.0
    return low, span / (high - low)


def before_after_svg(
    points: Sequence[DailyPointDoc], go_live: dt.date, *, title: str, go_live_label: str
) -> str:
    """The chart's SVG text (an ``<svg role="img">`` with a title for screen readers)."""
    shown = [p for p in points if p.value is not None]
    if not shown:
        return ""
    days = [p.day for p in points] + [go_live]
    first, last = min(days), max(days)
    width_days = max((last - first).days, 1)
    values = [float(p.value) for p in shown if p.value is not None]
    low, per_unit = _scale(min(values), max(values), _H - _TOP - _BOTTOM)
    plot_w = _W - _LEFT - _RIGHT

    def x(day: dt.date) -> float:
        return _LEFT + plot_w * (day - first).days / width_days

    def y(value: float) -> float:
        return _H - _BOTTOM - (value - low) * per_unit

    faint = ' fill-opacity="0.35"'  # a day short of data: shown, but not as a full dot
    dots = "".join(
        f'<circle cx="{x(p.day):.1f}" cy="{y(float(p.value or 0)):.1f}" r="2.4" '
        f'fill="{_COLOURS[p.place]}"{"" if p.usable else faint}/>'
        for p in shown
    )
    top, bottom = min(values), max(values)
    axis = (
        f'<text x="{_LEFT - 6}" y="{y(bottom) + 4:.1f}" text-anchor="end">{bottom:.3g}</text>'
        f'<text x="{_LEFT - 6}" y="{y(top) + 4:.1f}" text-anchor="end">{top:.3g}</text>'
        f'<text x="{_LEFT}" y="{_H - 8}">{first.isoformat()}</text>'
        f'<text x="{_W - _RIGHT}" y="{_H - 8}" text-anchor="end">{last.isoformat()}</text>'
    )
    live = x(go_live)
    marker = (
        f'<line x1="{live:.1f}" x2="{live:.1f}" y1="{_TOP}" y2="{_H - _BOTTOM}" '
        'stroke="#b42318" stroke-width="1.5" stroke-dasharray="4 3"/>'
        f'<text x="{live + 4:.1f}" y="{_TOP + 10}" fill="#b42318">{escape(go_live_label)} '
        f"{go_live.isoformat()}</text>"
    )
    return (
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{_H - _TOP - _BOTTOM}" '
        'fill="none" stroke="#cbd2d9"/>'
        f"{axis}{marker}{dots}</svg>"
    )
