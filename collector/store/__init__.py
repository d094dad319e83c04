"""The collector's InfluxDB store: windows in as line protocol, sums out as InfluxQL.

Over InfluxDB's v1 HTTP API (``/write``, ``/query``), which 1.x serves natively and 2.x / 3.x
through their v1-compatibility endpoints. ``docs/storage.md`` describes the schema, rollups,
retention and authentication.
"""

from collector.store.auth import InfluxAuth, Token, UserPassword
from collector.store.client import InfluxStore, Refreshed, Row
from collector.store.errors import (
    AuthFailed,
    NotFound,
    OutOfRange,
    QueryFailed,
    StoreError,
    StoreUnavailable,
    WriteRejected,
)
from collector.store.records import WindowRecord, window_line, window_records
from collector.store.retention import DEFAULT_RAW_RETENTION_DAYS
from collector.store.rollup import (
    DailyRow,
    DayKey,
    affected_days,
    day_bounds,
    day_marks,
    day_of,
)
from collector.store.schema import KPI_DAILY, KPI_WINDOW

__all__ = [
    "DEFAULT_RAW_RETENTION_DAYS",
    "KPI_DAILY",
    "KPI_WINDOW",
    "AuthFailed",
    "DailyRow",
    "DayKey",
    "InfluxAuth",
    "InfluxStore",
    "NotFound",
    "OutOfRange",
    "QueryFailed",
    "Refreshed",
    "Row",
    "StoreError",
    "StoreUnavailable",
    "Token",
    "UserPassword",
    "WindowRecord",
    "WriteRejected",
    "affected_days",
    "day_bounds",
    "day_marks",
    "day_of",
    "window_line",
    "window_records",
]
