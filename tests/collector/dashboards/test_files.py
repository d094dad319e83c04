"""The shipped dashboard files: rules every panel keeps, and how variables are filled in."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from collector.dashboards import DashboardFileError, load_dashboard, load_dashboards
from collector.dashboards.check import ALL, TimeRange, interpolate, nice_interval_ms
from collector.dashboards.files import MAX_DASHBOARD_BYTES, Variable

DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"
RANGE = TimeRange(1_770_000_000_000, 1_780_000_000_000)


def test_dashboards_are_distinct_and_every_query_names_only_defined_variables() -> None:
    dashboards = load_dashboards(DASHBOARDS)
    assert len({d.uid for d in dashboards}) == len(dashboards) == 3
    for dashboard in dashboards:
        variables = {v.name: v for v in dashboard.variables}
        values = {name: "x" for name in variables}
        for spec in dashboard.queries:
            interpolate(spec.text, RANGE, variables, values, {})  # KeyError if undefined


def test_every_panel_reads_the_datasource_variable() -> None:
    for dashboard in load_dashboards(DASHBOARDS):
        for panel in dashboard.model["panels"]:
            assert panel["datasource"] == {"type": "influxdb", "uid": "${datasource}"}, panel
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}"


def test_kpis_are_ratios_of_sums_never_means_of_ratios() -> None:
    # docs/storage.md, docs/kpi.md: a KPI over a day is Σnumerator / Σdenominator.
    for dashboard in load_dashboards(DASHBOARDS):
        for spec in dashboard.queries:
            assert not re.search(r"\b(MEAN|MEDIAN|MODE)\s*\(", spec.text, re.I), spec.where
            if "kpi_daily" in spec.text and " / " in spec.text:
                assert "SUM(" in spec.text, spec.where


def test_values_are_escaped_as_grafana_escapes_them() -> None:
    multi = Variable("device", "query", "", True, True, ".*", None)
    single = Variable("tz", "custom", "Asia/Shanghai", False, False, None, "Asia/Shanghai")
    variables = {"device": multi, "tz": single}
    text = "WHERE \"device\" =~ /^$device$/ AND $timeFilter GROUP BY time($__interval) tz('$tz')"
    filled = interpolate(text, RANGE, variables, {"device": "press.1", "tz": "Asia/Shanghai"}, {})
    assert filled == (
        'WHERE "device" =~ /^press\\.1$/ AND time >= 1770000000000ms and time <= '
        "1780000000000ms GROUP BY time(3h) tz('Asia/Shanghai')"
    )
    every = interpolate("/^$device$/", RANGE, variables, {"device": ALL}, {})
    assert every == "/^.*$/"
    no_all_value = Variable("device", "query", "", True, True, None, None)
    listed = interpolate("/^[[device]]$/", RANGE, {"device": no_all_value},
                         {"device": ALL}, {"device": ["a/b", "c"]})  # fmt: skip
    assert listed == "/^(a\\/b|c)$/"
    assert nice_interval_ms(TimeRange(0, 86_400_000)) == 300_000  # a day: 5 min steps


def test_a_dashboard_we_cannot_check_is_refused_with_the_panel_named(tmp_path: Path) -> None:
    model = json.loads((DASHBOARDS / "fleet-health.json").read_text())
    model["panels"][1]["targets"][0]["rawQuery"] = False  # the visual query editor's form
    model["templating"]["list"].append({"name": "step", "type": "interval"})
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(model))
    with pytest.raises(DashboardFileError) as refused:
        load_dashboard(path)
    assert "panel 'Agents online over time' query A: not a raw InfluxQL query" in str(refused.value)
    assert "variable 'step': type 'interval' is not supported" in str(refused.value)
    path.write_text("{not json")
    with pytest.raises(DashboardFileError, match="not a readable JSON file"):
        load_dashboard(path)
    with pytest.raises(DashboardFileError, match=r"no \*\.json dashboard files"):
        load_dashboards(tmp_path / "empty")


@pytest.mark.timeout(30)  # a safety net: a FIFO once made `dashboards check` wait for ever (#14)
def test_a_fifo_or_directory_named_like_a_dashboard_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "a-fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(DashboardFileError) as caught:
        load_dashboards(tmp_path)
    assert str(caught.value) == (
        f"{fifo}: not a regular file (a FIFO), expected a dashboard JSON file"
    )
    fifo.unlink()
    (tmp_path / "b-folder.json").mkdir()
    with pytest.raises(DashboardFileError, match="is a directory, expected a dashboard JSON"):
        load_dashboards(tmp_path)


def test_a_dashboard_file_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as stream:  # sparse: no disk space used
        stream.truncate(8 << 30)
    with pytest.raises(DashboardFileError, match=f"more than the limit of {MAX_DASHBOARD_BYTES:,}"):
        load_dashboard(path)
