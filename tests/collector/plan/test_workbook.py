"""The plan as a workbook: one model, two readers, and every bad workbook a located error.

Workbooks are built here with openpyxl from the example plan (deploy/examples/plan.yaml) and
then broken one way each, as a province's clerk might: merged cells, a hidden sheet, a
formula, a date typed as text, a cost written ``850,000.00`` or ``85万元``, an unknown KPI.
Files that are no workbook at all (too large, a zip bomb, text, an ``.xls``) are refused
before openpyxl opens them.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from collector.plan import (
    Plan,
    PlanError,
    PlanFileError,
    PlanInvalidError,
    load_plan,
    load_plan_yaml,
    plan_content,
    plan_yaml,
)
from collector.plan.workbook import (
    INSTRUCTIONS,
    MAX_UNCOMPRESSED_BYTES,
    MAX_WORKBOOK_BYTES,
    SHEETS,
    load_plan_workbook,
    plan_workbook_bytes,
)
from contract.configfile import parse_yaml
from contract.errors import ConfigError

ROOT = Path(__file__).parents[3]
EXAMPLE_YAML = ROOT / "deploy" / "examples" / "plan.yaml"
EXAMPLE_XLSX = ROOT / "deploy" / "examples" / "plan.xlsx"
CASES = ROOT / "tests" / "collector" / "plan_cases"
VALID_CASES = sorted(p for p in CASES.iterdir() if p.name.startswith("valid"))

ENTERPRISES = "企业 Enterprises"
TARGETS = "绩效目标 Targets"


def _example_plan() -> Plan:
    return load_plan_yaml(EXAMPLE_YAML).plan


def _issues(path: Path) -> list[str]:
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    return [str(issue) for issue in caught.value.issues]


def test_committed_example_workbook_is_the_export_of_the_yaml() -> None:
    """deploy/examples/plan.xlsx is what `plan export` writes today, and loads to the same plan."""
    assert EXAMPLE_XLSX.read_bytes() == plan_workbook_bytes(_example_plan())
    from_xlsx, from_yaml = load_plan(EXAMPLE_XLSX), load_plan(EXAMPLE_YAML)
    assert plan_content(from_xlsx.plan) == plan_content(from_yaml.plan)
    assert from_xlsx.digest == from_yaml.digest
    assert from_xlsx.warnings == from_yaml.warnings == ()


def test_production_equipment_total_is_a_validated_optional_column() -> None:
    """The count sits in its own column with a whole-number check; a blank cell is no count."""
    workbook = load_workbook(io.BytesIO(plan_workbook_bytes(None)))
    sheet = _sheet(workbook, ENTERPRISES)
    assert sheet["M2"].value == "production_equipment_total"
    assert sheet["M1"].value == (
        "生产设备总数(台/套)\nProduction equipment, total (units) (可选 optional)"
    )
    rules = [rule for rule in sheet.data_validations.dataValidation if "M3" in rule.sqref]
    assert [(r.type, r.operator, r.formula1, r.formula2) for r in rules] == [
        ("whole", "between", "1", "100000")
    ]
    enterprises = {e.id: e for e in load_plan(EXAMPLE_XLSX).plan.platforms[0].enterprises}
    totals = {key: enterprises[key].production_equipment_total for key in ("ent-01", "ent-03")}
    assert totals == {"ent-01": 4, "ent-03": None}


@pytest.mark.parametrize("plan_file", [EXAMPLE_YAML, *(p / "plan.yaml" for p in VALID_CASES)])
def test_export_load_export_gives_the_same_content(plan_file: Path, tmp_path: Path) -> None:
    plan = load_plan(plan_file).plan
    first = tmp_path / "first.xlsx"
    first.write_bytes(plan_workbook_bytes(plan))
    again = load_plan(first).plan
    assert plan_content(again) == plan_content(plan)
    assert plan_workbook_bytes(again) == first.read_bytes()
    as_yaml = tmp_path / "plan.yaml"
    as_yaml.write_text(plan_yaml(again), encoding="utf-8")
    assert plan_content(load_plan(as_yaml).plan) == plan_content(plan)
    assert plan_yaml(load_plan(as_yaml).plan) == as_yaml.read_text(encoding="utf-8")
    # No anchors or aliases: the loader allows few (one date object serves many periods).
    assert not re.search(r"[&*]id\d+", as_yaml.read_text(encoding="utf-8"))


#: Findings a workbook cannot give, by case: an empty cell is the default, so an empty list
#: written out in YAML (``drivers: []``) has no workbook form.
NOT_IN_A_WORKBOOK = {
    "energy_driver_rules": (
        "got [], expected good_count among them: energy per unit is energy per good part, so "
        "the baseline must adjust for good output"
    ),
}


def _plan_of_case(folder: Path) -> Plan:
    """The case's plan through the model alone (no rules), as parse_document reads it."""
    marked = parse_yaml((folder / "plan.yaml").read_text(encoding="utf-8"), "p", {})
    if marked.issues:
        raise ValueError(marked.issues)
    return Plan.model_validate({k: v for k, v in marked.data.items() if not k.startswith("x-")})


