"""A workbook file checked as hostile input before openpyxl opens it.

An ``.xlsx`` file is a zip archive of XML parts. openpyxl trusts the archive: it inflates each
part it reads whole, so a few kilobytes that inflate to gigabytes (a zip bomb) would fill the
memory. This module reads the file within a size limit, refuses what is not a zip archive
(naming the legacy ``.xls`` and encrypted workbooks, which are OLE files, and text files), and
adds up the sizes the archive's directory declares, per part and in all, before anything is
inflated. zipfile itself stops a part that inflates past its declared size ("Bad CRC" or
"truncated"), so the declared sizes bound what openpyxl can inflate. The XML parsing itself
is guarded by defusedxml, which openpyxl uses when it is installed (openpyxl's docs, "Security").
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from contract.files import read_bounded

__all__ = [
    "MAX_PARTS",
    "MAX_PART_BYTES",
    "MAX_UNCOMPRESSED_BYTES",
    "MAX_WORKBOOK_BYTES",
    "WorkbookRefused",
    "read_workbook_bytes",
]

#: Largest workbook file read, in bytes. A plan of a province's batch (5 sub-industries, 15
#: platforms, a few hundred enterprises) is well under 1 MB; 10 MB leaves room for styling.
MAX_WORKBOOK_BYTES = 10 * 1024 * 1024
#: Largest total the archive may inflate to, and any one part of it, in bytes.
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_PART_BYTES = 30 * 1024 * 1024
#: Most parts (files) in the archive: a workbook of 8 sheets has about 20.
MAX_PARTS = 500

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_REQUIRED_PARTS = ("[Content_Types].xml", "xl/workbook.xml")


class WorkbookRefused(Exception):
    """The file is not a workbook this reader will open; the message says why."""


def read_workbook_bytes(path: Path) -> bytes:
    """The workbook file's bytes, checked as an archive openpyxl may open.

    Raises contract.errors.InputFileError if the file cannot be read (missing, not a regular
    file, larger than :data:`MAX_WORKBOOK_BYTES`), WorkbookRefused if it is not a zip
    archive of a workbook or would inflate past the limits.
    """
    content = read_bounded(path, MAX_WORKBOOK_BYTES, expected="an .xlsx workbook")
    check_archive(content)
    return content


def check_archive(content: bytes) -> None:
    """Refuse what is not a workbook's zip archive within the limits (WorkbookRefused)."""
    if content.startswith(_OLE_MAGIC):
        raise WorkbookRefused(
            "an OLE file: an Excel 97-2003 .xls workbook or a password-protected one; save "
            "it as an unprotected Excel workbook (.xlsx) and try again"
        )
    if not content.startswith(b"PK\x03\x04"):
        raise WorkbookRefused(
            f"not a workbook: an .xlsx file is a zip archive, this file starts with "
            f"{content[:8]!r}; save the plan as an Excel workbook (.xlsx)"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise WorkbookRefused(
            f"not a readable zip archive ({exc}); save it again as .xlsx"
        ) from None
    _check_parts(parts)


def _check_parts(parts: list[zipfile.ZipInfo]) -> None:
    if len(parts) > MAX_PARTS:
        raise WorkbookRefused(
            f"{len(parts)} parts in the archive, more than the limit of {MAX_PARTS}"
        )
    names = {part.filename for part in parts}
    missing = [name for name in _REQUIRED_PARTS if name not in names]
    if missing:
        raise WorkbookRefused(
            f"a zip archive but not an Excel workbook (no {', '.join(missing)}); save the plan "
            "as an Excel workbook (.xlsx)"
        )
    total = 0
    for part in parts:
        if part.flag_bits & 0x1:
            raise WorkbookRefused(
                f"part {part.filename} is encrypted; save the workbook unprotected"
            )
        if part.file_size > MAX_PART_BYTES:
            raise WorkbookRefused(
                f"part {part.filename} inflates to {part.file_size:,} bytes, more than the limit "
                f"of {MAX_PART_BYTES:,} (a zip bomb, or a workbook far larger than a plan)"
            )
        total += part.file_size
    if total > MAX_UNCOMPRESSED_BYTES:
        raise WorkbookRefused(
            f"the archive inflates to {total:,} bytes, more than the limit of "
            f"{MAX_UNCOMPRESSED_BYTES:,} (a zip bomb, or a workbook far larger than a plan)"
        )
