"""Reading a CSV export as hostile input: size, encoding, delimiter, columns, rows.

Exports from Chinese historians and MES come as UTF-8 (often with a BOM, as Excel writes it),
GB18030 (GBK, the "ANSI" code page of a Chinese Windows) or UTF-16 (Excel's "Unicode text").
``auto`` tries a BOM first, then UTF-8, then GB18030: GBK text is almost never valid UTF-8, so
the order cannot mistake one for the other. Rows are numbered as a spreadsheet shows them:
the first line of the file is row 1.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

from agent.importing.errors import ImportFileError

__all__ = [
    "MAX_COLUMNS",
    "MAX_IMPORT_BYTES",
    "MAX_ROWS",
    "Table",
    "is_text_encoding",
    "read_table",
]

#: Largest CSV file read, in bytes: a year of one device's 1-minute historian rows is ~30 MB.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
#: Most data rows in one file (about 11 days of 1-s samples, or 2 years of 1-min ones).
MAX_ROWS = 1_000_000
#: Most columns in a row; a historian export of one device has tens.
MAX_COLUMNS = 1000
_DELIMITERS = ",\t;|"
_SNIFF_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file read into rows of text cells, with how it was read."""

    source: str
    encoding: str
    delimiter: str
    header_row: int
    header: tuple[str, ...]
    #: (spreadsheet row number, cells) for every non-blank row after the header.
    rows: list[tuple[int, list[str]]]


def read_table(
    path: Path, *, encoding: str = "auto", delimiter: str | None = None, header_row: int = 1
) -> Table:
    """Read ``path`` as a CSV table whose header is on row ``header_row``.

    Raises ImportFileError naming the file and what is wrong: missing, not a regular file,
    too large, binary, not in the encoding, no header, too many columns or rows, broken CSV.
    """
    source = str(path)
    content = _read_bytes(path)
    text, used = _decode(content, encoding, source)
    del content
    if "\x00" in text:
        raise ImportFileError(f"{source}: binary content (NUL characters), expected CSV text")
    delimiter = delimiter or _sniff_delimiter(text, header_row)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    header: tuple[str, ...] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(reader, start=1):
            if len(cells) > MAX_COLUMNS:
                raise ImportFileError(
                    f"{source}: row {number} has {len(cells)} columns, more than the limit of "
                    f"{MAX_COLUMNS}; expected a device's export of tens of columns"
                )
            if number < header_row:
                continue
            if number == header_row:
                header = tuple(cell.strip().lstrip("\ufeff") for cell in cells)
                continue
            if not any(cell.strip() for cell in cells):
                continue  # blank line: Excel writes them, they hold nothing
            if len(rows) >= MAX_ROWS:
                raise ImportFileError(
                    f"{source}: more than {MAX_ROWS:,} data rows; split the export (by month, "
                    "say) and import the parts one after another"
                )
            rows.append((number, cells))
    except csv.Error as exc:
        raise ImportFileError(f"{source}: row {reader.line_num}: not valid CSV: {exc}") from None
    if not header or not any(header):
        raise ImportFileError(
            f"{source}: no header on row {header_row}, expected column names there "
            "(use --header-row if the export has title lines above them)"
        )
    return Table(source, used, delimiter, header_row, header, rows)


def _read_bytes(path: Path) -> bytes:
    source = str(path)
    try:
        if not path.exists():
            raise ImportFileError(f"{source}: no such file")
        if not path.is_file():
            raise ImportFileError(f"{source}: not a regular file, expected a CSV file")
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise ImportFileError(
                f"{source}: {size:,} bytes, more than the limit of {MAX_IMPORT_BYTES:,}; split "
                "the export (by month, say) and import the parts one after another"
            )
        with path.open("rb") as stream:
            content = stream.read(MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise ImportFileError(f"{source}: cannot be read: {exc.strerror or exc}") from None
    if len(content) > MAX_IMPORT_BYTES:  # grew while we looked
        raise ImportFileError(f"{source}: more than {MAX_IMPORT_BYTES:,} bytes")
    if not content.strip():
        raise ImportFileError(f"{source}: empty file, expected a CSV export with a header row")
    return content


def is_text_encoding(name: str) -> bool:
    """Whether ``name`` is a codec that turns bytes into text (utf-8, gb18030, utf-16 ...).

    ``codecs.lookup`` also knows rot13 (text to text) and zlib_codec, bz2_codec, hex_codec
    (bytes to bytes): ``bytes.decode`` refuses those with a LookupError, so they are refused
    here, before any file is read. ``_is_text_encoding`` is how the codecs module marks them.
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        return False
    return info._is_text_encoding


def _decode(content: bytes, encoding: str, source: str) -> tuple[str, str]:
    """The text and the name of the encoding it was read with."""
    if encoding != "auto":
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"{source}: not valid {encoding} text (byte {content[exc.start]:#04x} at offset "
                f"{exc.start}); try --encoding auto, which recognises UTF-8, GB18030 and UTF-16"
            ) from None
        return text.removeprefix("\ufeff"), encoding
    if content.startswith(codecs.BOM_UTF8):
        return _decode(content[len(codecs.BOM_UTF8) :], "utf-8", source)[0], "utf-8 (BOM)"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(content, "utf-16", source)[0], "utf-16"
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return content.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise ImportFileError(
            f"{source}: neither UTF-8 nor GB18030 text (byte "
            f"{content[utf8_error.start]:#04x} at offset {utf8_error.start}); if it is text, "
            "give its encoding with --encoding"
        ) from None


def _sniff_delimiter(text: str, header_row: int) -> str:
    # Title lines above the header (a report's name, a blank line) would mislead the sniffer.
    lines = text[: _SNIFF_CHARS * 2].splitlines()[header_row - 1 :]
    sample = "\n".join(lines)[:_SNIFF_CHARS]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        # The sniffer needs rows that agree; a header alone (or ragged rows) still shows which
        # separator it uses most.
        header = lines[0] if lines else ""
        counts = {candidate: header.count(candidate) for candidate in _DELIMITERS}
        best = max(counts, key=lambda candidate: counts[candidate])
        return best if counts[best] else ","
