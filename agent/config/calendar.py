"""The planned-production calendar of a device, and the planned time it gives a period.

A calendar is a set of weekly shifts in a local time zone, each with its breaks, minus holidays,
plus make-up working days (调休: a Saturday worked as a Monday). A shift whose end is not after
its start runs through midnight into the next day; ``start == end`` is a 24-hour shift. A
holiday cancels the shifts that *start* on it. ISO 22400-2 (5.5.4, planned busy time): planned
time is the shift time minus planned breaks, which is what :func:`planned_seconds` returns.
"""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo
from functools import cache
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from contract.configfile.types import (
    ConfigModel,
    Identifier,
    IssueList,
    TimeOfDay,
    describe_value,
    problem,
)

__all__ = [
    "WEEKDAYS",
    "BreakConfig",
    "CalendarConfig",
    "ShiftConfig",
    "Weekday",
    "planned_intervals",
    "planned_seconds",
]

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
#: Weekday names in ``datetime.date.weekday()`` order.
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_S = 86400
_WEEK_S = 7 * _DAY_S


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(value: str) -> str:
    """``value`` if it is an IANA zone this machine knows; a config problem (with a close name)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(value, sorted(_zone_names()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise problem(
            f"got {describe_value(value)}, expected an IANA time zone name such as "
            f"'Asia/Shanghai'{hint}"
        ) from None
    return value


def _seconds(time: dt.time) -> int:
    return time.hour * 3600 + time.minute * 60 + time.second


def _span(start: dt.time, end: dt.time) -> tuple[int, int]:
    """Seconds from the start day's midnight; an end not after the start is on the next day."""
    begin, finish = _seconds(start), _seconds(end)
    if finish <= begin:
        finish += _DAY_S
    return begin, finish


class BreakConfig(ConfigModel):
    """A planned break inside a shift (local times; it may run through midnight)."""

    start: TimeOfDay
    end: TimeOfDay


class ShiftConfig(ConfigModel):
    """A weekly shift: the days it starts on, its local start and end, and its breaks."""

    name: Identifier
    days: Annotated[tuple[Weekday, ...], Field(min_length=1)]
    start: TimeOfDay
    end: TimeOfDay
    breaks: tuple[BreakConfig, ...] = ()

    def span_s(self) -> tuple[int, int]:
        """Start and end of the shift in seconds from the start day's local midnight."""
        return _span(self.start, self.end)

    def break_spans_s(self) -> list[tuple[int, int]]:
        """Each break as seconds from the shift's start day's midnight."""
        begin, _ = self.span_s()
        spans = []
        for brk in self.breaks:
            low, high = _span(brk.start, brk.end)
            if low < begin:  # a break after midnight in an overnight shift
                low, high = low + _DAY_S, high + _DAY_S
            spans.append((low, high))
        return spans

    @model_validator(mode="after")
    def _check_breaks(self) -> ShiftConfig:
        issues = IssueList("ShiftConfig")
        seen_days: set[str] = set()
        for day in self.days:
            if day in seen_days:
                issues.add(("days",), day, f"got {day!r} twice, expected each weekday once")
            seen_days.add(day)
        begin, end = self.span_s()
        spans = self.break_spans_s()
        previous_end: int | None = None
        for index in sorted(range(len(spans)), key=spans.__getitem__):
            low, high = spans[index]
            brk = self.breaks[index]
            given = f"{brk.start:%H:%M}-{brk.end:%H:%M}"
            if low < begin or high > end:
                issues.add(
                    ("breaks", index),
                    given,
                    f"got {given}, expected a break inside the shift "
                    f"{self.start:%H:%M}-{self.end:%H:%M}",
                )
            elif previous_end is not None and low < previous_end:
                issues.add(
                    ("breaks", index),
                    given,
                    f"got {given}, which overlaps another break; expected breaks that do not "
                    "overlap",
                )
            previous_end = high if previous_end is None else max(previous_end, high)
        issues.raise_if_any()
        return self


