"""``dashboards check`` against a real influxd filled through the real store and feed paths.

Every panel, annotation and variable of the shipped dashboards must return data from what the
collector writes; with the feed's measurements missing, the panels that read them are named.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.dashboards import load_dashboards
from collector.dashboards.check import check_dashboard
from collector.registry import Registry
from collector.store import InfluxStore
from stack import InfluxServer
from tests.collector.dashboards.fill import fill_day_seals, fill_feed, fill_registry, fill_windows

pytestmark = pytest.mark.timeout(120)

DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"
NOW = dt.datetime.now(dt.UTC)


def fill(influxd: InfluxServer, tmp_path: Path, *, feed: bool, honest: bool = False) -> None:
    async def run() -> None:
        async with InfluxStore(influxd.url, "rv") as store:
            await fill_windows(store)
            if feed:
                with Registry(tmp_path / "registry.sqlite") as registry:
                    fill_registry(registry, NOW)
                    await fill_day_seals(store, registry, NOW, honest=honest)
                    await fill_feed(store, registry, NOW)

    asyncio.run(run())


def check(influxd: InfluxServer) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["dashboards", "check", "--influx", influxd.url, "--database", "rv", "--dir",
         str(DASHBOARDS)],
        env={"COLUMNS": "250"},
    )  # fmt: skip
    return result.exit_code, result.output


def test_every_panel_returns_data_from_what_the_collector_writes(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    fill(influxd, tmp_path, feed=True)
    code, output = check(influxd)
    assert code == 0, output
    assert "every panel, annotation and variable returned data" in output

    async def results() -> list[str]:
        async with InfluxStore(influxd.url, "rv") as store:
            found = []
            for dashboard in load_dashboards(DASHBOARDS):
                _, checked = await check_dashboard(store, dashboard)
                found += [
                    f"{dashboard.uid}: {r.item} {r.values} rows={r.rows}" for r in checked if r.ok
                ]
            return found

    checked = asyncio.run(results())
    # The flags table has data only for ent-01 (the flagged one): the checker found it there.
    assert any("Flags" in line and "'enterprise': 'ent-01'" in line for line in checked)
    assert any("annotation 'Plan dates" in line for line in checked)
    differing = [line for line in checked if "Sealed and different device-days" in line]
    assert differing and "rows=0" not in differing[0], differing  # its query finds the rows


def test_panels_without_their_data_are_named_and_the_exit_code_says_so(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    fill(influxd, tmp_path, feed=False)  # windows and rollups only: no fleet, no evidence
    code, output = check(influxd)
    assert code == 1, output
    assert "Verdict (latest evidence run)" in output
    assert "Passed enterprises vs the minimum" in output
    assert "Agents now" in output
    assert "Day seals per enterprise" in output
    assert "Sealed and different device-days" in output
    assert "returned no data" in output


def _problem_of(influxd: InfluxServer, directory: Path, panel: str) -> tuple[int, str | None]:
    async def run() -> tuple[int, str | None]:
        async with InfluxStore(influxd.url, "rv") as store:
            for dashboard in load_dashboards(directory):
                _, checked = await check_dashboard(store, dashboard)
                for result in checked:
                    if result.item == f"panel {panel!r}":
                        return result.rows, result.problem
        raise AssertionError(f"no panel {panel!r}")

    return asyncio.run(run())


def test_a_problem_list_with_no_problems_passes_but_its_query_must_still_run(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    fill(influxd, tmp_path, feed=True, honest=True)  # every device-day equals its seal
    panel = "Sealed and different device-days"
    assert _problem_of(influxd, DASHBOARDS, panel) == (0, None)  # Grafana shows its noValue
    code, output = check(influxd)
    assert code == 0, output

    # The same panel without its noValue is an empty panel again, and with a broken query it
    # fails though it has one.
    def without_no_value(model: dict[str, Any]) -> None:
        del model["fieldConfig"]["defaults"]["noValue"]

    def broken(model: dict[str, Any]) -> None:
        model["targets"][0]["query"] = "SELECT FROM WHERE"

    for name, change in (("no-novalue", without_no_value), ("broken", broken)):
        directory = tmp_path / name
        directory.mkdir()
        tree = json.loads((DASHBOARDS / "fleet-health.json").read_text(encoding="utf-8"))
        (model,) = [p for p in tree["panels"] if p.get("title") == panel]
        change(model)
        (directory / "fleet-health.json").write_text(json.dumps(tree), encoding="utf-8")
        rows, problem = _problem_of(influxd, directory, panel)
        assert rows == 0 and problem is not None, (name, problem)
