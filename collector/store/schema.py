"""What the store keeps in InfluxDB: measurements, tags and every field with its one type.

A field's type never changes: InfluxDB 1.x refuses a whole new batch, or drops the points of
a batch, whose field type conflicts with what a shard already holds (FIELD-NOTES). So the
encoder writes each field by the kind declared here, never by the Python type of the value
(``60`` read back from a float field is still written as a float). ``docs/storage.md`` is the
prose twin of this module.
"""

from __future__ import annotations

from enum import Enum

from contract.quantities import (
    BASE_QUANTITIES,
    QUALITY_QUANTITIES,
    REFERENCE,
    STORED_SUMS,
    Kind,
)

__all__ = [
    "DAILY_COUNT_FIELDS",
    "DAILY_FIELDS",
    "KPI_DAILY",
    "KPI_WINDOW",
    "OPTIONAL_QUANTITIES",
    "QUALITY_FIELDS",
    "SUMMABLE_FIELDS",
    "TAG_KEYS",
    "WINDOW_FIELDS",
    "FieldKind",
]


class FieldKind(Enum):
    """How a field value is written in line protocol."""

    FLOAT = "float"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING = "string"


#: Raw windows: one point per device and window, timestamp = window end.
KPI_WINDOW = "kpi_window"
#: Daily rollups: one point per series and local day, timestamp = local midnight (in UTC).
KPI_DAILY = "kpi_daily"

#: Tags of both measurements, in this order in every line (InfluxDB sorts them anyway).
TAG_KEYS: tuple[str, ...] = ("agent", "device", "enterprise", "platform", "provenance")

_F, _I, _B, _S = FieldKind.FLOAT, FieldKind.INTEGER, FieldKind.BOOLEAN, FieldKind.STRING

_KINDS: dict[Kind, FieldKind] = {"float": _F, "integer": _I}

#: The wire's optional base quantities: a device without the signal sends null, we omit them.
OPTIONAL_QUANTITIES: tuple[str, ...] = tuple(
    q.name for q in (*BASE_QUANTITIES, *REFERENCE) if q.optional
)

#: Data-quality fields, flattened from ``KpiWindow.quality`` under their own names.
QUALITY_FIELDS: dict[str, FieldKind] = {q.name: _KINDS[q.kind] for q in QUALITY_QUANTITIES}

#: Every field of a ``kpi_window`` point: the base quantities, the ideal cycle, the stored sums
#: (``ideal_count_s`` = ideal_cycle_s x (total_count - unobserved_count), the performance
#: numerator, so that it sums with SUM(); ``duration_s`` = end - start, summed the time the
#: day's windows cover), quality, then the window's bookkeeping. In this order in every line
#: (contract/quantities.py).
WINDOW_FIELDS: dict[str, FieldKind] = {
    **{q.name: _KINDS[q.kind] for q in (*BASE_QUANTITIES, *REFERENCE, *STORED_SUMS)},
    **QUALITY_FIELDS,
    "partial": _B,
    "config_digest": _S,
    "seq": _I,
    "window_start_ms": _I,
}

#: Fields whose SUM over a day means something (not ideal_cycle_s, seq or the start time).
SUMMABLE_FIELDS: dict[str, FieldKind] = {
    name: kind
    for name, kind in WINDOW_FIELDS.items()
    if kind in (_F, _I) and name not in (*(q.name for q in REFERENCE), "seq", "window_start_ms")
}

#: Counts kept per day besides the sums (all integers).
DAILY_COUNT_FIELDS: tuple[str, ...] = (
    "windows",  # windows in the day
    "partial_windows",  # of which cut short by an agent stop or start
    "config_digests",  # distinct agent configurations seen in the day
    *(f"{name}_windows" for name in OPTIONAL_QUANTITIES),  # windows where it was measured
)

#: Every field of a ``kpi_daily`` point.
DAILY_FIELDS: dict[str, FieldKind] = {
    **SUMMABLE_FIELDS,
    **dict.fromkeys(DAILY_COUNT_FIELDS, _I),
    "first_start_ms": _I,  # earliest window start of the day, ms since the epoch
    "last_end_ms": _I,  # latest window end of the day
    "ideal_cycle_s_min": _F,
    "ideal_cycle_s_max": _F,
    "config_digest_first": _S,  # config digest of the day's first window (by end time)
    "config_digest_last": _S,  # and of its last window
    "day": _S,  # the local date, YYYY-MM-DD
    "tz": _S,  # the IANA zone the day is local to
    "overflowed": _S,  # integer sums past int64, left out: comma-separated names
    # Unplanned downtime's terms under the state-code rule (collector/downtime.py), for the
    # dashboards: down_s and planned_s - inferred_planned_s on a day that counts, else 0.
    "downtime_down_s": _F,
    "downtime_planned_s": _F,
}
