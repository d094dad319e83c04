"""Text for a terminal from hostile sources: shown as characters, never obeyed.

A name in a plan, a user's display name, a quarantined topic or a CSV header may hold ESC
sequences (clear the screen, set the window title, fake a prompt), C1 controls that some
terminals act on like ESC (U+009B is CSI), bidi overrides that reorder what the reader sees
(U+202E), or rich markup (``[bold]``). :func:`safe_text` writes every character a terminal would
act on as a Python escape (``\\x1b``, ``\\u202e``); :func:`say` prints a line that way, with
rich markup and highlighting off. Both command lines print through them. Characters that are
merely unusual but visible (CJK, ideographic spaces) stay as they are.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from rich.console import Console
from rich.text import Text

__all__ = ["json_for_terminal", "safe_text", "say"]

#: Unicode categories a terminal acts on or does not show: controls (C0, DEL, C1), format
#: characters (bidi controls, zero-width ones), line and paragraph separators, surrogates
#: (an undecodable byte read with surrogateescape), private use and unassigned code points.
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def safe_text(text: str) -> str:
    """``text`` with every control, format or unassigned character as a backslash escape.

    A newline is escaped too: one registry string prints as one line, never as a forged one.
    """
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(ch.encode("unicode_escape").decode() if _is_unsafe(ch) else ch for ch in text)


def say(out: Console, text: str, style: str = "") -> None:
    """Print ``text`` on one line of ``out``: escaped, no markup, no highlighting, no wrapping."""
    out.print(Text(safe_text(text), style=style), soft_wrap=True, highlight=False)


def json_for_terminal(document: str) -> str:
    """A JSON text with every character :func:`safe_text` would escape written as ``\\uXXXX``.

    Still valid JSON meaning the same: outside strings JSON has only spaces and newlines, and
    inside them ``\\uXXXX`` (a surrogate pair above U+FFFF) stands for the character itself.
    """
    return "".join(_json_escape(ch) if _is_unsafe(ch) and ch != "\n" else ch for ch in document)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
