"""``plan``, ``agents`` and ``quarantine`` commands, through the Typer app they register on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from agent import wire
from collector.plan_cli import register
from collector.registry import Registry

CASES = Path(__file__).parent / "plan_cases"
VALID = CASES / "valid_minimal" / "plan.yaml"

app = typer.Typer()


@app.callback()
def _root() -> None:
    """Stand-in for retrofit-collector's root (collector/cli.py wires register the same way)."""


register(app)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "registry.sqlite")


def test_validate_exit_codes(tmp_path: Path) -> None:
    assert run("plan", "validate", str(VALID))[0] == 0
    code, output = run("plan", "validate", str(CASES / "too_few_enterprises" / "plan.yaml"))
    assert code == 1 and "expected at least 10" in output
    assert run("plan", "validate", str(tmp_path / "missing.yaml"))[0] == 2


def test_load_show_and_history(db: str, tmp_path: Path) -> None:
    assert run("plan", "load", str(VALID), "--registry", db)[0] == 2  # --by is required
    code, output = run("plan", "load", str(VALID), "--by", "alice", "--registry", db)
    assert code == 0 and "version 1 stored" in output
    code, output = run("plan", "load", str(VALID), "--by", "alice", "--registry", db)
    assert code == 0 and "unchanged, still version 1" in output
    changed = tmp_path / "plan.yaml"
    changed.write_text(VALID.read_text().replace("end: 2026-08-30", "end: 2026-09-06"))
    code, output = run("plan", "load", str(changed), "--by", "bob", "--registry", db)
    assert code == 0 and "version 2 stored, by bob" in output
    code, output = run("plan", "show", "--registry", db)
    assert code == 0
    assert "reporting 2026-06-01..2026-09-06 (98 d)" in output
    assert "v1 " in output and "v2 " in output and "by bob" in output
    code, output = run("plan", "show", "--registry", db, "--version", "1", "--json")
    assert code == 0 and json.loads(output)["platforms"][0]["enterprises"][0]["reporting"] == {
        "start": "2026-06-01",
        "end": "2026-08-30",
    }
    assert run("plan", "show", "--registry", db, "--version", "9")[0] == 1


def test_agents_add_revoke_list(db: str) -> None:
    run("plan", "load", str(VALID), "--by", "alice", "--registry", db)
    key = wire.public_key_text(Ed25519PrivateKey.generate().public_key())
    code, output = run(
        "agents", "add", "gw-new", "--platform", "plat-a", "--enterprise", "plat-a-e02",
        "--key", key, "--device", "press-7", "--device", "press-8", "--by", "carol",
        "--registry", db,
    )  # fmt: skip
    assert code == 0 and "gw-new registered for plat-a/plat-a-e02 (press-7, press-8)" in output
    code, output = run(
        "agents", "add", "gw-new", "--platform", "plat-a", "--enterprise", "plat-a-e02",
        "--key", key, "--device", "press-7", "--by", "carol", "--registry", db,
    )  # fmt: skip
    assert code == 1 and "never reused" in output
    code, output = run(
        "agents", "revoke", "gw-new", "--by", "dave", "--reason", "lost", "--registry", db
    )
    assert code == 0 and "revoked since" in output
    code, output = run("agents", "list", "--registry", db)
    assert code == 0 and "11 agents" in output and "revoked since" in output


def test_quarantine_commands_escape_hostile_text(db: str, tmp_path: Path) -> None:
    with Registry(Path(db)) as registry:
        entry_id = registry.quarantine_add(
            b"\x1b]0;owned\x07\x00\xff" + b"A" * 100_000,
            topic="rv/v1/[bold]x[/bold]/\x1b[2J/windows",
            received_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
            reason_code="not_json",
            detail="bad \x1b[31m json",
        )
    code, output = run("quarantine", "list", "--registry", db)
    assert code == 0 and "not_json 1" in output
    code, output = run("quarantine", "show", str(entry_id), "--registry", db)
    assert code == 0 and "\x1b" not in output
    assert "[bold]x[/bold]" in output and "\\x1b[2J" in output
    assert "100012 bytes (65536 kept)" in output and "(not UTF-8 text)" in output
    assert run("quarantine", "show", "999", "--registry", db)[0] == 1
    out = tmp_path / "q.jsonl"
    code, output = run("quarantine", "export", "--out", str(out), "--registry", db)
    assert code == 0 and "1 entry written" in output
    assert json.loads(out.read_text())["raw_length"] == 100_012
    assert run("quarantine", "list", "--since", "yesterday", "--registry", db)[0] == 1
