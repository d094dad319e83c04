"""The local day, one definition: which day a window belongs to, and where a day starts and ends.

The agent closes and seals days with it, the collector's rollups cut ``kpi_daily`` rows with it
and the bundle verifier checks seals against it, so all three cut days identically, daylight
saving days (23 or 25 hours) included.

Windows are timestamped at their END, so a day holds the windows whose end is in
``(local midnight, next local midnight]``: a window ending exactly at midnight is the last of
the day before, and an imported per-day row ``[00:00, 24:00)`` belongs to its own day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["day_bounds", "day_of", "zone"]


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError if this machine's tz database does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: expected an IANA name") from exc


def day_of(end: datetime, tz: ZoneInfo) -> date:
    """The local day a window ending at ``end`` belongs to: the day of ``end - 1 ms``."""
    return (end - timedelta(milliseconds=1)).astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """(local midnight starting ``day``, the next local midnight), as UTC datetimes."""
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end
