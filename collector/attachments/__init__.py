"""One file per enterprise (一企一档): the documents an enterprise's acceptance rests on.

Pure: bytes and text in, checked values out; no database or web code (docs/web.md,
"Enterprise files").

- :mod:`.kinds`: the kinds of document and the media types accepted;
- :mod:`.content`: the type decided by the bytes (PDF, PNG, JPEG), never by the name;
- :mod:`.pdf_scan`, :mod:`.pdf_guard`: a PDF's active content (JavaScript, launch actions,
  embedded files...), parsed in a child process with limits, refused when found;
- :mod:`.names`: the file name, refused when it holds a path or control characters;
- :mod:`.amounts`: an invoice's amount in CNY, exact, as fen;
- :mod:`.upload`: one document with every check passed;
- :mod:`.settings`: the ``attachments:`` key (the size limit).

The registry stores what passed (:mod:`collector.registry.attachments`); the web app, the
``attachments`` command and the bundles use both.
"""

from collector.attachments.amounts import MAX_AMOUNT_FEN, cny_text, fen_of_cny
from collector.attachments.content import media_type_of
from collector.attachments.errors import AttachmentRefused, RefusalReason
from collector.attachments.kinds import KINDS, MEDIA_TYPES, SUFFIXES, AttachmentKind, MediaType
from collector.attachments.names import MAX_NAME_CHARS, checked_name, download_name
from collector.attachments.pdf_guard import check_pdf
from collector.attachments.settings import DEFAULT_MAX_BYTES, AttachmentSettings
from collector.attachments.upload import Upload, checked_upload

__all__ = [
    "DEFAULT_MAX_BYTES",
    "KINDS",
    "MAX_AMOUNT_FEN",
    "MAX_NAME_CHARS",
    "MEDIA_TYPES",
    "SUFFIXES",
    "AttachmentKind",
    "AttachmentRefused",
    "AttachmentSettings",
    "MediaType",
    "RefusalReason",
    "Upload",
    "check_pdf",
    "checked_name",
    "checked_upload",
    "cny_text",
    "download_name",
    "fen_of_cny",
    "media_type_of",
]
