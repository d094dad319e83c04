"""The digital-level section in the exports: the workbook's four sheets and the CSV tables,
read back and compared with the bundle's ``evidence.json`` figure by figure."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from typer.testing import CliRunner

from collector.cli import app
from collector.evidence.document import canonical_json
from collector.export import digital_level_tables
from collector.export.digital import MONTHLY_MEAN, POOLED, SCENARIO_LABELS
from tests.collector.report import samples
from tests.collector.report.digital_samples import digital_level

SHEETS = ["KPIs", "Networked", "Devices", "Scenarios", "Quality"]


def _folder(tmp_path: Path, total: int | None = 5) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    document = samples.passing().model_copy(update={"digital_level": digital_level(total)})
    (folder / "evidence.json").write_bytes(canonical_json(document))
    return folder


def _export(source: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(app, ["export", str(source), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output


def sheet_rows(sheet: Worksheet, first_key: str) -> list[dict[str, Any]]:
    """A sheet's rows as {key: cell} under its keys row (the row whose first cell is
    ``first_key``)."""
    keys_row = next(r for r in range(1, 30) if sheet.cell(r, 1).value == first_key)
    keys = [str(c.value) for c in sheet[keys_row] if c.value is not None]
    return [
        {key: sheet.cell(row, i + 1) for i, key in enumerate(keys)}
        for row in range(keys_row + 1, sheet.max_row + 1)
    ]


def _day(cell_value: object) -> str | None:
    if cell_value is None:
        return None
    if not isinstance(cell_value, dt.datetime):
        raise AssertionError(f"expected a date cell, got {cell_value!r}")
    return cell_value.date().isoformat()


def _float(figure: float | None) -> float | None:
    # openpyxl writes a float with 16 significant digits ("%.16g"); Excel computes with 15.
    return None if figure is None else float(f"{figure:.16g}")


def test_the_workbook_has_the_sections_figures(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _export(folder, tmp_path / "e.xlsx")
    section = json.loads((folder / "evidence.json").read_text("utf-8"))["digital_level"]
    workbook = load_workbook(tmp_path / "e.xlsx")
    assert workbook.sheetnames == SHEETS
    sheets = {name: workbook[name] for name in SHEETS}
    for sheet in sheets.values():
        assert isinstance(sheet, Worksheet)

    (networked,) = sheet_rows(sheets["Networked"], "period_start")
    assert _day(networked["period_start"].value) == section["period"]["start"]
    assert networked["production_equipment_total"].value == section["production_equipment_total"]
    assert networked["networked_count"].value == len(section["networked_devices"])
    assert networked["networked_status"].value == section["networked_status"]
    assert networked["networked_share"].value == _float(section["networked_share"])
    assert networked["networked_share"].number_format == "0.0%"
    assert networked["networked_devices"].value == ", ".join(section["networked_devices"])

    devices = sheet_rows(sheets["Devices"], "device")
    assert [row["device"].value for row in devices] == [d["device"] for d in section["devices"]]
    for row, device in zip(devices, section["devices"], strict=True):
        assert row["production"].value is device["production"]
        assert row["networked"].value is (device["device"] in section["networked_devices"])
        assert row["measured_days"].value == device["measured_days"]
        assert _day(row["first_day"].value) == device["first_day"]
        assert (row["scenarios"].value or "") == ", ".join(device["scenarios"])

    scenarios = sheet_rows(sheets["Scenarios"], "scenario")
    for row, scenario in zip(scenarios, section["scenarios"], strict=True):
        assert row["scenario"].value == scenario["scenario"]
        assert row["label"].value == SCENARIO_LABELS[scenario["scenario"]]
        assert row["covered"].value is scenario["covered"]
        assert (row["devices"].value or "") == ", ".join(scenario["devices"])

    quality = sheet_rows(sheets["Quality"], "role")
    expected = []
    for period in section["quality"]:
        expected += [(period["role"], m["month"], m["rate"]) for m in period["months"]]
        expected += [(period["role"], MONTHLY_MEAN, period["monthly_mean"])]
        expected += [(period["role"], POOLED, period["pooled"])]
    got = [(row["role"].value, row["month"].value, row["rate"].value) for row in quality]
    assert got == [(role, month, _float(rate)) for role, month, rate in expected]
    assert all(row["rate"].number_format == "0.0%" for row in quality if row["rate"].value)


def test_without_a_total_the_rate_is_empty_not_100_percent(tmp_path: Path) -> None:
    folder = _folder(tmp_path, total=None)
    _export(folder, tmp_path / "e.xlsx")
    sheet = load_workbook(tmp_path / "e.xlsx")["Networked"]
    assert isinstance(sheet, Worksheet)
    (row,) = sheet_rows(sheet, "period_start")
    assert row["networked_status"].value == "no_total"
    assert row["networked_share"].value is None
    assert row["production_equipment_total"].value is None


def test_a_csv_names_its_table_and_holds_the_figures_exactly(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    _export(folder, tmp_path / "q.csv", "--table", "quality")
    section = json.loads((folder / "evidence.json").read_text("utf-8"))["digital_level"]
    header, *lines = list(csv.reader(io.StringIO((tmp_path / "q.csv").read_text("utf-8-sig"))))
    keys = [h.split(" ")[-1] for h in header]
    rows = [dict(zip(keys, line, strict=True)) for line in lines]
    months = [m for period in section["quality"] for m in period["months"]]
    monthly = [row for row in rows if row["month"] not in (MONTHLY_MEAN, POOLED)]
    assert [float(row["rate"]) for row in monthly] == [m["rate"] for m in months]  # exact
    means = [float(row["rate"]) for row in rows if row["month"] == MONTHLY_MEAN]
    assert means == [period["monthly_mean"] for period in section["quality"]]
    refused = CliRunner().invoke(
        app, ["export", str(folder), "--out", str(tmp_path / "x.csv"), "--table", "nope"]
    )
    assert refused.exit_code == 2 and "KPIs, Networked, Devices, Scenarios, Quality" in (
        refused.output
    )


def test_a_document_without_the_section_has_no_digital_tables() -> None:
    assert samples.passing().digital_level is None
    assert digital_level_tables(samples.passing()) == ()
