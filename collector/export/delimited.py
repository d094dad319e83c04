"""A table as CSV: UTF-8 with a byte-order mark, one header row, figures as in the JSON.

The byte-order mark makes Excel and WPS read the file as UTF-8 (Chinese names stay legible);
Python's ``csv`` and ``utf-8-sig`` read it back. The header is ``<Chinese label> <key>``.
Numbers are written as the JSON has them (``repr`` of a float reads back as the same float),
money as yuan with two decimals computed from the integer fen (exact), shares as fractions,
dates ISO, booleans ``true``/``false``. Every text field is neutralised
(:func:`~collector.export.injection.neutralise`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from collector.export.injection import neutralise
from collector.export.table import Table, Value

__all__ = ["csv_bytes", "yuan_text"]


def yuan_text(fen: int) -> str:
    """An amount in fen as yuan with two decimals, exactly: 85000050 -> ``850000.50``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def _field(kind: str, value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if kind == "fen" and isinstance(value, int):
        return yuan_text(value)
    return repr(value) if isinstance(value, float) else str(value)


def csv_bytes(table: Table) -> bytes:
    """The table as CSV bytes (UTF-8 with BOM, CRLF line ends as RFC 4180 says)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"{c.label_zh} {c.key}" for c in table.columns])
    for row in table.rows:
        writer.writerow(_field(c.kind, v) for c, v in zip(table.columns, row, strict=True))
    return ("\ufeff" + out.getvalue()).encode("utf-8")
