"""contract/terminal.py: hostile text reaches a terminal as characters, never as controls."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from contract.terminal import json_for_terminal, safe_text, say


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),  # ESC: clear the screen
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),  # OSC: set the window title
        ("\x9b31m", "\\x9b31m"),  # C1 CSI: ESC [ in one byte
        ("\x85\x90", "\\x85\\x90"),  # C1 NEL and DCS
        ("ent-01\u202efdp.exe", "ent-01\\u202efdp.exe"),  # bidi override
        ("a\u2066b\u2069", "a\\u2066b\\u2069"),  # bidi isolates
        ("\x00\x08\r\n\t\x7f", "\\x00\\x08\\r\\n\\t\\x7f"),  # C0 and DEL; a newline too
        ("\u2028", "\\u2028"),  # line separator
        ("\udcff", "\\udcff"),  # a byte that was not UTF-8, kept by surrogateescape
        ("\U000e0041", "\\U000e0041"),  # a tag character: invisible
    ],
)
def test_controls_are_shown_as_escapes(text: str, shown: str) -> None:
    assert safe_text(text) == shown


def test_visible_text_is_left_as_it_is() -> None:
    text = "宁波精锻　公司 [bold]x[/bold] ent-01 \\x1b"  # with an ideographic space
    assert safe_text(text) == text


def test_say_prints_one_line_without_markup_or_controls() -> None:
    buffer = io.StringIO()
    say(Console(file=buffer, width=20), "[red]企业[/red]\x1b[2J\n" + "x" * 50)
    assert buffer.getvalue() == "[red]企业[/red]\\x1b[2J\\n" + "x" * 50 + "\n"


def test_json_for_terminal_is_the_same_json_without_controls() -> None:
    value = {"name": "企业\x1b[2J\u202e\x9b\U000e0041\u2028", "list": [1, "\x00"]}
    document = json.dumps(value, indent=2, ensure_ascii=False)
    shown = json_for_terminal(document)
    assert json.loads(shown) == value
    assert safe_text(shown.replace("\n", "")) == shown.replace("\n", "")
    assert "企业" in shown
