"""The pass-count chart: how many enterprises passed, against the platform's minimum."""

from __future__ import annotations

from typing import Final

from markupsafe import Markup

from collector.report.i18n import label
from collector.report.lang import Lang

from .svg import GRID, INK, REPORTING_COLOUR, WIDTH, coord, svg_chart, svg_line, svg_text

__all__ = ["pass_count_chart"]

_PASS_COLOUR: Final = "#1B7837"  # noqa: S105 - a colour, not a password


def pass_count_chart(passed: int, minimum: int, enterprises: int, lang: Lang) -> Markup:
    """A bar of passed enterprises against the platform's minimum (10) and its total."""
    height = 74.0
    scale_max = max(enterprises, minimum, passed, 1)
    left, right = 16.0, WIDTH - 16
    width = right - left

    def x(count: float) -> float:
        return left + count / scale_max * width

    met = passed >= minimum
    colour = _PASS_COLOUR if met else REPORTING_COLOUR
    body = [
        f'<rect x="{coord(left)}" y="22" width="{coord(width)}" height="22" fill="#EEEEEE" '
        f'stroke="{GRID}"/>',
        f'<rect x="{coord(left)}" y="22" width="{coord(x(passed) - left)}" height="22" '
        f'fill="{colour}"/>',
        svg_line(x(minimum), 14, x(minimum), 52, INK, stroke_width="2"),
        svg_text(
            x(minimum),
            66,
            label("chart.minimum", lang).format(minimum=minimum),
            anchor="middle",
            size=10,
            weight="bold",
        ),
        svg_text(
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
    return svg_chart(label("chart.pass_title", lang), description, body, height=height)
