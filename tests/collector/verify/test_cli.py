"""``retrofit-verify-bundle``: exit codes, output, the plan as a workbook, a Windows-like run.

One real subprocess runs the command the way a reviewer's laptop would: ``PYTHONTZPATH=``
empty (zoneinfo then reads only the tzdata package, as on Windows, which has no zone
database) and ``-X importtime``, whose list of every module loaded, lazy imports included,
must hold no server module or library (tests/test_import_rules.py checks the source).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collector.cli import app
from collector.plan.workbook import plan_workbook_bytes
from collector.verify import EXIT_NOT_ANCHORED, EXIT_NOT_VERIFIED, EXIT_UNREADABLE, EXIT_VERIFIED
from collector.verify.cli import main
from tests.test_import_rules import VERIFY_FORBIDDEN, VERIFY_UNLOADED

from .forge import Forge, copy_bundle, edit_evidence, forge_plant, remanifest

ENT = "plat-a-e01"


def _loaded(importtime: str) -> set[str]:
    """The modules ``-X importtime`` reports (its stderr lines ``import time: a | b | name``)."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }


def test_the_command_verifies_without_a_zone_database_and_loads_no_server_code(
    forge: Forge,
) -> None:
    env = {**os.environ, "PYTHONTZPATH": ""}
    command = [sys.executable, "-X", "importtime", "-m", "collector.verify.cli"]
    result = subprocess.run(
        [*command, str(forge.bundle(ENT)), "--plan", str(forge.plan_path)],
        capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == EXIT_VERIFIED, result.stdout + result.stderr[-2000:]
    assert result.stdout.rstrip().endswith(f"{ENT}: verified")
    loaded = _loaded(result.stderr)
    assert "collector.evidence" in loaded and "collector.plan" in loaded
    # Under the same environment zoneinfo finds its zones in the tzdata package only (its
    # resource imports do not show in -X importtime, so ask a second interpreter).
    probe = (
        "import sys, zoneinfo; zoneinfo.ZoneInfo('Asia/Shanghai'); "
        "print(zoneinfo.TZPATH, 'tzdata' in sys.modules)"
    )
    zones = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
        env=env,
    )  # fmt: skip
    assert zones.stdout.split() == ["()", "True"]
    banned = sorted(
        name
        for name in loaded
        if any(name == b or name.startswith(b + ".") for b in (*VERIFY_UNLOADED, *VERIFY_FORBIDDEN))
    )
    assert banned == []


def test_a_plan_workbook_is_a_trust_root_too(forge: Forge, tmp_path: Path) -> None:
    workbook = tmp_path / "plan.xlsx"
    workbook.write_bytes(plan_workbook_bytes(forge.plan.plan))
    assert main([str(forge.bundle(ENT)), "--plan", str(workbook)]) == EXIT_VERIFIED


def test_json_output_lists_each_finding_with_both_values(
    forge: Forge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = copy_bundle(forge, ENT, tmp_path / ENT)

    def edit(tree: dict[str, object]) -> None:
        rows = tree["device_days"]
        assert isinstance(rows, list)
        row = next(r for r in rows if r["device"] == "press-1" and r["day"] == "2026-07-01")
        row["run_s"] = row["run_s"] + 600.0

    edit_evidence(bundle, edit)
    remanifest(bundle, forge.collector_key)
    capsys.readouterr()
    assert main([str(bundle), "--plan", str(forge.plan_path), "--json"]) == EXIT_NOT_VERIFIED
    printed = json.loads(capsys.readouterr().out)
    assert printed["result"] == "not verified" and printed["exit_code"] == EXIT_NOT_VERIFIED
    differs = [f for f in printed["findings"] if f["code"] == "device_day_differs"]
    assert len(differs) == 1
    (finding,) = differs
    assert (finding["enterprise"], finding["device"], finding["day"], finding["field"]) == (
        ENT, "press-1", "2026-07-01", "run_s",
    )  # fmt: skip
    assert finding["bundle_value"] == finding["expected_value"] + 600.0


def test_the_text_output_names_the_finding(
    forge: Forge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = copy_bundle(forge, ENT, tmp_path / ENT)
    (bundle / "evidence.json").write_bytes((bundle / "evidence.json").read_bytes() + b" ")
    capsys.readouterr()
    assert main([str(bundle), "--plan", str(forge.plan_path)]) == EXIT_NOT_VERIFIED
    out = capsys.readouterr().out
    assert f"{ENT} evidence.json: file sha256" in out and "(manifest_mismatch)" in out
    assert "(bytes): evidence.json not canonical JSON" in out  # the trailing space
    assert out.rstrip().endswith(f"{ENT}: not verified (2 findings)")


def test_unreadable_inputs_exit_2(
    forge: Forge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "none"), "--plan", str(forge.plan_path)]) == EXIT_UNREADABLE
    assert "no such folder" in capsys.readouterr().err
    assert main([str(forge.bundle(ENT)), "--plan", str(tmp_path / "none.yaml")]) == (
        EXIT_UNREADABLE
    )
    assert "none.yaml" in capsys.readouterr().err


def test_not_anchored_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    forged = forge_plant(tmp_path / "unlisted", unlisted=[ENT])
    assert main([str(forged.bundle(ENT)), "--plan", str(forged.plan_path)]) == EXIT_NOT_ANCHORED
    out = capsys.readouterr().out
    assert "(not_anchored)" in out and out.rstrip().endswith(f"{ENT}: not anchored")


def test_the_collectors_verify_bundle_is_the_same_command(forge: Forge, tmp_path: Path) -> None:
    runner = CliRunner()
    honest = runner.invoke(
        app, ["verify-bundle", str(forge.bundle(ENT)), "--plan", str(forge.plan_path)]
    )
    assert honest.exit_code == EXIT_VERIFIED, honest.output
    assert honest.output.rstrip().endswith(f"{ENT}: verified")
    bundle = copy_bundle(forge, ENT, tmp_path / ENT)
    (bundle / "evidence.json").write_bytes((bundle / "evidence.json").read_bytes() + b" ")
    edited = runner.invoke(app, ["verify-bundle", str(bundle), "--plan", str(forge.plan_path)])
    assert edited.exit_code == EXIT_NOT_VERIFIED, edited.output
    missing = runner.invoke(app, ["verify-bundle", str(tmp_path / "none"), "--plan", "x.yaml"])
    assert missing.exit_code == EXIT_UNREADABLE
