"""Shift calendar arithmetic: which planned-production segment a plant instant falls in."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from zoneinfo import ZoneInfo

from sim.plant import WEEKDAYS, Calendar

__all__ = ["Segment", "ShiftCalendar"]


class Segment(Enum):
    """What the calendar says about an instant."""

    PLANNED = "planned"
    BREAK = "break"
    OUTSIDE = "outside"


class ShiftCalendar:
    """Answers "what segment is plant time ``ts`` in, and until when" for one calendar."""

    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar
        self._zone = ZoneInfo(calendar.timezone)
        self._day_intervals = lru_cache(maxsize=64)(self._intervals_of_day)

    def segment_at(self, ts: float) -> tuple[Segment, float]:
        """Return the segment at ``ts`` (epoch seconds) and the epoch second it ends."""
        local_day = datetime.fromtimestamp(ts, self._zone).date()
        intervals: list[tuple[float, float, Segment]] = []
        for offset in (-1, 0, 1, 2):
            intervals.extend(self._day_intervals(local_day + timedelta(days=offset)))
        inside = [(start, end, kind) for start, end, kind in intervals if start <= ts < end]
        if inside:
            # A break lies inside its shift, so it wins; overlapping shifts merge by latest end.
            breaks = [iv for iv in inside if iv[2] is Segment.BREAK]
            if breaks:
                return Segment.BREAK, min(end for _, end, _ in breaks)
            return Segment.PLANNED, self._planned_until(ts, intervals)
        upcoming = [start for start, _, _ in intervals if start > ts]
        day_after = datetime.combine(local_day + timedelta(days=3), datetime.min.time(), self._zone)
        return Segment.OUTSIDE, min(upcoming, default=day_after.timestamp())

    def _planned_until(self, ts: float, intervals: list[tuple[float, float, Segment]]) -> float:
        breaks_ahead = [s for s, _, k in intervals if k is Segment.BREAK and s > ts]
        shift_end = max(e for s, e, k in intervals if k is Segment.PLANNED and s <= ts < e)
        return min([shift_end, *[b for b in breaks_ahead if b < shift_end]])

    def _intervals_of_day(self, day: date) -> list[tuple[float, float, Segment]]:
        if day in self._calendar.holidays:
            return []
        weekday = WEEKDAYS[day.weekday()]
        intervals = []
        for shift in self._calendar.shifts:
            if weekday not in shift.days:
                continue
            start = self._at(day, shift.start)
            end = self._at(day, shift.end)
            if end <= start:  # crosses midnight
                end = self._at(day + timedelta(days=1), shift.end)
            intervals.append((start, end, Segment.PLANNED))
            for pause in shift.breaks:
                b_start = self._at(day, pause.start)
                if b_start < start:
                    b_start = self._at(day + timedelta(days=1), pause.start)
                b_end = b_start + _seconds_between(pause.start, pause.end)
                intervals.append((max(b_start, start), min(b_end, end), Segment.BREAK))
        return intervals

    def _at(self, day: date, clock: time) -> float:
        return datetime.combine(day, clock, self._zone).timestamp()


def _seconds_between(start: time, end: time) -> float:
    day = date(2000, 1, 1)
    a = datetime.combine(day, start)
    b = datetime.combine(day, end)
    delta = (b - a).total_seconds()
    return delta if delta > 0 else delta + 86400.0
