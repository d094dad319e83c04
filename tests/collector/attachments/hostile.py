"""Real PDFs with active content, and honest ones, built here object by object.

Each is a file a reader opens: a catalog, one page, a cross-reference table (or, for the
object-stream cases, a cross-reference stream with compressed objects, PDF 1.5). The hostile
ones carry what a reader would run: JavaScript with its names written in ``#xx`` escapes,
JavaScript inside a compressed object stream, a launch action, an embedded file, an XFA form.
"""

from __future__ import annotations

import struct
import zlib

__all__ = [
    "deflate_bomb_pdf",
    "embedded_file_pdf",
    "escaped_javascript_pdf",
    "goto_open_action_pdf",
    "javascript_in_object_stream_pdf",
    "launch_pdf",
    "link_pdf",
    "open_action_uri_pdf",
    "pdf_of",
    "xfa_pdf",
]

_PAGE_TEXT = b"BT /F1 24 Tf 72 720 Td (invoice) Tj ET"


def _stream(entries: bytes, data: bytes) -> bytes:
    return (
        b"<< "
        + entries
        + b" /Length "
        + str(len(data)).encode()
        + b" >>\nstream\n"
        + data
        + b"\nendstream"
    )


def _page_objects(catalog_extra: bytes, annots: bytes) -> list[bytes]:
    """Objects 1-5: catalog, pages, the page (with ``annots``), its content, its font."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> " + annots + b" >>",
        _stream(b"", _PAGE_TEXT),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def pdf_of(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1; the first is the catalog), classic xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def _link(action: bytes) -> bytes:
    return (
        b"<< /Type /Annot /Subtype /Link /Rect [72 700 300 730] /Border [0 0 0] /A "
        + action
        + b" >>"
    )


def link_pdf() -> bytes:
    """Honest: a page with a link a person clicks to open a web address."""
    objects = _page_objects(b"", b"/Annots [6 0 R]")
    objects.append(_link(b"<< /S /URI /URI (https://www.miit.gov.cn/) >>"))
    return pdf_of(objects)


def goto_open_action_pdf() -> bytes:
    """Honest: the document opens at page 1, fitted (an /OpenAction that is a destination)."""
    return pdf_of(_page_objects(b"/OpenAction [3 0 R /Fit]", b""))


def escaped_javascript_pdf() -> bytes:
    """A link whose action is JavaScript, every name written with ``#xx`` escapes."""
    objects = _page_objects(b"", b"/Annots [6 0 R]")
    objects.append(_link(b"<< /#53 /J#61v#61Script /J#53 (app.alert\\(1\\)) >>"))
    return pdf_of(objects)


def launch_pdf() -> bytes:
    """A link that starts a program."""
    objects = _page_objects(b"", b"/Annots [6 0 R]")
    objects.append(_link(b"<< /S /Launch /Win << /F (cmd.exe) /P (/c calc) >> >>"))
    return pdf_of(objects)


def open_action_uri_pdf() -> bytes:
    """Opens a web address by itself when the document is opened (a beacon)."""
    return pdf_of(_page_objects(b"/OpenAction << /S /URI /URI (https://example.net/seen) >>", b""))


def embedded_file_pdf() -> bytes:
    """An executable embedded as a file attachment of the document."""
    objects = _page_objects(b"/Names << /EmbeddedFiles 6 0 R >>", b"")
    objects.append(b"<< /Names [(setup.exe) 7 0 R] >>")
    objects.append(b"<< /Type /Filespec /F (setup.exe) /UF (setup.exe) /EF << /F 8 0 R >> >>")
    objects.append(_stream(b"/Type /EmbeddedFile", b"MZ\x90\x00 not really a program"))
    return pdf_of(objects)


def xfa_pdf() -> bytes:
    """A form with an XFA part (XML forms with their own scripts)."""
    objects = _page_objects(b"/AcroForm << /Fields [] /XFA 6 0 R >>", b"")
    objects.append(_stream(b"", b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>"))
    return pdf_of(objects)


def _object_stream_pdf(
    compressed: list[tuple[int, bytes]],
    plain: list[tuple[int, bytes]],
    object_stream_data: bytes | None = None,
) -> bytes:
    """PDF 1.5: ``plain`` objects in the file, ``compressed`` ones in one Flate object stream,
    and a cross-reference stream. Object numbers are given; the catalog is object 1."""
    offsets_in_stream, body = [], bytearray()
    for _, text in compressed:
        offsets_in_stream.append(len(body))
        body += text + b"\n"
    header = b" ".join(
        b"%d %d" % (number, at)
        for (number, _), at in zip(compressed, offsets_in_stream, strict=True)
    )
    data = object_stream_data if object_stream_data is not None else header + b"\n" + bytes(body)
    stream_number = max(number for number, _ in compressed + plain) + 1
    stream_body = _stream(
        b"/Type /ObjStm /N %d /First %d /Filter /FlateDecode" % (len(compressed), len(header) + 1),
        zlib.compress(data, 9),
    )
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    where: dict[int, tuple[int, int, int]] = {}
    for number, text in [*plain, (stream_number, stream_body)]:
        where[number] = (1, len(out), 0)
        out += b"%d 0 obj\n" % number + text + b"\nendobj\n"
    for index, (number, _) in enumerate(compressed):
        where[number] = (2, stream_number, index)
    xref_number = stream_number + 1
    xref_at = len(out)
    where[xref_number] = (1, xref_at, 0)
    size = xref_number + 1
    rows = b"".join(
        struct.pack(">BIH", *where.get(number, (0, 0, 65535 if number == 0 else 0)))
        for number in range(size)
    )
    xref = _stream(
        b"/Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Filter /FlateDecode" % size,
        zlib.compress(rows),
    )
    out += b"%d 0 obj\n" % xref_number + xref + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def javascript_in_object_stream_pdf() -> bytes:
    """Document-level JavaScript, its catalog and script compressed in an object stream: the
    file's bytes never show the word."""
    pages = _page_objects(b"", b"")
    compressed = [
        (1, b"<< /Type /Catalog /Pages 2 0 R /Names << /JavaScript 6 0 R >> >>"),
        (6, b"<< /Names [(init) 7 0 R] >>"),
        (7, b"<< /S /JavaScript /JS (app.launchURL\\('https://example.net'\\)) >>"),
    ]
    plain = [(number, pages[number - 1]) for number in range(2, 6)]
    return _object_stream_pdf(compressed, plain)


def deflate_bomb_pdf(decoded_bytes: int = 48 * 1024 * 1024) -> bytes:
    """An object stream whose Flate data inflates to ``decoded_bytes`` (zeros after a valid
    object): past the check's per-stream limit of 32 MiB."""
    pages = _page_objects(b"", b"")
    compressed = [(1, pages[0])]
    plain = [(number, pages[number - 1]) for number in range(2, 6)]
    valid = b"1 0\n" + pages[0] + b"\n"
    return _object_stream_pdf(compressed, plain, object_stream_data=valid + b" " * decoded_bytes)
