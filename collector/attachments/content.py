"""What a file is, decided by its bytes: PDF, PNG or JPEG, anything else refused.

Never by the file's name or the Content-Type a client sends: both are the uploader's claim.
Each accepted type is checked by its magic bytes and a minimal structure (docs/web.md,
"Enterprise files"):

- PDF: ``%PDF-1.x`` or ``%PDF-2.x`` at byte 0 (not merely within the first 1024 bytes, as
  lenient readers allow: a file with anything before its header is a polyglot candidate) and
  ``%%EOF`` within the last 1024 bytes (ISO 32000-1 §7.5.5; the same tolerance as readers for
  trailing line ends);
- PNG: the 8-byte signature, then an ``IHDR`` chunk of length 13 whose CRC matches, with a
  non-zero width and height (ISO/IEC 15948 §5.2, §11.2.2), and the ``IEND`` chunk at the end;
- JPEG: SOI (``FF D8 FF``) at the start and EOI (``FF D9``) as the last two bytes
  (ITU-T T.81 §B.1.1.3).

A truncated upload fails its trailer check. SVG and HTML are refused as every other type is:
a browser would run their scripts. What a refused file looks like (HTML, an executable, a zip)
is named in the message when it is recognisable.
"""

from __future__ import annotations

import re
import struct
import zlib

from collector.attachments.errors import AttachmentRefused
from collector.attachments.kinds import MediaType

__all__ = ["media_type_of"]

_PDF_HEADER = re.compile(rb"\A%PDF-[12]\.[0-9]")
_PDF_TRAILER_WINDOW = 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_SOI = b"\xff\xd8\xff"
_JPEG_EOI = b"\xff\xd9"

#: (leading bytes, what it is): named in the refusal.
_LOOKS_LIKE = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"#!", "a script"),
    (b"PK\x03\x04", "a zip archive (or a .docx/.xlsx)"),
    (b"GIF8", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP, AVI, WAV)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
)
_MARKUP = re.compile(rb"\A(\xef\xbb\xbf)?\s*<", re.ASCII)


def _looks_like(data: bytes) -> str:
    if _MARKUP.match(data[:1024]):
        text = data[:1024].lower()
        return "an SVG image" if b"<svg" in text else "HTML or XML"
    for lead, name in _LOOKS_LIKE:
        if data.startswith(lead):
            return name
    return "none of them"


def _refused(data: bytes) -> AttachmentRefused:
    return AttachmentRefused(
        "type",
        f"the file's content is not a PDF, PNG or JPEG (by its first bytes it is "
        f"{_looks_like(data)}); only those are accepted, whatever the file's name says",
    )


def _pdf(data: bytes) -> MediaType:
    if b"%%EOF" not in data[-_PDF_TRAILER_WINDOW:]:
        raise AttachmentRefused(
            "type",
            "the file starts as a PDF but has no %%EOF in its last 1024 bytes: a truncated "
            "or damaged PDF; upload the whole file",
        )
    return "application/pdf"


def _png(data: bytes) -> MediaType:
    header = data[8:33]
    if len(header) < 25 or header[:8] != b"\x00\x00\x00\x0dIHDR":
        raise AttachmentRefused("type", "the file has a PNG signature but no IHDR chunk after it")
    width, height = struct.unpack(">II", header[8:16])
    (crc,) = struct.unpack(">I", header[21:25])
    if zlib.crc32(header[4:21]) != crc or width == 0 or height == 0:
        raise AttachmentRefused("type", "the file's PNG IHDR chunk is damaged (CRC or size)")
    if not data.endswith(_PNG_IEND):
        raise AttachmentRefused(
            "type", "the file starts as a PNG but does not end with IEND: truncated or damaged"
        )
    return "image/png"


def _jpeg(data: bytes) -> MediaType:
    if len(data) < 4 or not data.endswith(_JPEG_EOI):
        raise AttachmentRefused(
            "type", "the file starts as a JPEG but does not end with EOI (FF D9): truncated"
        )
    return "image/jpeg"


def media_type_of(data: bytes) -> MediaType:
    """The file's type by its content: ``application/pdf``, ``image/png`` or ``image/jpeg``.

    Raises AttachmentRefused (reason ``type``) for anything else, and for a PDF, PNG or JPEG
    whose structure is broken (truncated, damaged header).
    """
    if _PDF_HEADER.match(data):
        return _pdf(data)
    if data.startswith(_PNG_SIGNATURE):
        return _png(data)
    if data.startswith(_JPEG_SOI):
        return _jpeg(data)
    raise _refused(data)
