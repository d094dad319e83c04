"""Active content in a PDF, found by parsing it (pypdf), never by searching its bytes.

A name can be written with ``#xx`` escapes (``/J#61vaScript``), and objects can sit inside
compressed object streams (ISO 32000-1 §7.3.5, §7.5.7): a search of the raw bytes sees
neither. pypdf decodes names and object streams as a reader does; every object the
cross-reference lists (those in object streams included) and the trailer is then looked at,
each dictionary and array inside it too, whether or not anything points at it.

What is refused (docs/web.md, "Active content in PDFs"), with the object it sits in:

- **JavaScript**: an action of type ``/JavaScript``, a ``/JS`` entry, or a ``/JavaScript``
  name tree (document-level scripts; ISO 32000-1 §12.6.4.16, §7.7.4);
- **actions that run or fetch something**: ``/Launch`` (start a program or open a file),
  ``/SubmitForm``, ``/ImportData``, ``/Rendition``, ``/Movie``, ``/Sound``,
  ``/RichMediaExecute``, ``/GoToE`` (open an embedded document), wherever they are;
- **automatic actions**: an ``/OpenAction`` or an ``/AA`` (additional actions: on opening a
  page, focusing a field, closing the document...) of any type but ``/GoTo`` (or a plain
  destination): a link a person clicks is fine, a URI the reader opens by itself is a beacon;
- **embedded files**: an ``/EmbeddedFiles`` name tree, an ``/EmbeddedFile`` stream, a file
  specification with ``/EF``, a ``/FileAttachment`` annotation;
- **RichMedia and 3D** annotations (Flash, video, U3D/PRC with their own scripts);
- **XFA forms** (an ``/XFA`` entry: XML forms with their own scripts).

Refused, not stripped: a cleaned invoice is no longer the document that was signed.

This module parses untrusted bytes: :mod:`.pdf_guard` runs it in a child process with memory
and time limits, and sets pypdf's own decompression limits there (:func:`scan_limited`).
"""

from __future__ import annotations

import io
import json
import resource
import sys
from collections.abc import Iterator
from typing import Any, Final

__all__ = ["MAX_OBJECTS", "PdfUnreadable", "active_content", "main"]

#: More objects than this and the PDF is not checked (refused as unreadable): an invoice or a
#: scanned contract holds hundreds to a few thousand.
MAX_OBJECTS: Final = 200_000
#: Per stream decoded while reading (object streams, cross-reference streams): far above any
#: honest document's object streams, far below pypdf's default of 75 MB.
_MAX_STREAM_BYTES: Final = 32 * 1024 * 1024

_RUNS: Final = {
    "/JavaScript": "JavaScript",
    "/Launch": "a launch action (starts a program or opens a file)",
    "/SubmitForm": "a submit-form action (sends data out)",
    "/ImportData": "an import-data action",
    "/Rendition": "a rendition action (plays media)",
    "/Movie": "a movie action",
    "/Sound": "a sound action",
    "/RichMediaExecute": "a RichMedia execute action",
    "/GoToE": "a go-to-embedded action (opens an embedded document)",
}
_ANNOTATIONS: Final = {
    "/FileAttachment": "an embedded file (file attachment annotation)",
    "/RichMedia": "RichMedia content (Flash or video)",
    "/3D": "3D content (U3D/PRC, which carries its own scripts)",
}


class PdfUnreadable(Exception):
    """The PDF could not be checked: damaged past repair, encrypted, or over a limit."""


def _resolved(value: object) -> object:
    """An indirect reference's object (pypdf's IndirectObject), anything else as it is."""
    get_object = getattr(value, "get_object", None)
    return get_object() if callable(get_object) else value


def _name(value: object) -> str | None:
    value = _resolved(value)
    return str(value) if isinstance(value, str) else None


def _automatic(action: object, trigger: str) -> str | None:
    """What an automatic trigger runs, unless it is a plain destination or a /GoTo."""
    action = _resolved(action)
    if not isinstance(action, dict):
        return None  # a destination array (ISO 32000-1 §12.3.2): only moves the view
    kind = _name(action.get("/S"))
    if kind == "/GoTo":
        return None
    return f"an automatic {trigger} that runs a {(kind or '?').lstrip('/')} action"


def _automatic_findings(entries: dict[Any, Any]) -> Iterator[str]:
    if "/OpenAction" in entries:
        found = _automatic(entries["/OpenAction"], "/OpenAction")
        if found:
            yield found
    triggers = _resolved(entries.get("/AA"))
    if isinstance(triggers, dict):
        for trigger, action in triggers.items():
            found = _automatic(action, f"/AA {trigger}")
            if found:
                yield found


