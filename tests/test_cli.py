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
