"""docs/installers.md: the commands it shows exist, and its retrofit example matches the file."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from agent.cli import app

ROOT = Path(__file__).parents[3]
DOC = (ROOT / "docs" / "installers.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "deploy" / "agent" / "examples" / "press-power-meter-rtu.yaml"


def shown_commands() -> list[list[str]]:
    """The subcommand words of every ``$ retrofit-agent ...`` line (options dropped)."""
    commands = []
    for line in re.findall(r"^\s*\$ retrofit-agent (.+)$", DOC, flags=re.MULTILINE):
        words = [word for word in shlex.split(line) if not word.startswith("-")]
        commands.append(words[:2] if words[0] == "probe" else words[:1])
    return commands


def test_every_agent_command_shown_exists() -> None:
    commands = shown_commands()
    assert ["probe", "state"] in commands and ["check-config"] in commands
    runner = CliRunner()
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)


def test_the_block_probe_state_printed_is_the_examples() -> None:
    section = DOC.split("### A machine with no controller", 1)[1]
    printed = section.split("paste under the device (replacing any state: block):\n", 1)[1]
    block_lines = []
    for line in printed.splitlines():
        if line.strip() == "```":
            break
        block_lines.append(line)
    printed_state: dict[str, Any] = yaml.safe_load("\n".join(block_lines))["state"]
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    (device,) = example["devices"]
    assert device["state"]["power"] == printed_state["power"]
    assert device["state"]["min_dwell_s"] == printed_state["min_dwell_s"]
