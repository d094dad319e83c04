"""Reading a CSV export as hostile input: size, encoding, delimiter, columns, rows.

Exports from Chinese historians and MES come as UTF-8 (often with a BOM, as Excel writes it),
GB18030 (GBK, the "ANSI" code page of a Chinese Windows) or UTF-16 (Excel's "Unicode text").
``auto`` tries a BOM first, then UTF-8, then GB18030: GBK text is almost never valid UTF-8, so
the order cannot mistake one for the other. Rows are numbered as a spreadsheet shows them:
the first line of the file is row 1.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from agent.importing.errors import ImportFileError
from contract.errors import InputFileError
from contract.files import open_regular

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
#: Bytes decoded at a time when the encoding is checked.
_CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Table:
    """A CSV file checked and ready to stream: how it is read, and its header.

    Nothing of the file is held: :meth:`rows` reads it again each time, one row at a time, so
    memory does not grow with the file (a 66 MB export of 1,000 columns once took 1.95 GB).
    """

    source: str
    path: Path
    encoding: str
    #: The codec the rows are read with (the BOM handled), e.g. ``utf-8-sig`` for ``utf-8 (BOM)``.
    codec: str
    delimiter: str
    header_row: int
    header: tuple[str, ...]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(spreadsheet row number, cells) for every non-blank row after the header.

        Raises ImportFileError while iterating: too many columns or rows, broken CSV, or a file
        that changed since it was checked.
        """
        data_rows = 0
        with _text_rows(self) as reader:
            for number, cells in reader:
                if number <= self.header_row:
                    continue
                if not any(cell.strip() for cell in cells):
                    continue  # blank line: Excel writes them, they hold nothing
                if data_rows >= MAX_ROWS:
                    raise ImportFileError(
                        f"{self.source}: more than {MAX_ROWS:,} data rows; split the export (by "
                        "month, say) and import the parts one after another"
                    )
                data_rows += 1
                yield number, cells


def read_table(
    path: Path, *, encoding: str = "auto", delimiter: str | None = None, header_row: int = 1
) -> Table:
    """Check ``path`` as a CSV table whose header is on row ``header_row``, and read the header.

    The whole file is decoded once, a piece at a time, to choose and check its encoding; the
    rows are read later, by :meth:`Table.rows`. Raises ImportFileError naming the file and what
    is wrong: missing, not a regular file, too large, binary, not in the encoding, no header,
    too many columns in the header rows, broken CSV there.
    """
    source = str(path)
    used, codec, sample = _check_text(path, encoding, source)
    delimiter = delimiter or _sniff_delimiter(sample, header_row)
    table = Table(source, path, used, codec, delimiter, header_row, ())
    header: tuple[str, ...] = ()
    with _text_rows(table) as reader:
        for number, cells in reader:
            if number == header_row:
                header = tuple(cell.strip().lstrip("\ufeff") for cell in cells)
                break
    if not any(header):
        raise ImportFileError(
            f"{source}: no header on row {header_row}, expected column names there "
            "(use --header-row if the export has title lines above them)"
        )
    return dataclasses.replace(table, header=header)


@contextlib.contextmanager
def _text_rows(table: Table) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """The file's CSV records, numbered from 1, streamed; each checked against MAX_COLUMNS."""
    source = table.source
    try:
        stream = open_regular(table.path, MAX_IMPORT_BYTES, expected="a CSV file")
    except InputFileError as exc:
        raise ImportFileError(_file_problem(exc)) from None
    bounded = _Bounded(stream, source)
    text = io.TextIOWrapper(io.BufferedReader(bounded), encoding=table.codec, newline="")
    reader = csv.reader(text, delimiter=table.delimiter, strict=False)

    def records() -> Iterator[tuple[int, list[str]]]:
        number = 0
        try:
            for number, cells in enumerate(reader, start=1):
                if len(cells) > MAX_COLUMNS:
                    raise ImportFileError(
                        f"{source}: row {number} has {len(cells)} columns, more than the limit "
                        f"of {MAX_COLUMNS}; expected a device's export of tens of columns"
                    )
                yield number, cells
        except csv.Error as exc:
            raise ImportFileError(
                f"{source}: row {reader.line_num}: not valid CSV: {exc}"
            ) from None
        except UnicodeDecodeError:
            raise ImportFileError(
                f"{source}: changed while it was read (row {number + 1} is no longer "
                f"{table.encoding} text); import it again"
            ) from None

    try:
        yield records()
    finally:
        text.close()