class CalendarConfig(ConfigModel):
    """Planned production time: weekly shifts in a time zone, holidays, make-up working days."""

    timezone: Annotated[str, AfterValidator(time_zone)]
    shifts: Annotated[tuple[ShiftConfig, ...], Field(min_length=1)]
    holidays: tuple[dt.date, ...] = ()
    makeup_days: dict[dt.date, Weekday] = Field(default_factory=dict)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The calendar's time zone."""
        return zoneinfo.ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _check_shifts(self) -> CalendarConfig:
        issues = IssueList("CalendarConfig")
        names: dict[str, int] = {}
        for index, shift in enumerate(self.shifts):
            if shift.name in names:
                issues.add(
                    ("shifts", index, "name"),
                    shift.name,
                    f"got {shift.name!r} again (shifts[{names[shift.name]}]), expected unique "
                    "shift names",
                )
            names.setdefault(shift.name, index)
        for index, other in _overlapping_shifts(self.shifts):
            issues.add(
                ("shifts", index),
                self.shifts[index].name,
                f"shift {self.shifts[index].name!r} overlaps shift "
                f"{self.shifts[other].name!r} in the week; expected shifts that do not overlap",
            )
        for day in self.holidays:
            if day in self.makeup_days:
                issues.add(
                    ("makeup_days", day.isoformat()),
                    day,
                    f"got {day.isoformat()}, which is also a holiday; expected a date that is "
                    "either a holiday or a make-up working day",
                )
        issues.raise_if_any()
        return self


def _weekly_spans(shift: ShiftConfig) -> list[tuple[int, int]]:
    begin, end = shift.span_s()
    spans = []
    for day in shift.days:
        offset = WEEKDAYS.index(day) * _DAY_S
        low, high = offset + begin, offset + end
        # A Sunday night shift wraps into Monday morning of the same weekly pattern.
        spans.extend(
            [(low, min(high, _WEEK_S))] + ([(0, high - _WEEK_S)] if high > _WEEK_S else [])
        )
    return spans


def _overlapping_shifts(shifts: tuple[ShiftConfig, ...]) -> list[tuple[int, int]]:
    """Pairs (later index, earlier index) of shifts whose weekly times overlap."""
    found = []
    for index, shift in enumerate(shifts):
        for other in range(index):
            if any(
                low < other_high and other_low < high
                for low, high in _weekly_spans(shift)
                for other_low, other_high in _weekly_spans(shifts[other])
            ):
                found.append((index, other))
                break
    return found


def _local(day: dt.date, offset_s: int, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=offset_s)
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


def _shift_intervals(
    calendar: CalendarConfig, day: dt.date
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Planned intervals (UTC) of the shifts that start on local date ``day``."""
    if day in calendar.holidays:
        return []
    weekday = calendar.makeup_days.get(day, WEEKDAYS[day.weekday()])
    intervals = []
    zone = calendar.zone
    for shift in calendar.shifts:
        if weekday not in shift.days:
            continue
        cursor, end = shift.span_s()
        for low, high in sorted(shift.break_spans_s()):
            if low > cursor:
                intervals.append((_local(day, cursor, zone), _local(day, low, zone)))
            cursor = max(cursor, high)
        if end > cursor:
            intervals.append((_local(day, cursor, zone), _local(day, end, zone)))
    return intervals


def planned_intervals(
    calendar: CalendarConfig | None, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Planned production intervals within ``[start, end)`` as aware UTC datetimes, in order.

    Without a calendar every second is planned. Raises ValueError for naive datetimes.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("planned_intervals needs timezone-aware datetimes")
    if end <= start:
        return []
    if calendar is None:
        return [(start.astimezone(dt.UTC), end.astimezone(dt.UTC))]
    zone = calendar.zone
    # Shifts may start the day before (overnight) and local dates may differ from UTC dates.
    first = start.astimezone(zone).date() - dt.timedelta(days=1)
    last = end.astimezone(zone).date()
    clipped = []
    day = first
    while day <= last:
        for low, high in _shift_intervals(calendar, day):
            low, high = max(low, start), min(high, end)
            if low < high:
                clipped.append((low.astimezone(dt.UTC), high.astimezone(dt.UTC)))
        day += dt.timedelta(days=1)
    return _merge(sorted(clipped))


def _merge(
    intervals: list[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for low, high in intervals:
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def planned_seconds(calendar: CalendarConfig | None, start: dt.datetime, end: dt.datetime) -> float:
    """Planned production time within ``[start, end)`` in seconds (ISO 22400-2 planned busy time).

    Raises ValueError for naive datetimes.
    """
    return sum(
        (high - low).total_seconds() for low, high in planned_intervals(calendar, start, end)
    )
