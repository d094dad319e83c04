"""``plan template|export|validate|load`` with workbooks, through the real command line app."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from collector.cli import plan
from collector.plan import load_plan, plan_content
from collector.registry import Registry
from tests.collector.config_helpers import write_collector_config

ROOT = Path(__file__).parents[2]
EXAMPLE_YAML = ROOT / "deploy" / "examples" / "plan.yaml"
EXAMPLE_XLSX = ROOT / "deploy" / "examples" / "plan.xlsx"

app = typer.Typer()


@app.callback()
def _root() -> None:
    """Stand-in for retrofit-collector's root (collector/cli/__init__.py registers the same way)."""


plan.register(app)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_template_validates_to_located_errors_never_a_traceback(tmp_path: Path) -> None:
    template = tmp_path / "plan.xlsx"
    code, output = run("plan", "template", "--out", str(template))
    assert code == 0 and template.is_file()
    code, output = run("plan", "validate", str(template))
    assert code == 1
    assert (
        f"{template} sheet '平台 Platforms' row 3 column A platforms: got an empty list" in output
    )
    assert "Traceback" not in output


def test_unreadable_workbooks_exit_2(tmp_path: Path) -> None:
    fake = tmp_path / "plan.xlsx"
    fake.write_text("province: {}\n")
    code, output = run("plan", "validate", str(fake))
    assert code == 2 and "not a workbook" in output and "Traceback" not in output
    assert run("plan", "validate", str(tmp_path / "none.xlsx"))[0] == 2


def test_yaml_and_workbook_load_to_the_same_registry_content(tmp_path: Path) -> None:
    """deploy/examples/plan.yaml and plan.xlsx are one plan: the second load changes nothing."""
    db = tmp_path / "registry.sqlite"
    cfg = str(write_collector_config(tmp_path, str(db)))
    code, output = run("plan", "load", str(EXAMPLE_XLSX), "--by", "省厅", "--config", cfg)
    assert code == 0 and "version 1 stored" in output, output
    code, output = run("plan", "load", str(EXAMPLE_YAML), "--by", "省厅", "--config", cfg)
    assert code == 0 and "unchanged, still version 1" in output, output
    with Registry(db) as registry:
        stored = registry.plan_version("330200-2026", 1)
    assert plan_content(stored.plan) == plan_content(load_plan(EXAMPLE_YAML).plan)
    assert stored.info.source_name == str(EXAMPLE_XLSX)


def test_export_from_the_registry_round_trips(tmp_path: Path) -> None:
    db = tmp_path / "registry.sqlite"
    cfg = str(write_collector_config(tmp_path, str(db)))
    assert run("plan", "load", str(EXAMPLE_YAML), "--by", "省厅", "--config", cfg)[0] == 0
    first = tmp_path / "first.xlsx"
    code, output = run("plan", "export", "--config", cfg, "--out", str(first))
    assert code == 0 and "as xlsx" in output
    assert first.read_bytes() == EXAMPLE_XLSX.read_bytes()
    as_yaml = tmp_path / "plan.yaml"
    code, _ = run("plan", "export", str(first), "--format", "yaml", "--out", str(as_yaml))
    assert code == 0
    again = tmp_path / "again.xlsx"
    assert run("plan", "export", str(as_yaml), "--out", str(again))[0] == 0
    assert again.read_bytes() == first.read_bytes()
    code, output = run("plan", "export", "--config", cfg, "--plan", "110000-2026", "--out", "x")
    assert code == 1 and "110000-2026" in output
    assert run("plan", "export", str(as_yaml), "--format", "csv", "--out", "x.csv")[0] == 2


def test_ids_another_plan_holds_are_named_at_their_cells(tmp_path: Path) -> None:
    db = tmp_path / "registry.sqlite"
    cfg = str(write_collector_config(tmp_path, str(db)))
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE_YAML.read_text(encoding="utf-8").replace('"330200"', '"330100"'))
    assert run("plan", "load", str(other), "--by", "省厅", "--config", cfg)[0] == 0
    code, output = run("plan", "validate", str(EXAMPLE_XLSX), "--config", cfg)
    assert code == 1
    where = f"{EXAMPLE_XLSX} sheet '企业 Enterprises' row 3 column B"
    assert f"{where} platforms[0].enterprises[0].id: enterprise ent-01 is already held" in output
    assert "sheet '平台 Platforms' row 3 column A platforms[0].id: platform plat-a" in output
