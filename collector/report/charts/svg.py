"""The SVG primitives of the report's charts: frame, text, lines, markers, axes, legend.

Hand-written SVG rather than a plotting library (docs/report.md, "Charts"): three chart kinds
with fixed layouts need no more, the output is the same bytes for the same document (every
coordinate is printed with one decimal, nothing carries a clock or a random id), it prints
sharp at any size, and WeasyPrint and Chromium both draw it. :func:`svg_chart` makes each chart
a :class:`markupsafe.Markup` with ``role="img"``, a ``<title>`` and a ``<desc>`` giving the
figures in words; every text from the document is escaped.

Colours are Okabe–Ito (safe for colour-blind readers), and baseline and reporting also differ
by marker shape (circle, square) so a grey-scale print still tells them apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

from collector.report.formatting import format_number, visible_controls

__all__ = [
    "BASELINE_COLOUR",
    "GRID",
    "HEIGHT",
    "INK",
    "OTHER_COLOUR",
    "PLACE_STYLE",
    "REPORTING_COLOUR",
    "WIDTH",
    "Frame",
    "Style",
    "coord",
    "legend_row",
    "marker",
    "markers",
    "nice_ticks",
    "svg_chart",
    "svg_line",
    "svg_text",
    "tick_digits",
    "y_axis",
]

BASELINE_COLOUR: Final = "#0072B2"
REPORTING_COLOUR: Final = "#D55E00"
OTHER_COLOUR: Final = "#6E6E6E"
INK: Final = "#1A1A1A"
GRID: Final = "#D9D9D9"
_FONT: Final = "Noto Sans CJK SC, Noto Sans, sans-serif"

WIDTH: Final = 720.0
HEIGHT: Final = 300.0


@dataclass(frozen=True, slots=True)
class Frame:
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


def coord(value: float) -> str:
    # One decimal is finer than any printer; fixed formatting keeps the bytes stable.
    return f"{value:.1f}"


def svg_text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: float = 11.0,
    fill: str = INK,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{coord(x)}" y="{coord(y)}" font-size="{size:g}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}">{escape(visible_controls(content))}</text>'
    )


def svg_line(x1: float, y1: float, x2: float, y2: float, stroke: str, **extra: str) -> str:
    attributes = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in extra.items())
    return (
        f'<line x1="{coord(x1)}" y1="{coord(y1)}" x2="{coord(x2)}" y2="{coord(y2)}" '
        f'stroke="{stroke}"{attributes}/>'
    )


def marker(x: float, y: float, shape: str, colour: str, filled: bool, size: float = 2.6) -> str:
    fill = colour if filled else "#FFFFFF"
    if shape == "square":
        return (
            f'<rect x="{coord(x - size)}" y="{coord(y - size)}" width="{coord(2 * size)}" '
            f'height="{coord(2 * size)}" fill="{fill}" stroke="{colour}" stroke-width="1"/>'
        )
    return (
        f'<circle cx="{coord(x)}" cy="{coord(y)}" r="{coord(size)}" fill="{fill}" '
        f'stroke="{colour}" stroke-width="1"/>'
    )


@dataclass(frozen=True, slots=True)
class Style:
    """How one series of markers looks."""

    shape: str
    colour: str
    filled: bool


def _marker_path(x: float, y: float, shape: str, size: float) -> str:
    if shape == "square":
        side = coord(2 * size)
        return f"M{coord(x - size)},{coord(y - size)}h{side}v{side}h-{side}z"
    # A circle as two half arcs: path data, so a whole series is one element.
    return (
        f"M{coord(x - size)},{coord(y)}a{coord(size)},{coord(size)} 0 1,0 {coord(2 * size)},0"
        + (f"a{coord(size)},{coord(size)} 0 1,0 -{coord(2 * size)},0z")
    )


def markers(points: Iterable[tuple[float, float, Style]], size: float = 2.6) -> list[str]:
    """One ``<path class="markers">`` per marker style, every point a sub-path.

    Hundreds of days as hundreds of elements cost WeasyPrint seconds per chart (each element is
    styled and laid out); one path per series draws the same picture.
    """
    series: dict[Style, list[str]] = {}
    for x, y, style in points:
        series.setdefault(style, []).append(_marker_path(x, y, style.shape, size))
    return [
        f'<path class="markers" d="{"".join(parts)}" '
        f'fill="{style.colour if style.filled else "#FFFFFF"}" stroke="{style.colour}" '
        f'stroke-width="1"/>'
        for style, parts in series.items()
    ]


def svg_chart(title: str, description: str, body: Iterable[str], height: float = HEIGHT) -> Markup:
    # The chart is self-describing: role="img" with a title and a description in words, so a
    # screen reader (and a reviewer without the picture) gets the figures.
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:g} {height:g}" '
        f'width="{WIDTH:g}" height="{height:g}" role="img" class="chart" '
        f'font-family="{_FONT}">',
        f"<title>{escape(visible_controls(title))}</title>",
        f"<desc>{escape(visible_controls(description))}</desc>",
        f'<rect x="0" y="0" width="{WIDTH:g}" height="{height:g}" fill="#FFFFFF"/>',
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


def tick_digits(ticks: Sequence[float]) -> int:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    return max(0, -math.floor(math.log10(step))) if step < 1 else 0


def y_axis(frame: Frame, ticks: Sequence[float], unit: str) -> list[str]:
    digits = tick_digits(ticks)
    parts = []
    for tick in ticks:
        y = frame.y(tick)
        parts.append(svg_line(frame.left, y, frame.right, y, GRID, stroke_width="0.8"))
        parts.append(svg_text(frame.left - 6, y + 4, format_number(tick, digits), anchor="end"))
    parts.append(svg_text(frame.left - 6, frame.top - 10, unit, anchor="end", size=10))
    return parts


PLACE_STYLE: Final[dict[str, tuple[str, str]]] = {
    "baseline": ("circle", BASELINE_COLOUR),
    "reporting": ("square", REPORTING_COLOUR),
    "between": ("circle", OTHER_COLOUR),
    "outside": ("circle", OTHER_COLOUR),
}


def legend_row(items: Sequence[tuple[str, str]], y: float) -> list[str]:
    """Legend entries (symbol SVG drawn at the origin, text) in one row from the left."""
    parts, x = [], 64.0
    for symbol, text in items:
        parts.append(f'<g transform="translate({coord(x)},{coord(y)})">{symbol}</g>')
        parts.append(svg_text(x + 14, y + 4, text, size=10))
        x += 24 + 10.5 * _display_width(text)
    return parts


def _display_width(text: str) -> float:
    # CJK characters are about twice as wide as Latin ones at the same font size.
    return sum(1.0 if ord(char) > 0x2E80 else 0.55 for char in text)