class _Bounded(io.RawIOBase):
    """A file read through, refused once it has given more than MAX_IMPORT_BYTES (it grew)."""

    def __init__(self, stream: BinaryIO, source: str) -> None:
        self._stream = stream
        self._source = source
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._stream.readinto(buffer)  # type: ignore[attr-defined]  # a BufferedReader
        self._total += count
        if self._total > MAX_IMPORT_BYTES:
            raise ImportFileError(f"{self._source}: more than {MAX_IMPORT_BYTES:,} bytes")
        return int(count)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _file_problem(exc: InputFileError) -> str:
    """The refusal of contract.files, with what to do about a file too large."""
    if exc.reason == "too_large":
        return f"{exc}; split the export (by month, say) and import the parts one after another"
    return str(exc)


def _check_text(path: Path, encoding: str, source: str) -> tuple[str, str, str]:
    """The encoding's name as shown, the codec to read with, and the text's first characters.

    Decodes the whole file a piece at a time (nothing kept but the first characters, for the
    delimiter sniffer). Raises ImportFileError: unreadable, empty, binary, not in the encoding.
    """
    try:
        stream = open_regular(path, MAX_IMPORT_BYTES, expected="a CSV file")
    except InputFileError as exc:
        raise ImportFileError(_file_problem(exc)) from None
    with stream:
        head = stream.read(len(codecs.BOM_UTF8))
        used, codec = _choose_codec(head, encoding)
        attempt = _decode_all(stream, head, codec, source)
        if attempt.error is not None and encoding == "auto" and used == "utf-8":
            stream.seek(0)
            fallback = _decode_all(stream, b"", "gb18030", source)
            if fallback.error is None:
                used, codec, attempt = "gb18030", "gb18030", fallback
    if attempt.error is not None:
        raise ImportFileError(_not_text(source, encoding, used, attempt.error))
    if not attempt.seen_text:
        raise ImportFileError(f"{source}: empty file, expected a CSV export with a header row")
    if attempt.seen_nul:
        raise ImportFileError(f"{source}: binary content (NUL characters), expected CSV text")
    return used, codec, attempt.sample


def _choose_codec(head: bytes, encoding: str) -> tuple[str, str]:
    """(name shown, codec) from the first bytes: a BOM decides, else UTF-8 is tried first."""
    if encoding != "auto":
        return encoding, encoding
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8 (BOM)", "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "utf-16"
    return "utf-8", "utf-8"


@dataclass
class _Decoded:
    """What one pass of decoding found."""

    sample: str = ""
    seen_text: bool = False
    seen_nul: bool = False
    #: (offset of the bad byte in the file, its value), if the file is not in the codec.
    error: tuple[int, int] | None = None


def _decode_all(stream: BinaryIO, head: bytes, codec: str, source: str) -> _Decoded:
    decoder = codecs.getincrementaldecoder(codec)()
    found = _Decoded()
    fed = 0  # bytes given to the decoder so far
    chunk = head or stream.read(_CHUNK_BYTES)
    while True:
        last = not chunk
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk, final=last)
        except UnicodeDecodeError as exc:
            found.error = (fed - pending + exc.start, exc.object[exc.start])
            return found
        fed += len(chunk)
        if len(found.sample) < _SNIFF_CHARS * 2:
            found.sample += text[: _SNIFF_CHARS * 2 - len(found.sample)]
        found.seen_text = found.seen_text or bool(text.strip())
        found.seen_nul = found.seen_nul or "\x00" in text
        if last:
            return found
        chunk = stream.read(_CHUNK_BYTES)
        if fed + len(chunk) > MAX_IMPORT_BYTES:  # grew after the check
            raise ImportFileError(f"{source}: more than {MAX_IMPORT_BYTES:,} bytes")


def _not_text(source: str, encoding: str, used: str, error: tuple[int, int]) -> str:
    offset, byte = error
    where = f"byte {byte:#04x} at offset {offset}"
    if encoding != "auto":
        return (
            f"{source}: not valid {encoding} text ({where}); try --encoding auto, which "
            "recognises UTF-8, GB18030 and UTF-16"
        )
    if used == "utf-8":  # GB18030 was tried too
        return (
            f"{source}: neither UTF-8 nor GB18030 text ({where}); if it is text, give its "
            "encoding with --encoding"
        )
    return f"{source}: not valid {used} text ({where}) although it starts with a {used} BOM"


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


def _sniff_delimiter(text: str, header_row: int) -> str:
    # Title lines above the header (a report's name, a blank line) would mislead the sniffer.
    lines = text.splitlines()[header_row - 1 :]
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
