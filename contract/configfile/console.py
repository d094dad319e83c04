"""Configuration issues on a terminal: one line each, errors red, warnings yellow, escaped."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from contract.errors import ConfigIssue
from contract.terminal import say

__all__ = ["print_issues"]


def print_issues(console: Console, issues: Sequence[ConfigIssue]) -> None:
    """Print each issue on its own line (a file's text is hostile: escaped by ``say``)."""
    for issue in issues:
        style = "yellow" if issue.severity == "warning" else "red"
        say(console, str(issue), style)
