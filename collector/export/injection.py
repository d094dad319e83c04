"""Formula injection: text from plans and documents must never run in a reviewer's spreadsheet.

A cell or CSV field whose text starts with ``=``, ``+``, ``-`` or ``@`` is taken by Excel,
WPS and LibreOffice for a formula (``=HYPERLINK(...)`` leaks data, ``=cmd|...`` ran programs
through DDE); a leading tab or carriage return can hide such a start. Enterprise and platform
names come from plans a platform writes, so they are hostile input. Following OWASP's guidance
on CSV injection, such text gets a leading apostrophe: every spreadsheet shows it as text, and
the original is the text after it. The full-width forms (＝ ＋ － ＠), which a Chinese input
method types, are treated the same way.
"""

from __future__ import annotations

__all__ = ["FORMULA_STARTS", "neutralise"]

#: First characters that make a spreadsheet read a cell as a formula (or hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def neutralise(text: str) -> str:
    """``text``, with a leading apostrophe if it starts like a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text
