"""Path and query parameters, the state dependency and helpers shared by the routes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Path, Query
from pydantic import AfterValidator

from collector.bundle import BUNDLE_ID_PATTERN, FILE_NAME_PATTERN
from collector.plan import KPI_NAMES
from collector.web.problems import Problem
from collector.web.state import WebState, web_state

__all__ = [
    "EARLIEST_DAY",
    "LATEST_DAY",
    "AgentPath",
    "BundleFilePath",
    "BundlePath",
    "Day",
    "EnterprisePath",
    "Limit",
    "Moment",
    "Offset",
    "PlatformPath",
    "ProvincePath",
    "State",
    "check_kpi",
    "check_range",
    "page_of",
]

#: The app's state, as a handler parameter.
State = Annotated[WebState, Depends(web_state)]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

#: At most 200 items a page: a page is what a person reads or a script pages through.
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page (1-200).")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Items to skip.")]
PlatformPath = Annotated[str, Path(pattern=_ID, description="Platform id.", examples=["plat-a"])]
AgentPath = Annotated[str, Path(pattern=_ID, description="Agent id.")]
ProvincePath = Annotated[str, Path(pattern=r"^[1-9][0-9]{5}$", description="GB/T 2260 code.")]
EnterprisePath = Annotated[
    str, Path(pattern=_ID, description="Enterprise id.", examples=["plat-a-e01"])
]
BundlePath = Annotated[
    str, Path(pattern=BUNDLE_ID_PATTERN, description="Bundle id: SHA-256 of its manifest.json.")
]
BundleFilePath = Annotated[
    str, Path(pattern=FILE_NAME_PATTERN, description="A bundle file's name.")
]


#: The first and last day a query may name. Plans are for batch years 2020-2100; the margin
#: keeps every local-day and UTC-offset conversion inside Python's and InfluxDB's ranges
#: (years 1-9999; 1677-09-21 to 2262-04-11), which 0001-01-01 or 9999-12-31 would leave.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2199, 12, 31)


def _day_in_range(day: dt.date) -> dt.date:
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"got {day}, expected a day from {EARLIEST_DAY} to {LATEST_DAY}")
    return day


def _moment_in_range(moment: dt.datetime) -> dt.datetime:
    # A naive time is UTC (as the API has always read it).
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    try:
        utc = aware.astimezone(dt.UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_DAY <= utc.date() <= LATEST_DAY:
        raise ValueError(
            f"got {moment.isoformat()}, expected a time from {EARLIEST_DAY} to {LATEST_DAY} (UTC)"
        )
    return utc


#: A day in a query (``YYYY-MM-DD``), from :data:`EARLIEST_DAY` to :data:`LATEST_DAY`.
Day = Annotated[dt.date, AfterValidator(_day_in_range)]
#: A time in a query (ISO 8601; naive is UTC), in the same range, returned in UTC.
Moment = Annotated[dt.datetime, AfterValidator(_moment_in_range)]


def check_kpi(kpi: str) -> str:
    """The KPI name if known; else Problem 404."""
    if kpi not in KPI_NAMES:
        raise Problem(404, f"no KPI {kpi[:40]!r}; expected one of {', '.join(KPI_NAMES)}")
    return kpi


def check_range(start: dt.date, end: dt.date, *, max_days: int) -> None:
    """Problem 422 unless start <= end and the range is at most ``max_days`` days."""
    if end < start:
        raise Problem(422, f"to ({end}) is before from ({start})")
    if (end - start).days + 1 > max_days:
        raise Problem(422, f"at most {max_days} days per request; got {(end - start).days + 1}")


def page_of(items: list[object], limit: int, offset: int) -> dict[str, object]:
    """A page of an in-memory list (lists built from the plans: hundreds, not millions)."""
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }
