"""Reading one cell: times, counts and amounts as exports write them. Pure.

Each reader returns the value or raises :class:`CellError` whose message completes
"row 17, column 产量: ..." (what was given, what was expected).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, tzinfo

__all__ = ["CellError", "TimeReader", "read_count", "read_number"]

#: Date-time spellings tried when no --time-format is given, after ISO 8601. Excel in a
#: Chinese locale writes 2026/1/5 8:00; strptime accepts the missing zero padding.
COMMON_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S.%f",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H时%M分%S秒",
    "%Y%m%d%H%M%S",
)
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_MAX_SHOWN = 40


class CellError(ValueError):
    """A cell that cannot be read as what its column holds."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...")


def _number_text(text: str) -> str:
    text = text.strip()
    # 1,234 as Excel formats a count; only the thousands pattern, so 1,5 (a decimal comma) is
    # refused rather than read as 15.
    return text.replace(",", "") if _THOUSANDS_RE.fullmatch(text) else text


def read_number(text: str, *, unit: str = "") -> float:
    """A finite number ≥ 0 (amounts, meter readings, minutes)."""
    suffix = f" in {unit}" if unit else ""
    try:
        value = float(_number_text(text))
    except ValueError:
        raise CellError(f"got {_shown(text)}, expected a number{suffix}") from None
    if not math.isfinite(value) or value < 0:
        raise CellError(f"got {_shown(text)}, expected a number ≥ 0{suffix}")
    return value


def read_count(text: str, *, limit: int | None = None) -> int:
    """A whole number ≥ 0 (``12.0`` is accepted, as spreadsheets write it), below ``limit``."""
    cleaned = _number_text(text)
    try:
        value = int(cleaned)
    except ValueError:
        try:
            as_float = float(cleaned)
        except ValueError:
            raise CellError(f"got {_shown(text)}, expected an integer") from None
        if not as_float.is_integer():
            raise CellError(f"got {_shown(text)}, expected an integer") from None
        value = int(as_float)
    if value < 0:
        raise CellError(f"got {_shown(text)}, expected an integer ≥ 0")
    if limit is not None and value >= limit:
        raise CellError(f"got {_shown(text)}, expected 0..{limit - 1}")
    return value


class TimeReader:
    """Reads date-time cells in one format and zone; remembers the format that matched last.

    ``time_format`` is a ``strptime`` format, ``epoch_s`` / ``epoch_ms`` (Unix time), or None for
    ISO 8601 and the :data:`COMMON_TIME_FORMATS`. Times without an offset are local to ``zone``.
    """

    def __init__(self, time_format: str | None, zone: tzinfo | None) -> None:
        self.time_format = time_format
        self.zone = zone
        self._last_format: str | None = None

    def read(self, text: str) -> float:
        """Seconds since the epoch, to the millisecond."""
        text = text.strip()
        if self.time_format in ("epoch_s", "epoch_ms"):
            return self._epoch(text)
        moment = self._parse(text)
        if moment.tzinfo is None:
            if self.zone is None:
                raise CellError(
                    f"got {_shown(text)} without a UTC offset and no time zone is known; "
                    "give --tz (e.g. Asia/Shanghai)"
                )
            moment = moment.replace(tzinfo=self.zone)
        return round(moment.timestamp() * 1000) / 1000

    def _epoch(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise CellError(
                f"got {_shown(text)}, expected Unix time ({self.time_format})"
            ) from None
        seconds = value / 1000 if self.time_format == "epoch_ms" else value
        if not math.isfinite(seconds) or not 0 <= seconds < 32_503_680_000:  # year 3000
            raise CellError(f"got {_shown(text)}, expected Unix time ({self.time_format})")
        return round(seconds * 1000) / 1000

    def _parse(self, text: str) -> datetime:
        if self.time_format is not None:
            try:
                return datetime.strptime(text, self.time_format)
            except ValueError:
                raise CellError(
                    f"got {_shown(text)}, expected a time like {self.example()} "
                    f"({self.time_format})"
                ) from None
        formats = [self._last_format] if self._last_format else []
        formats += [f for f in COMMON_TIME_FORMATS if f != self._last_format]
        for candidate in formats:
            try:
                moment = datetime.strptime(text, candidate)
            except ValueError:
                continue
            self._last_format = candidate
            return moment
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise CellError(
                f"got {_shown(text)}, expected a date and time such as 2026-01-05 08:00:00 "
                "(or give --time-format)"
            ) from None

    def example(self) -> str:
        """The format applied to 2026-01-05 08:30:00, for messages."""
        return datetime(2026, 1, 5, 8, 30).strftime(self.time_format or "%Y-%m-%d %H:%M:%S")
