"""One workbook cell's value as the plan model takes it, or why it cannot be one.

Spreadsheets invite mistakes that YAML does not: a date typed as text, an amount written
``850,000`` or ``85万元``, a code typed as a number. Each conversion here either gives the
value the model validates or raises :class:`CellProblem` with what was found and what to type
instead; the model's own checks (ranges, formats, lists) then apply as they do to YAML.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from collector.plan.workbook.layout import ColumnKind
from contract.configfile.types import describe_value

__all__ = ["CellProblem", "cell_value", "is_blank"]

_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,，]\d{3})+(\.\d+)?$")
_LIST_SPLIT = re.compile(r"[,，;；\s]+")


class CellProblem(ValueError):
    """A cell's content cannot be a value of its column; the message says what to enter."""


def is_blank(value: object) -> bool:
    """Whether a cell holds nothing (None, or only whitespace)."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell_value(kind: ColumnKind, value: object) -> object:
    """The cell's value for the model, by the column's kind. Raises CellProblem."""
    if kind == "date":
        return _date(value)
    if kind == "money":
        return _money(value)
    if kind in ("number", "int", "count"):
        return _number(value, whole=kind != "number")
    if kind == "bool":
        return _bool(value)
    if kind == "list":
        return _id_list(value)
    return _text(value)


def _text(value: object) -> str:
    if isinstance(value, bool):
        raise CellProblem(f"got {describe_value(value)} (a TRUE/FALSE cell), expected text")
    if isinstance(value, dt.date | dt.datetime | dt.time):
        raise CellProblem(f"got a date or time cell ({value}), expected text")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # A code typed into a number cell (330200): the digits are what was meant.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0, 0):
            raise CellProblem(
                f"got {value.isoformat(sep=' ')}, expected a date without a time of day"
            )
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        raise CellProblem(
            f"got text {describe_value(value.strip())}, expected a date cell: a date typed as "
            "text is not read (2026/3/4 is 4 March in one locale and 3 April in another); "
            "enter it as a date, e.g. 2026-03-04, or format the cell as a date"
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise CellProblem(
            f"got the number {value:g}, expected a date: format the cell as a date (yyyy-mm-dd)"
        )
    raise CellProblem(f"got {describe_value(value)}, expected a date cell")


def _money(value: object) -> Decimal | str:
    if isinstance(value, bool):
        raise CellProblem(f"got {describe_value(value)}, expected an amount in CNY")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 555000.5, never
        # 555000.49999999994. The model then refuses more than two decimals.
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise CellProblem(f"got {describe_value(value)}, expected an amount in CNY")
    text = value.strip()
    if "万" in text:
        raise CellProblem(
            f"got {describe_value(text)}, expected the amount in yuan (元) as a number: write "
            "85万元 as 850000; the plan's costs are in yuan, to the fen"
        )
    if _THOUSANDS.fullmatch(text):
        raise CellProblem(
            f"got {describe_value(text)}, expected a number without thousands separators "
            "(850000.00): enter it as a number; the cell's format shows the separators"
        )
    if text.endswith(("元", "CNY", "RMB")) or text.startswith(("¥", "￥")):
        raise CellProblem(f"got {describe_value(text)}, expected the number of yuan alone")
    return text


def _number(value: object, *, whole: bool) -> int | float | str:
    if isinstance(value, bool):
        raise CellProblem(f"got {describe_value(value)}, expected a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if whole and value.is_integer():
            return int(value)
        return value
    if isinstance(value, str):
        text = value.strip()
        if _THOUSANDS.fullmatch(text) or "%" in text:
            raise CellProblem(
                f"got {describe_value(text)}, expected a plain number (no separators, no %)"
            )
        return text
    raise CellProblem(f"got {describe_value(value)}, expected a number")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "是", "yes"):
            return True
        if text in ("false", "否", "no"):
            return False
    raise CellProblem(f"got {describe_value(value)}, expected TRUE or FALSE")


def _id_list(value: object) -> list[str]:
    text = _text(value)
    return [item for item in _LIST_SPLIT.split(text) if item]
