"""The command line on ids shared by two plans: ``plan validate``/``plan load`` refuse them,
``serve`` and ``ingest`` refuse to start on a registry that already holds one (#14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collector.cli import app
from collector.registry import Registry
from stack import free_port
from tests.collector.config_helpers import write_collector_config
from tests.collector.test_registry_plan_ids import (
    BEIJING,
    NINGBO,
    T0,
    insert_version_directly,
    plan,
)

COLLECTOR = str(Path(sys.executable).with_name("retrofit-collector"))


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A registry holding Ningbo's plan 330200-2026 (plat-a, e01..e10)."""
    path = tmp_path / "registry.sqlite"
    with Registry(path) as registry:
        registry.load_plan(plan(NINGBO, {"plat-a": "e"}), by="宁波", now=T0)
    return path


@pytest.fixture
def intruder(tmp_path: Path) -> Path:
    """Beijing's plan 110000-2026 reusing plat-a and e01..e10 (its agents are its own)."""
    path = tmp_path / "110000-2026.yaml"
    path.write_text(plan(BEIJING, {"plat-a": "e"}, agent_prefix="bj-").text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path, db: Path) -> Path:
    """The collector's configuration naming ``db``: how the commands find the registry."""
    return write_collector_config(tmp_path, db)


def test_validate_says_the_cross_plan_check_did_not_run_without_a_registry(
    intruder: Path,
) -> None:
    env = {"RV_REGISTRY": "", "RV_COLLECTOR_CONFIG": ""}
    code, output = run("plan", "validate", str(intruder), env=env)
    assert code == 0, output
    assert "cross-plan id check: not run" in output


def test_validate_against_a_registry_names_each_id_its_line_and_both_plans(
    db: Path, config: Path, intruder: Path
) -> None:
    code, output = run("plan", "validate", str(intruder), "--config", str(config))
    assert code == 1, output
    line = intruder.read_text().splitlines().index("- id: plat-a") + 1
    assert (
        f"{intruder}:{line} platforms[0].id: platform plat-a is already held by plan "
        f"330200-2026 in registry {db}"
    ) in output
    assert "platforms[0].enterprises[0].id: enterprise e01 is already held by plan 330200-2026" in (
        output
    )
    assert "plan 110000-2026 reuses 11 ids of other plans" in output
    # RV_COLLECTOR_CONFIG points at the collector the same way, as for every other command.
    code, output = run("plan", "validate", str(intruder), env={"RV_COLLECTOR_CONFIG": str(config)})
    assert code == 1 and "platform plat-a is already held by plan 330200-2026" in output
    # So does the deprecated RV_REGISTRY (--registry), with a warning.
    code, output = run("plan", "validate", str(intruder), env={"RV_REGISTRY": str(db)})
    assert code == 1 and "platform plat-a is already held by plan 330200-2026" in output
    assert "--registry (RV_REGISTRY) is deprecated" in output


def test_validate_of_a_plan_with_its_own_ids_says_the_check_ran(
    db: Path, config: Path, tmp_path: Path
) -> None:
    own = tmp_path / "own.yaml"
    own.write_text(plan(BEIJING, {"plat-bj": "bj"}).text, encoding="utf-8")
    code, output = run("plan", "validate", str(own), "--config", str(config))
    assert code == 0, output
    assert f"cross-plan id check: ran against registry {db} (1 other plan)" in output


def test_validate_never_creates_a_registry(intruder: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.sqlite"
    config = write_collector_config(tmp_path, missing)
    code, output = run("plan", "validate", str(intruder), "--config", str(config))
    assert code == 2 and "no such file" in output
    assert not missing.exists()


def test_load_refuses_and_writes_nothing(db: Path, config: Path, intruder: Path) -> None:
    code, output = run("plan", "load", str(intruder), "--by", "北京", "--config", str(config))
    assert code == 1, output
    assert "platform plat-a is already held by plan 330200-2026" in output
    assert "Traceback" not in output
    with Registry(db) as registry:
        assert registry.plan_keys() == ["330200-2026"]


def _config(tmp_path: Path, registry: Path) -> Path:
    # Nothing listens on the broker or InfluxDB ports: the check must come before both.
    config = {
        "registry": str(registry),
        "broker": {"host": "127.0.0.1", "port": free_port()},
        "influx": {"url": f"http://127.0.0.1:{free_port()}", "database": "rv"},
        "web": {"host": "127.0.0.1", "port": free_port(), "evidence_dir": str(tmp_path / "ev")},
    }
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["serve", "ingest"])
def test_serve_and_ingest_refuse_a_registry_that_holds_a_collision(
    db: Path, tmp_path: Path, command: str
) -> None:
    insert_version_directly(db, plan(BEIJING, {"plat-a": "e"}, agent_prefix="bj-"))
    # The timeout only stops a regression that starts serving: the refusal is immediate.
    done = subprocess.run(
        [COLLECTOR, command, "--config", str(_config(tmp_path, db))],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 4, done.stdout + done.stderr
    said = " ".join(done.stderr.split())  # rich wraps long lines
    assert "platform plat-a (plans 110000-2026, 330200-2026)" in said
    assert "enterprise e01 (plans 110000-2026, 330200-2026)" in said
    assert "Traceback" not in done.stderr
