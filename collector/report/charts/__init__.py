"""Charts of the evidence as inline SVG: daily KPI before/after, energy model fit, pass count.

``svg`` holds the primitives (frame, text, lines, markers, axes, legend, the palette) and the
reasoning behind hand-written SVG; ``daily``, ``energy`` and ``pass_count`` draw one chart kind
each. The report's templates reach these functions through ``collector.report.html``; the web
app calls :func:`daily_kpi_chart` directly.
"""

from .daily import daily_kpi_chart, target_level
from .energy import energy_model_chart
from .pass_count import pass_count_chart
from .svg import BASELINE_COLOUR, REPORTING_COLOUR, nice_ticks

__all__ = [
    "BASELINE_COLOUR",
    "REPORTING_COLOUR",
    "daily_kpi_chart",
    "energy_model_chart",
    "nice_ticks",
    "pass_count_chart",
    "target_level",
]