def _rule_cases() -> list[Path]:
    """Cases whose YAML passes the model but breaks the programme's rules."""
    found = []
    for folder in sorted(CASES.iterdir()):
        try:
            load_plan_yaml(folder / "plan.yaml")
        except PlanFileError:
            continue
        except PlanInvalidError:
            try:
                _plan_of_case(folder)
            except (ConfigError, ValueError, AttributeError):  # the YAML or the model refuses it
                continue
            found.append(folder)
    return found


@pytest.mark.parametrize("folder", _rule_cases(), ids=lambda p: p.name)
def test_programme_rules_give_the_same_findings_from_a_workbook(
    folder: Path, tmp_path: Path
) -> None:
    """The rules run on the workbook as on YAML: the same key paths, the same messages."""
    workbook = tmp_path / "plan.xlsx"
    workbook.write_bytes(plan_workbook_bytes(_plan_of_case(folder)))
    with pytest.raises(PlanInvalidError) as from_yaml:
        load_plan(folder / "plan.yaml")
    with pytest.raises(PlanInvalidError) as from_xlsx:
        load_plan(workbook)

    def found(error: PlanInvalidError) -> set[tuple[str, str, str]]:
        return {(i.path, i.message, i.severity) for i in (*error.issues, *error.warnings)}

    if folder.name in NOT_IN_A_WORKBOOK:
        missing = found(from_yaml.value) - found(from_xlsx.value)
        assert {message for _, message, _ in missing} == {NOT_IN_A_WORKBOOK[folder.name]}
    elif folder.name == "duplicate_ids":
        # A child row names its parent by id: with two parents of one id the first takes the
        # children and the second's id cell says so (the second is then left empty, and the
        # model's complaint about that is the same cell's echo).
        issues = [str(issue) for issue in from_xlsx.value.issues]
        assert any(
            "'平台 Platforms' row 4 column A id: platform id 'plat-a' is also on row 3" in i
            for i in issues
        ), issues
        assert any(
            "'企业 Enterprises' row 9 column B id: enterprise id 'plat-a-e06' is also on row 8" in i
            for i in issues
        ), issues
    else:
        assert found(from_xlsx.value) == found(from_yaml.value)
    assert all(
        "sheet '" in issue.source and " row " in issue.source for issue in from_xlsx.value.issues
    )


def _broken(tmp_path: Path, change: Callable[[Workbook], None]) -> Path:
    workbook = load_workbook(io.BytesIO(plan_workbook_bytes(_example_plan())))
    change(workbook)
    path = tmp_path / "plan.xlsx"
    workbook.save(path)
    return path


def _sheet(workbook: Workbook, title: str) -> Worksheet:
    sheet = workbook[title]
    assert isinstance(sheet, Worksheet)
    return sheet


CellValue = str | float | dt.date | None


def _set(title: str, cell: str, value: CellValue) -> Callable[[Workbook], None]:
    def change(workbook: Workbook) -> None:
        _sheet(workbook, title)[cell] = value

    return change


def _merge(workbook: Workbook) -> None:
    _sheet(workbook, ENTERPRISES).merge_cells("H3:H5")


def _hide_sheet(workbook: Workbook) -> None:
    workbook.create_sheet("notes").sheet_state = "hidden"


def _hide_row(workbook: Workbook) -> None:
    _sheet(workbook, ENTERPRISES).row_dimensions[6].hidden = True


def _formatted_to_the_bottom(workbook: Workbook) -> None:
    _sheet(workbook, TARGETS)["C1048576"].number_format = "0.00"


def _drop_targets(workbook: Workbook) -> None:
    del workbook[TARGETS]


