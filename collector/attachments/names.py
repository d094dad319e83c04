"""A document's file name: refused when it carries a path or characters that are not a name.

The name is only ever shown and offered as the download's name; the bytes are stored under
their SHA-256, so a name can never choose where anything is written. Still, a name is refused,
not silently reduced, when it holds (docs/web.md, "Enterprise files"):

- a path: ``/`` or ``\\``, a drive or stream mark ``:``, or is ``.``/``..``;
- a control, format or separator character (``Cc``, ``Cf``, ``Zl``, ``Zp``: NUL, line ends,
  bidirectional overrides that make ``evil‮fdp.exe`` read as ``evilexe.pdf``);
- a character Windows forbids in names (``< > " | ? *``): the reviewer saves it there;
- a leading dot (a hidden file once saved), or more than :data:`MAX_NAME_CHARS` characters.

Refusing says to the uploader what was wrong; reducing would store a name nobody chose. The
name is normalised to NFC and stripped of surrounding spaces first. The download keeps the
name but gets the suffix of the type its content has (``invoice.html`` holding a PDF is
offered as ``invoice.html.pdf``), so a saved file opens as what it is.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from collector.attachments.errors import AttachmentRefused
from collector.attachments.kinds import SUFFIXES

__all__ = ["MAX_NAME_CHARS", "checked_name", "download_name"]

#: Longest file name kept, in characters.
MAX_NAME_CHARS: Final = 200
_PATH_CHARS = frozenset("/\\:")
_WINDOWS_FORBIDDEN = frozenset('<>"|?*')
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _refuse(detail: str) -> AttachmentRefused:
    return AttachmentRefused("name", f"file name refused: {detail}")


def checked_name(name: str) -> str:
    """The name as stored (NFC, stripped); AttachmentRefused (reason ``name``) otherwise."""
    text = unicodedata.normalize("NFC", name).strip()
    if not text:
        raise _refuse("empty; give the document's file name, e.g. contract.pdf")
    if len(text) > MAX_NAME_CHARS:
        raise _refuse(f"{len(text)} characters, expected at most {MAX_NAME_CHARS}")
    if text in (".", "..") or any(char in _PATH_CHARS for char in text):
        raise _refuse(f"{text[:80]!r} holds a path (/, \\ or :); give the file's name alone")
    bad = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _BAD_CATEGORIES})
    if bad:
        raise _refuse(f"it holds control or formatting characters ({', '.join(bad[:5])})")
    forbidden = sorted({c for c in text if c in _WINDOWS_FORBIDDEN})
    if forbidden:
        raise _refuse(f"it holds {' '.join(forbidden)}, which file names may not hold")
    if text.startswith("."):
        raise _refuse(f"{text[:80]!r} starts with a dot (a hidden file once saved)")
    return text


def download_name(name: str, media_type: str) -> str:
    """``name`` with the suffix of ``media_type`` added unless it already ends with one."""
    suffixes = SUFFIXES.get(media_type, ())
    if not suffixes or name.lower().endswith(suffixes):
        return name
    return name + suffixes[0]
