"""SVG charts: well-formed, described, escaped, deterministic (collector/report/charts/)."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest

from collector.evidence.document import TargetDoc
from collector.report.charts import (
    daily_kpi_chart,
    energy_model_chart,
    nice_ticks,
    pass_count_chart,
    target_level,
)
from tests.collector.report import samples

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it is well-formed
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    return root


def test_daily_chart_is_well_formed_with_title_description_and_every_point() -> None:
    doc = samples.passing()
    kpi = doc.attempts[0].kpis[0]
    root = _parse(daily_kpi_chart(kpi, doc.enterprise.go_live, "zh-CN"))
    assert root.findtext(f"{SVG}title") == "设备综合效率（OEE）: 日值（改造前后）"
    description = root.findtext(f"{SVG}desc") or ""
    assert "2024年5月6日" in description and "64.46%" in description
    # Every day with a value is one marker (a sub-path of its series' path), no more.
    series = [path for path in root.iter(f"{SVG}path") if path.get("class") == "markers"]
    markers = sum((path.get("d") or "").count("M") for path in series)
    assert markers == sum(1 for point in kpi.daily if point.value is not None)
    # Baseline, reporting, between; usable and not: at most six series.
    assert 3 <= len(series) <= 6
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "上线 2024年5月6日" in texts


def test_same_document_gives_the_same_bytes() -> None:
    first, second = samples.passing(), samples.passing()
    kpi_a, kpi_b = first.attempts[0].kpis[2], second.attempts[0].kpis[2]
    go_live = first.enterprise.go_live
    assert daily_kpi_chart(kpi_a, go_live, "en") == daily_kpi_chart(kpi_b, go_live, "en")
    assert kpi_a.energy is not None and kpi_b.energy is not None
    assert energy_model_chart(kpi_a.energy, "en") == energy_model_chart(kpi_b.energy, "en")


def test_energy_chart_draws_the_model_over_its_range_and_dashes_the_extrapolation() -> None:
    energy = samples.passing().attempts[0].kpis[2].energy
    assert energy is not None
    root = _parse(energy_model_chart(energy, "en"))
    model = [line for line in root.iter(f"{SVG}line") if line.get("stroke-width") == "1.6"]
    solid = [line for line in model if line.get("stroke-dasharray") is None]
    dashed = [line for line in model if line.get("stroke-dasharray") == "5 4"]
    assert len(solid) == 1  # the model over the baseline's output range
    assert dashed  # reporting output reaches beyond it: extrapolated, dashed
    assert float(solid[0].get("x2") or 0) - float(solid[0].get("x1") or 0) > 100
    assert "R² 0." in (root.findtext(f"{SVG}desc") or "")


def test_rectification_date_is_marked() -> None:
    doc = samples.rectified()
    second = doc.attempts[1]
    svg = daily_kpi_chart(
        second.kpis[0], doc.enterprise.go_live, "en", rectification=second.rectification_date
    )
    assert "rectification 2024-10-15" in svg


def test_text_from_the_document_is_escaped() -> None:
    doc = samples.passing()
    kpi = doc.attempts[0].kpis[0].model_copy(update={"kpi": "<script>x</script>"})
    svg = daily_kpi_chart(kpi, doc.enterprise.go_live, "en")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    _parse(svg)


def test_pass_count_chart() -> None:
    root = _parse(pass_count_chart(9, 10, 12, "en"))
    assert root.findtext(f"{SVG}desc") == "9 of 12 enterprises passed; the minimum is 10."


def test_a_kpi_without_any_value_still_draws() -> None:
    doc = samples.passing()
    kpi = doc.attempts[0].kpis[0]
    empty = kpi.model_copy(
        update={
            "daily": [p.model_copy(update={"value": None}) for p in kpi.daily],
            "baseline": kpi.baseline.model_copy(update={"value": None}),
            "reporting": kpi.reporting.model_copy(update={"value": None}),
        }
    )
    assert "no data" in daily_kpi_chart(empty, doc.enterprise.go_live, "en")


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]), (53.2, 87.9, [50, 60, 70, 80, 90]),
     (5.0, 5.0, [5.0, 6.0, 7.0, 8.0, 9.0, 10.0])],
)  # fmt: skip
def test_nice_ticks(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_target_level() -> None:
    up_pp = TargetDoc(kpi="oee", direction="increase", size=5.0, unit="pp", required=True)
    down_pct = TargetDoc(kpi="e", direction="decrease", size=10.0, unit="%", required=True)
    assert target_level(up_pp, 0.60) == pytest.approx(0.65)
    assert target_level(down_pct, 0.20) == pytest.approx(0.18)


def test_month_ticks_carry_the_year_and_stay_few_over_a_long_span() -> None:
    doc = samples.rectified()  # baseline January 2024 to the second reporting January 2025
    root = _parse(daily_kpi_chart(doc.attempts[1].kpis[0], doc.enterprise.go_live, "en"))
    months = [
        t.text or "" for t in root.iter(f"{SVG}text") if re.fullmatch(r"\d{4}-\d{2}", t.text or "")
    ]
    assert months == sorted(months) and 4 <= len(months) <= 8
    first, last = (
        dt.date.fromisoformat(months[0] + "-01"),
        dt.date.fromisoformat(months[-1] + "-01"),
    )
    assert (last - first).days > 250