def _dictionary_findings(entries: dict[Any, Any]) -> Iterator[str]:
    kind = _name(entries.get("/S"))
    if "/JS" in entries or "/JavaScript" in entries:
        yield "JavaScript"
    elif kind in _RUNS:
        yield _RUNS[kind]
    if "/EmbeddedFiles" in entries or "/EF" in entries:
        yield "an embedded file"
    if _name(entries.get("/Type")) == "/EmbeddedFile":
        yield "an embedded file"
    subtype = _name(entries.get("/Subtype"))
    if subtype in _ANNOTATIONS:
        yield _ANNOTATIONS[subtype]
    if "/RichMediaContent" in entries:
        yield _ANNOTATIONS["/RichMedia"]
    if "/XFA" in entries:
        yield "an XFA form (XML forms carry their own scripts)"
    yield from _automatic_findings(entries)


def _findings_in(root: Any) -> Iterator[str]:
    """Findings in one object and everything directly inside it (not through references)."""
    pending = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            yield from _dictionary_findings(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def _object_numbers(reader: Any) -> list[tuple[int, int]]:
    numbers = {(idnum, gen) for gen, table in reader.xref.items() for idnum in table}
    numbers.update((idnum, 0) for idnum in reader.xref_objStm)
    if len(numbers) > MAX_OBJECTS:
        raise PdfUnreadable(f"it has {len(numbers):,} objects, more than {MAX_OBJECTS:,}")
    return sorted(numbers)


def _reader(data: bytes) -> Any:
    from pypdf import PdfReader  # heavy; only the checking child needs it

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise PdfUnreadable(
            "it is encrypted with a password, so its content cannot be checked; upload it "
            "without a password"
        )
    return reader


def active_content(data: bytes) -> list[str]:
    """What in the PDF could run, each as ``"<what> (object N)"``, at most once per what and
    object, in object order; empty for a PDF with none.

    Raises PdfUnreadable when the PDF cannot be parsed or is encrypted with a password, and
    whatever pypdf raises past its limits (the caller treats it as unreadable).
    """
    from pypdf.generic import IndirectObject  # as in _reader

    reader = _reader(data)
    found: dict[str, None] = {}
    for what in _findings_in(reader.trailer):
        found[f"{what} (trailer)"] = None
    for idnum, gen in _object_numbers(reader):
        item = reader.get_object(IndirectObject(idnum, gen, reader))
        for what in _findings_in(item):
            found[f"{what} (object {idnum})"] = None
    return list(found)


def _limit_self(memory_bytes: int, cpu_s: int) -> None:
    """Limits on this (child) process: address space, CPU seconds, no file written."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def scan_limited(data: bytes) -> dict[str, Any]:
    """The child's answer for ``data``: ``{"found": [...]}`` or ``{"unreadable": reason}``."""
    from pypdf import overwrite_configuration  # as in _reader

    overwrite_configuration(
        maximum_declared_stream_length=_MAX_STREAM_BYTES,
        zlib_maximum_output_length=_MAX_STREAM_BYTES,
        lzw_maximum_output_length=_MAX_STREAM_BYTES,
        run_length_maximum_output_length=_MAX_STREAM_BYTES,
        brotli_maximum_output_length=_MAX_STREAM_BYTES,
        array_based_stream_maximum_output_length=_MAX_STREAM_BYTES,
        jbig2dec_binary=None,  # never start another program on these bytes
    )
    try:
        return {"found": active_content(data)}
    except PdfUnreadable as exc:
        return {"unreadable": str(exc)}
    except MemoryError:
        return {"unreadable": "it needs more memory to read than a document should"}
    except RecursionError:
        return {"unreadable": "its objects are nested deeper than a document's are"}
    except Exception as exc:  # pypdf's errors and any parse failure: refused, named
        return {"unreadable": f"it could not be parsed ({type(exc).__name__}: {str(exc)[:200]})"}


def main() -> None:
    """The child: ``python -I .../pdf_scan.py MEMORY_BYTES CPU_S``, the PDF on standard
    input, one JSON line on standard output. Run as a file: this module imports only the
    standard library (and pypdf when it parses), never our package."""
    _limit_self(int(sys.argv[1]), int(sys.argv[2]))
    data = sys.stdin.buffer.read()
    sys.stdout.write(json.dumps(scan_limited(data)) + "\n")


if __name__ == "__main__":
    main()
