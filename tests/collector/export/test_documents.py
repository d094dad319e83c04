"""``retrofit-collector export``: a bundle's tables as a workbook and CSV, read back and compared
with the JSON they came from, figure by figure; text never a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel
from typer.testing import CliRunner

from collector.cli import app
from collector.evidence.document import canonical_json
from collector.export import FORMULA_STARTS, neutralise
from tests.collector.report import samples

EMPTY = (None, "")


def _export(source: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", str(source), "--out", str(out), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _written(tmp_path: Path, document: BaseModel, name: str) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(canonical_json(document))
    return folder


def _rows(path: Path) -> tuple[Worksheet, list[dict[str, Any]], int]:
    """The sheet, its rows as {key: cell} under the keys row, and the first data row."""
    sheet = load_workbook(path).worksheets[0]
    assert isinstance(sheet, Worksheet)
    keys_row = next(r for r in range(1, 20) if sheet.cell(r + 1, 1).value in ("attempt", "id"))
    keys_row += 1
    keys = [str(c.value) for c in sheet[keys_row] if c.value is not None]
    rows = []
    for number in range(keys_row + 1, sheet.max_row + 1):
        rows.append({key: sheet.cell(number, i + 1) for i, key in enumerate(keys)})
    return sheet, rows, keys_row + 1


def _same(cell_value: object, figure: object) -> bool:
    if figure is None:
        return cell_value in EMPTY
    if isinstance(cell_value, dt.datetime):
        return cell_value.date().isoformat() == figure
    if isinstance(figure, float):
        # openpyxl writes a float with 16 significant digits ("%.16g"); Excel computes with 15.
        return cell_value == float(f"{figure:.16g}")
    return cell_value == figure


def _kpis(document: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(a, k) for a in document["attempts"] for k in a["kpis"]]


@pytest.mark.parametrize("make", [samples.passing, samples.rectified, samples.insufficient])
def test_kpi_workbook_holds_the_figures_of_evidence_json(make: Any, tmp_path: Path) -> None:
    folder = _written(tmp_path, make(), "evidence.json")
    code, output = _export(folder, tmp_path / "kpis.xlsx")
    assert code == 0, output
    document = json.loads((folder / "evidence.json").read_text(encoding="utf-8"))
    _, rows, _ = _rows(tmp_path / "kpis.xlsx")
    pairs = _kpis(document)
    assert len(rows) == len(pairs) > 0
    for row, (attempt, kpi) in zip(rows, pairs, strict=True):
        change, interval = kpi["change"], kpi["interval"]
        expected = {
            "attempt": attempt["number"],
            "reporting_start": attempt["reporting"]["start"],
            "reporting_end": attempt["reporting"]["end"],
            "kpi": kpi["kpi"],
            "target": kpi["target"]["size"],
            "unit": kpi["target"]["unit"],
            "required": kpi["target"]["required"],
            "status": kpi["status"],
            "baseline_value": kpi["baseline"]["value"],
            "reporting_value": kpi["reporting"]["value"],
            "change": None if change is None else change["change"],
            "interval_low": None if interval is None else interval["low"],
            "interval_high": None if interval is None else interval["high"],
            "baseline_usable_days": kpi["baseline"]["usable_days"],
            "reporting_coverage": kpi["reporting"]["coverage"],
        }
        for key, figure in expected.items():
            assert _same(row[key].value, figure), (key, row[key].value, figure)
        assert row["reporting_coverage"].number_format == "0.0%"
        assert row["reporting_start"].number_format == "yyyy-mm-dd"
        if change is not None:
            shown = {"pp": '0.00" pp"', "%": '0.00"%"'}[kpi["target"]["unit"]]
            assert row["change"].number_format == shown
            assert isinstance(row["change"].value, float)


def test_kpi_csv_holds_the_same_figures(tmp_path: Path) -> None:
    folder = _written(tmp_path, samples.rectified(), "evidence.json")
    code, _ = _export(folder / "evidence.json", tmp_path / "kpis.csv")
    assert code == 0
    raw = (tmp_path / "kpis.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
    header, *lines = list(reader)
    keys = [h.split(" ")[-1] for h in header]
    document = json.loads((folder / "evidence.json").read_text(encoding="utf-8"))
    pairs = _kpis(document)
    assert len(lines) == len(pairs)
    for line, (_, kpi) in zip(lines, pairs, strict=True):
        row = dict(zip(keys, line, strict=True))
        value = kpi["reporting"]["value"]
        assert (float(row["reporting_value"]) if row["reporting_value"] else None) == value
        coverage = kpi["baseline"]["coverage"]
        assert (float(row["baseline_coverage"]) if row["baseline_coverage"] else None) == coverage
        assert row["reporting_start"] in (a["reporting"]["start"] for a in document["attempts"])


def test_platform_workbook_has_money_in_yuan_exact_to_the_fen(tmp_path: Path) -> None:
    rollup = samples.rollup(samples.many_lines(12, 10))
    folder = _written(tmp_path, rollup, "platform.json")
    assert _export(folder, tmp_path / "platform.xlsx")[0] == 0
    document = json.loads((folder / "platform.json").read_text(encoding="utf-8"))
    _, rows, _ = _rows(tmp_path / "platform.xlsx")
    assert len(rows) == 12
    for row, line in zip(rows, document["enterprises"], strict=True):
        assert row["id"].value == line["id"] and row["name"].value == line["name"]
        for key in ("cost_fen", "share_fen", "subsidy_fen"):
            assert round(row[key].value * 100) == line["subsidy"][key]
            assert row[key].number_format == "#,##0.00"
        assert row["passed"].value is line["subsidy"]["passed"]
    assert _export(folder / "platform.json", tmp_path / "p.csv")[0] == 0
    text = (tmp_path / "p.csv").read_text(encoding="utf-8-sig")
    fen = document["enterprises"][0]["subsidy"]["cost_fen"]
    assert f",{fen // 100}.{fen % 100:02d}," in text


def test_province_workbook(tmp_path: Path) -> None:
    summary = samples.province([samples.rollup(samples.many_lines(12, 10))])
    folder = _written(tmp_path, summary, "province.json")
    assert _export(folder, tmp_path / "province.xlsx")[0] == 0
    _, rows, _ = _rows(tmp_path / "province.xlsx")
    document = json.loads((folder / "province.json").read_text(encoding="utf-8"))
    assert [r["id"].value for r in rows] == [p["id"] for p in document["platforms"]]
    assert [round(r["total_fen"].value * 100) for r in rows] == [
        p["total_fen"] for p in document["platforms"]
    ]


REASONS = ["-2+3", "@SUM(A1)"]


def _formula_like(document: Any) -> Any:
    """The hostile sample with names and reasons that start like formulas."""
    enterprise = document.enterprise.model_copy(update={"name": '=HYPERLINK("http://x","y")'})
    attempts = [
        a.model_copy(
            update={
                "kpis": [k.model_copy(update={"reasons": ["-2+3", "@SUM(A1)"]}) for k in a.kpis]
            }
        )
        for a in document.attempts
    ]
    return document.model_copy(update={"enterprise": enterprise, "attempts": attempts})


def test_no_text_cell_or_field_starts_like_a_formula(tmp_path: Path) -> None:
    folder = _written(tmp_path, _formula_like(samples.hostile()), "evidence.json")
    assert _export(folder, tmp_path / "k.xlsx")[0] == 0
    sheet = load_workbook(tmp_path / "k.xlsx").worksheets[0]
    texts = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert texts and all(c.data_type == "s" for c in texts)
    assert not [c.value for c in texts if str(c.value).startswith(FORMULA_STARTS)]
    assert str(sheet["A1"].value).startswith("'=HYPERLINK")
    assert _export(folder, tmp_path / "k.csv")[0] == 0
    fields = [f for line in csv.reader(io.StringIO((tmp_path / "k.csv").read_text("utf-8-sig")))
              for f in line]  # fmt: skip
    assert "'-2+3; @SUM(A1)" in fields
    assert not [f for f in fields if f.startswith(FORMULA_STARTS) and not _number(f)]


def _number(field: str) -> bool:
    """A negative figure is a number, which no spreadsheet takes for a formula."""
    try:
        float(field)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_neutralise_every_formula_start(start: str) -> None:
    assert neutralise(f"{start}1+1") == f"'{start}1+1"
    assert neutralise(f"a{start}") == f"a{start}"


def test_refusals_exit_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1, 2]")
    code, output = _export(tmp_path / "x.json", tmp_path / "o.xlsx")
    assert code == 1 and "not a JSON object" in output
    (tmp_path / "y.json").write_text('{"format": "retrofit-verify.evidence.enterprise/1"}')
    code, output = _export(tmp_path / "y.json", tmp_path / "o.xlsx")
    assert code == 1 and "not a valid" in output
    (tmp_path / "z.json").write_text('{"format": "other"}')
    assert _export(tmp_path / "z.json", tmp_path / "o.xlsx")[0] == 1
    assert _export(tmp_path / "missing.json", tmp_path / "o.xlsx")[0] == 2
    assert _export(tmp_path, tmp_path / "o.xlsx")[0] == 2  # a folder without a document
    assert _export(tmp_path / "x.json", tmp_path / "o.pdf", "--format", "pdf")[0] == 2
    assert not (tmp_path / "o.xlsx").exists()
