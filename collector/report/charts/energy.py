"""The energy model chart: daily energy against good output, with the fitted baseline model."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from collector.evidence.document import EnergyDoc, EnergyPointDoc
from collector.report.formatting import format_count, format_number
from collector.report.i18n import label, place_text
from collector.report.lang import Lang

from .svg import (
    BASELINE_COLOUR,
    HEIGHT,
    INK,
    PLACE_STYLE,
    REPORTING_COLOUR,
    WIDTH,
    Frame,
    Style,
    legend_row,
    marker,
    markers,
    nice_ticks,
    svg_chart,
    svg_line,
    svg_text,
    tick_digits,
    y_axis,
)

__all__ = ["energy_model_chart"]


def _energy_frame(points: Sequence[EnergyPointDoc], line: Sequence[float]) -> Frame:
    xs = [p.good_count for p in points]
    ys = [p.energy_kwh for p in points] + list(line)
    x_ticks = nice_ticks(min(xs), max(xs)) if xs else [0.0, 1.0]
    y_ticks = nice_ticks(min(ys), max(ys)) if ys else [0.0, 1.0]
    return Frame(80, 40, WIDTH - 16, HEIGHT - 44, x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1])


def _x_number_axis(frame: Frame, title: str) -> list[str]:
    ticks = nice_ticks(frame.x_low, frame.x_high)
    ticks = [tick for tick in ticks if frame.x_low <= tick <= frame.x_high]
    digits = tick_digits(ticks)
    parts = [svg_line(frame.left, frame.bottom, frame.right, frame.bottom, INK)]
    for tick in ticks:
        x = frame.x(tick)
        parts.append(svg_line(x, frame.bottom, x, frame.bottom + 4, INK))
        parts.append(svg_text(x, frame.bottom + 16, format_number(tick, digits), anchor="middle"))
    parts.append(
        svg_text((frame.left + frame.right) / 2, frame.bottom + 34, title, anchor="middle")
    )
    return parts


def _fitted_line(energy: EnergyDoc, frame: Frame) -> list[str]:
    """The model's line over its output range (solid) and beyond it (dashed, extrapolated).

    Drawn only for the one-driver model E = b₀ + b₁·G; with planned hours as a second driver
    the model is a plane, and each day's model value is marked instead.
    """
    model = energy.model
    if len(model.coefficients) != 2:
        model_style = Style("circle", INK, False)
        return markers(
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
            svg_line(
                frame.x(start),
                frame.y(b0 + b1 * start),
                frame.x(end),
                frame.y(b0 + b1 * end),
                INK,
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
        *y_axis(frame, y_ticks, label("chart.energy_y", lang)),
        *_x_number_axis(frame, label("chart.energy_x", lang)),
        *_fitted_line(energy, frame),
    ]
    body += markers(
        (frame.x(p.good_count), frame.y(p.energy_kwh), Style(*PLACE_STYLE[p.role], True))
        for p in energy.points
    )
    legend = [
        (marker(0, 0, "circle", BASELINE_COLOUR, True, 3.5), place_text("baseline", lang)),
        (marker(0, 0, "square", REPORTING_COLOUR, True, 3.5), place_text("reporting", lang)),
        (svg_line(-6, 0, 6, 0, INK, stroke_width="2"), label("chart.energy_model", lang)),
        (
            svg_line(-6, 0, 6, 0, INK, stroke_width="2", stroke_dasharray="4 2"),
            label("chart.extrapolated", lang),
        ),
    ]
    body += legend_row(legend, 14)
    return svg_chart(label("chart.energy_title", lang), _energy_description(energy, lang), body)


def _energy_description(energy: EnergyDoc, lang: Lang) -> str:
    model = energy.model
    return label("chart.energy_desc", lang).format(
        baseline_days=format_count(model.n),
        reporting_days=format_count(energy.reporting_days),
        r_squared=format_number(model.r_squared, 3),
        cv_rmse=format_number(model.cv_rmse_pct, 2),
        savings=format_number(energy.savings_pct, 2),
    )