SHEET_CASES: dict[str, tuple[Callable[[Workbook], None], str]] = {
    "merged cells": (
        _merge,
        f"sheet '{ENTERPRISES}' row 3 column H: merged cells H3:H5: unmerge them",
    ),
    "hidden sheet": (_hide_sheet, "sheet 'notes' row 1 column A: the sheet is hidden"),
    "hidden row": (_hide_row, f"sheet '{ENTERPRISES}' row 6 column A: the row is hidden"),
    "formula": (
        _set(ENTERPRISES, "E4", "=600000+20000"),
        f"sheet '{ENTERPRISES}' row 4 column E retrofit_cost_cny: a formula (=600000+20000)",
    ),
    "date as text": (
        _set(ENTERPRISES, "J5", "2026/5/6"),
        f"sheet '{ENTERPRISES}' row 5 column J go_live: got text '2026/5/6', expected a date cell",
    ),
    "date with a time": (
        _set(ENTERPRISES, "J5", dt.datetime(2026, 5, 6, 9, 30)),
        "go_live: got 2026-05-06 09:30:00, expected a date without a time of day",
    ),
    "thousands separator": (
        _set(ENTERPRISES, "E3", "850,000.00"),
        f"sheet '{ENTERPRISES}' row 3 column E retrofit_cost_cny: got '850,000.00', expected a "
        "number without thousands separators",
    ),
    "amount in 万元": (
        _set(ENTERPRISES, "E3", "85万元"),
        f"sheet '{ENTERPRISES}' row 3 column E retrofit_cost_cny: got '85万元', expected the "
        "amount in yuan",
    ),
    "a cost in fen": (
        _set(ENTERPRISES, "E3", 850000.125),
        f"sheet '{ENTERPRISES}' row 3 column E platforms[0].enterprises[0].retrofit_cost_cny: "
        "got 850000.125, expected at most 2 decimal places",
    ),
    "unknown KPI": (
        _set(TARGETS, "B4", "oee_total"),
        f"sheet '{TARGETS}' row 4 column B platforms[0].enterprises[0].targets.oee_total: got "
        "'oee_total', expected 'oee'",
    ),
    "unknown platform": (
        _set(ENTERPRISES, "A7", "plat-z"),
        f"sheet '{ENTERPRISES}' row 7 column A platform: got 'plat-z', expected the id of a "
        "platform on sheet '平台 Platforms'",
    ),
    "missing sheet": (_drop_targets, f"sheet '{TARGETS}' is missing"),
    "a sheet formatted to its last row": (
        _formatted_to_the_bottom,
        f"sheet '{TARGETS}' row 3 column A: the sheet reaches row 1048576 and column I",
    ),
    "unknown sheet": (
        lambda wb: wb.create_sheet("Sheet2").__setitem__("A1", "x"),
        "sheet 'Sheet2' row 1 column A: unknown sheet",
    ),
    "unknown column": (
        _set(ENTERPRISES, "N2", "budget"),
        f"sheet '{ENTERPRISES}' row 2 column N budget: unknown column 'budget'",
    ),
    "no production equipment": (
        _set(ENTERPRISES, "M3", 0),
        f"sheet '{ENTERPRISES}' row 3 column M "
        "platforms[0].enterprises[0].production_equipment_total: got 0, expected 1..100000 "
        "machines",
    ),
    "a fraction of a machine": (
        _set(ENTERPRISES, "M4", 2.5),
        f"sheet '{ENTERPRISES}' row 4 column M "
        "platforms[0].enterprises[1].production_equipment_total: got 2.5, expected an integer",
    ),
    "machines counted in words": (
        _set(ENTERPRISES, "M5", "12台"),
        f"sheet '{ENTERPRISES}' row 5 column M "
        "platforms[0].enterprises[2].production_equipment_total: got '12台', expected an integer",
    ),
    "an error value": (
        _set(ENTERPRISES, "E3", "#REF!"),
        f"sheet '{ENTERPRISES}' row 3 column E retrofit_cost_cny: an error value (#REF!)",
    ),
    "required cell left empty": (
        _set(ENTERPRISES, "C4", None),
        f"sheet '{ENTERPRISES}' row 4 column C platforms[0].enterprises[1].name: missing, "
        "this key is required",
    ),
}


@pytest.mark.parametrize("case", sorted(SHEET_CASES))
def test_bad_workbook_gives_a_located_error(case: str, tmp_path: Path) -> None:
    change, expected = SHEET_CASES[case]
    path = _broken(tmp_path, change)
    issues = _issues(path)
    assert any(issue.startswith(f"{path} ") and expected in issue for issue in issues), issues


