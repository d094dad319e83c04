"""``plan``, ``agents`` and ``quarantine`` commands, through the Typer app they register on; on
SQLite and on PostgreSQL (the ``db`` fixture), except the deprecated ``--registry PATH``."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from collector.cli import agents, plan, quarantine
from collector.cli import app as collector_app
from collector.cli._common import REGISTRY_DEPRECATED
from collector.registry import Registry
from contract import wire
from tests.collector.config_helpers import write_collector_config

CASES = Path(__file__).parent / "plan_cases"
VALID = CASES / "valid_minimal" / "plan.yaml"

app = typer.Typer()


@app.callback()
def _root() -> None:
    """Stand-in for retrofit-collector's root (collector/cli/__init__.py registers the same way)."""


for _group in (plan, agents, quarantine):
    _group.register(app)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def db(registry_location: Path | str) -> str:
    """The registry's file or URL (both backends: tests/collector/registry_backends.py)."""
    return str(registry_location)


@pytest.fixture
def cfg(tmp_path: Path, db: str) -> str:
    """The collector's configuration, naming the registry ``db``: how every command finds it."""
    return str(write_collector_config(tmp_path, db))


def test_validate_exit_codes(tmp_path: Path) -> None:
    assert run("plan", "validate", str(VALID))[0] == 0
    code, output = run("plan", "validate", str(CASES / "too_few_enterprises" / "plan.yaml"))
    assert code == 1 and "expected at least 10" in output
    assert run("plan", "validate", str(tmp_path / "missing.yaml"))[0] == 2


def test_load_show_and_history(db: str, cfg: str, tmp_path: Path) -> None:
    assert run("plan", "load", str(VALID), "--config", cfg)[0] == 2  # --by is required
    code, output = run("plan", "load", str(VALID), "--by", "alice", "--config", cfg)
    assert code == 0 and "version 1 stored" in output
    code, output = run("plan", "load", str(VALID), "--by", "alice", "--config", cfg)
    assert code == 0 and "unchanged, still version 1" in output
    changed = tmp_path / "plan.yaml"
    changed.write_text(VALID.read_text().replace("end: 2026-08-30", "end: 2026-09-06"))
    code, output = run("plan", "load", str(changed), "--by", "bob", "--config", cfg)
    assert code == 0 and "version 2 stored, by bob" in output
    code, output = run("plan", "show", "--config", cfg)
    assert code == 0
    assert "reporting 2026-06-01..2026-09-06 (98 d)" in output
    assert "v1 " in output and "v2 " in output and "by bob" in output
    code, output = run("plan", "show", "--config", cfg, "--version", "1", "--json")
    assert code == 0 and json.loads(output)["platforms"][0]["enterprises"][0]["reporting"] == {
        "start": "2026-06-01",
        "end": "2026-08-30",
    }
    assert run("plan", "show", "--config", cfg, "--version", "9")[0] == 1


def test_agents_add_revoke_list(db: str, cfg: str) -> None:
    run("plan", "load", str(VALID), "--by", "alice", "--config", cfg)
    key = wire.public_key_text(Ed25519PrivateKey.generate().public_key())
    code, output = run(
        "agents", "add", "gw-new", "--platform", "plat-a", "--enterprise", "plat-a-e02",
        "--key", key, "--device", "press-7", "--device", "press-8", "--by", "carol",
        "--config", cfg,
    )  # fmt: skip
    assert code == 0 and "gw-new registered for plat-a/plat-a-e02 (press-7, press-8)" in output
    code, output = run(
        "agents", "add", "gw-new", "--platform", "plat-a", "--enterprise", "plat-a-e02",
        "--key", key, "--device", "press-7", "--by", "carol", "--config", cfg,
    )  # fmt: skip
    assert code == 1 and "never reused" in output
    code, output = run(
        "agents", "revoke", "gw-new", "--by", "dave", "--reason", "lost", "--config", cfg
    )
    assert code == 0 and "revoked since" in output
    code, output = run("agents", "list", "--config", cfg)
    assert code == 0 and "11 agents" in output and "revoked since" in output


def test_quarantine_commands_escape_hostile_text(db: str, cfg: str, tmp_path: Path) -> None:
    with Registry(db) as registry:
        entry_id = registry.quarantine_add(
            b"\x1b]0;owned\x07\x00\xff" + b"A" * 100_000,
            topic="rv/v1/[bold]x[/bold]/\x1b[2J/windows",
            received_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
            reason_code="not_json",
            detail="bad \x1b[31m json",
        )
    code, output = run("quarantine", "list", "--config", cfg)
    assert code == 0 and "not_json 1" in output
    code, output = run("quarantine", "show", str(entry_id), "--config", cfg)
    assert code == 0 and "\x1b" not in output
    assert "[bold]x[/bold]" in output and "\\x1b[2J" in output
    assert "100012 bytes (65536 kept)" in output and "(not UTF-8 text)" in output
    assert run("quarantine", "show", "999", "--config", cfg)[0] == 1
    out = tmp_path / "q.jsonl"
    code, output = run("quarantine", "export", "--out", str(out), "--config", cfg)
    assert code == 0 and "1 entry written" in output
    assert json.loads(out.read_text())["raw_length"] == 100_012
    assert run("quarantine", "list", "--since", "yesterday", "--config", cfg)[0] == 1


