"""Every console script answers --help with its real commands, without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("retrofit-agent", ["keygen", "check-config", "run", "status", "probe", "import"]),
        ("retrofit-collector", ["verify-message"]),
        ("retrofit-sim", ["run", "check", "registers"]),
    ],
)
def test_help(script: str, expected: list[str]) -> None:
    result = subprocess.run(
        [str(BIN / script), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    for command in expected:
        assert command in result.stdout


def test_run_takes_the_lean_path_with_the_same_exit_codes(tmp_path: Path) -> None:
    agent = str(BIN / "retrofit-agent")
    missing = subprocess.run(
        [agent, "run", str(tmp_path / "none.yaml")], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2 and "none.yaml" in missing.stderr
    broken = tmp_path / "agent.yaml"
    broken.write_text("agent: {id: a/b}\n")
    invalid = subprocess.run(
        [agent, "run", str(broken)], capture_output=True, text=True, check=False
    )
    assert invalid.returncode == 1
    assert "agent.yaml:1 agent.id" in invalid.stderr
    assert "Traceback" not in invalid.stderr
    helped = subprocess.run([agent, "run", "--help"], capture_output=True, text=True, check=False)
    assert helped.returncode == 0 and "--metrics-port" in helped.stdout