def test_every_error_of_a_workbook_is_reported_at_once(tmp_path: Path) -> None:
    def many(workbook: Workbook) -> None:
        _set(ENTERPRISES, "E3", "85万元")(workbook)
        _set(ENTERPRISES, "J5", "2026/5/6")(workbook)
        _set(TARGETS, "B4", "oee_total")(workbook)

    issues = _issues(_broken(tmp_path, many))
    assert len(issues) == 3, issues
    assert [" row 3 " in issues[0], " row 5 " in issues[1], TARGETS in issues[2]] == [True] * 3


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    """A name starting with = is written as text, never as a formula, and reads back as is."""
    data = _example_plan().model_dump()
    data["platforms"][0]["enterprises"][0]["name"] = '=HYPERLINK("http://x","y")'
    plan = Plan.model_validate(data)
    path = tmp_path / "plan.xlsx"
    path.write_bytes(plan_workbook_bytes(plan))
    cell = _sheet(load_workbook(path), ENTERPRISES)["C3"]
    assert cell.data_type == "s" and cell.quotePrefix
    assert (
        load_plan(path).plan.platforms[0].enterprises[0].name
        == data["platforms"][0]["enterprises"][0]["name"]
    )


def test_template_has_every_sheet_headers_and_drop_downs(tmp_path: Path) -> None:
    workbook = load_workbook(io.BytesIO(plan_workbook_bytes(None)))
    assert workbook.sheetnames == [INSTRUCTIONS, *(s.title for s in SHEETS)]
    targets = _sheet(workbook, TARGETS)
    assert (
        targets["B1"].value == "指标\nKPI"
        and targets["F1"].value == "必须达成\nRequired (可选 optional)"
    )
    assert [c.value for c in targets[2]][:5] == ["enterprise", "kpi", "direction", "size", "unit"]
    lists = {
        str(v.sqref).split(":")[0]: v.formula1 for v in targets.data_validations.dataValidation
    }
    assert "oee" in str(lists["B3"]) and "energy_per_unit" in str(lists["B3"])
    assert lists["C3"] == '"increase,decrease"'
    enterprises = _sheet(workbook, ENTERPRISES)
    kinds = {
        str(v.sqref).split(":")[0]: v.type for v in enterprises.data_validations.dataValidation
    }
    assert kinds["E3"] == "decimal" and kinds["H3"] == "date"
    path = tmp_path / "template.xlsx"
    path.write_bytes(plan_workbook_bytes(None))
    assert any("at least 1 item" in issue for issue in _issues(path))


# Files refused before openpyxl opens them ------------------------------------------------


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    # A workbook's two required parts and one part of zeros that inflates past the limit:
    # about 60 KB on disk.
    zeros = bytes(MAX_UNCOMPRESSED_BYTES + 1)
    return _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>", "xl/a.xml": zeros})


FILE_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "text file": (
        lambda: b"province:\n  code: '330200'\n",
        "not a workbook: an .xlsx file is a zip",
    ),
    "xls": (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "an OLE file"),
    "zip of something else": (lambda: _zip({"a.txt": b"hi"}), "not an Excel workbook"),
    "zip bomb": (_zip_bomb, "a zip bomb"),
    "truncated workbook": (
        lambda: plan_workbook_bytes(None)[:3000],
        "not a readable zip archive",
    ),
    "broken part": (
        lambda: _zip({"[Content_Types].xml": b"<x", "xl/workbook.xml": b"<x"}),
        "not a workbook openpyxl can read",
    ),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_file_that_is_no_workbook_is_refused(case: str, tmp_path: Path) -> None:
    make, expected = FILE_CASES[case]
    path = tmp_path / "plan.xlsx"
    path.write_bytes(make())
    with pytest.raises(PlanFileError) as caught:
        load_plan_workbook(path)
    assert expected in str(caught.value)


def test_a_50_mb_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "plan.xlsx"
    with path.open("wb") as out:
        out.truncate(50 * 1024 * 1024)
    assert MAX_WORKBOOK_BYTES < 50 * 1024 * 1024
    with pytest.raises(PlanFileError) as caught:
        load_plan(path)
    assert f"52,428,800 bytes, more than the limit of {MAX_WORKBOOK_BYTES:,}" in str(caught.value)