# Terminal controls a hostile plan, user or reason may hold: ESC sequences (clear screen, set
# the window title), bidi overrides and isolates, other C0 controls, C1 controls (CSI, NEL, DCS)
# and rich markup. None may reach the terminal as itself (#14).
HOSTILE = "\x1b[2J\x1b]0;owned\x07\u202e\u2066\x00\x08\r\x9b31m\x85\x90[bold red]x[/bold red]"
HOSTILE_YAML = '"\\e[2J\\e]0;owned\\a\\u202E\\u2066\\0\\b\\r\\x9b31m\\N\\x90[bold red]x[/bold red]"'


def _controls(output: str) -> list[str]:
    """Characters a terminal would act on rather than show (newline ends a line: allowed)."""
    return [ch for ch in output if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")]


def _hostile_plan(tmp_path: Path) -> Path:
    text = VALID.read_text(encoding="utf-8")
    for name in ("浙江省宁波市", "平台 plat-a", "企业 plat-a-e01", "细分行业 auto-parts"):
        text = text.replace(f"name: {name}", f"name: {HOSTILE_YAML}")
    text = text.replace("solution: 设备联网与 OEE 看板", f"solution: {HOSTILE_YAML}")
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_command_escapes_registry_text_printed_to_the_terminal(
    db: str, cfg: str, tmp_path: Path
) -> None:
    full = CliRunner()

    def run_all(*args: str) -> str:
        result = full.invoke(collector_app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    loaded = run_all("plan", "load", str(_hostile_plan(tmp_path)), "--by", HOSTILE, "--config", cfg)
    with Registry(db) as registry:  # the names went into the registry as they were
        assert registry.plan_version("330200-2026", None).plan.province.name == HOSTILE
    run_all("agents", "revoke", "plat-a-e01-gw", "--by", "x", "--reason", HOSTILE, "--config", cfg)
    run_all("users", "add", "li", "--name", HOSTILE, "--role", "observer", "--by", HOSTILE,
            "--config", cfg)  # fmt: skip
    outputs = {
        "plan load": loaded,
        "plan show": run_all("plan", "show", "--config", cfg),
        "plan show --json": run_all("plan", "show", "--json", "--config", cfg),
        "agents list": run_all("agents", "list", "--config", cfg),
        "users list": run_all("users", "list", "--config", cfg),
    }
    for command, output in outputs.items():
        assert _controls(output) == [], command
        assert "\\x1b[2J" in output or "\\u001b[2J" in output, command
    shown = outputs["plan show"]
    assert "\\x1b[2J\\x1b]0;owned\\x07\\u202e\\u2066\\x00\\x08\\r\\x9b31m\\x85\\x90" in shown
    assert "[bold red]x[/bold red]" in shown  # markup shown as text, not obeyed
    plan = json.loads(outputs["plan show --json"])  # still JSON, and still the same names
    assert plan["province"]["name"] == HOSTILE


def test_the_old_registry_option_still_works_with_one_warning_line(tmp_path: Path) -> None:
    """``--registry``/``RV_REGISTRY``, the registry commands' way before ``--config`` (#15):
    a SQLite file only (a PostgreSQL registry is named in the configuration)."""
    db = str(tmp_path / "registry.sqlite")
    cfg = str(write_collector_config(tmp_path, db))
    code, output = run("plan", "load", str(VALID), "--by", "alice", "--registry", db)
    assert code == 0 and "version 1 stored" in output
    assert output.count(REGISTRY_DEPRECATED) == 1
    result = CliRunner().invoke(app, ["agents", "list"], env={"RV_REGISTRY": db})
    assert result.exit_code == 0 and "10 agents" in result.output
    assert result.output.count(REGISTRY_DEPRECATED) == 1
    result = CliRunner().invoke(collector_app, ["users", "list", "--registry", db])
    assert result.exit_code == 0 and result.output.count(REGISTRY_DEPRECATED) == 1
    # The new way prints no warning, and the old option is no longer offered in --help.
    code, output = run("plan", "show", "--config", cfg)
    assert code == 0 and "warning" not in output
    code, output = run("plan", "load", "--help")
    assert code == 0 and "--config" in output and "--registry" not in output


def test_a_missing_or_invalid_configuration_is_refused_before_the_registry(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "registry.sqlite")
    code, output = run("agents", "list", "--config", str(tmp_path / "none.yaml"))
    assert code == 2 and "none.yaml" in output and "Traceback" not in output
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"registry: {db}\n", encoding="utf-8")
    code, output = run("quarantine", "list", "--config", str(broken))
    assert code == 1 and "broker" in output
    assert not Path(db).exists()  # never created from a configuration that was refused
