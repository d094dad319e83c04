"""Daily rollups: which days a write touched, the InfluxQL that sums them, the points it gives.

Pure functions; :class:`collector.store.client.InfluxStore` runs them. One ``kpi_daily`` point
per (platform, enterprise, agent, device, provenance, local day), its timestamp the local
midnight that starts the day (in UTC), its fields the SUM of every summable window field over
the day plus counts, first start, last end and the day's ideal-cycle range.

Windows are timestamped at their END, so a day holds the windows whose end is in
``(local midnight, next local midnight]``: a window ending exactly at midnight is the last of
the day before, and an imported per-day row ``[00:00, 24:00)`` belongs to its own day. The
queries say ``time > start AND time <= end`` for exactly that reason. That day rule
(:func:`day_of`, :func:`day_bounds`, :func:`zone`) lives in :mod:`contract.days`, shared with
the agent's day seals, and is re-exported here.

Recomputing a day reads only that day's raw windows and writes the same point again
(idempotent), so a late window refreshes its own day and no other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from collector.downtime import coded_planned_s, downtime_measured
from collector.store.influxql import quote_identifier, quote_literal, time_literal
from collector.store.lines import FieldValue, encode_line
from collector.store.records import WindowRecord, from_ms, to_ms, typed_value
from collector.store.schema import (
    DAILY_FIELDS,
    KPI_DAILY,
    OPTIONAL_QUANTITIES,
    SUMMABLE_FIELDS,
    TAG_KEYS,
    FieldKind,
)
from contract.days import day_bounds, day_of, zone

__all__ = [
    "DailyRow",
    "DayGroup",
    "DayKey",
    "affected_days",
    "daily_from_row",
    "daily_lines",
    "day_bounds",
    "day_groups",
    "day_marks",
    "day_of",
    "finished_fields",
    "partial_ideal_good",
    "rollup_statements",
    "series_key",
    "without_stale",
    "zone",
]

_FLOAT_SUFFIX = "__float"
# An int64 SUM wraps silently in InfluxDB (2**63-1 + 2**63-1 reads back as -2): each integer
# sum is also taken as a float, and a sum that disagrees with it is reported, not stored.
_OVERFLOW_TOLERANCE = 1e-9
_GROUP_BY = "GROUP BY " + ", ".join(quote_identifier(key) for key in TAG_KEYS)


@dataclass(frozen=True, slots=True, order=True)
class DayKey:
    """One device's local day in its enterprise's zone (``tz`` is an IANA name)."""

    enterprise: str
    device: str
    day: date
    tz: str


@dataclass(frozen=True, slots=True)
class DayGroup:
    """Devices of one enterprise whose same local day is recomputed by one set of statements."""

    enterprise: str
    day: date
    tz: str
    devices: tuple[str, ...]


def affected_days(records: Iterable[WindowRecord], zones: Mapping[str, str]) -> set[DayKey]:
    """Every (enterprise, device, local day) the records fall in.

    ``zones`` maps each enterprise to its IANA zone name; ValueError if one is missing or unknown.
    """
    return set(day_marks(records, zones))


def day_marks(records: Iterable[WindowRecord], zones: Mapping[str, str]) -> dict[DayKey, int]:
    """Every (enterprise, device, local day) the records fall in, with the earliest window end
    among them (ms since the epoch): the mark the rollup queue keeps until the day's refresh.

    A refresh reads only the windows after the stored row's last end when every window
    written since the row ends after it (:mod:`collector.store.rollup_merge`). ``zones`` as
    for :func:`affected_days`; ValueError if one is missing or unknown.
    """
    # Ingest calls this for every batch: the windows of an envelope share their end, so each
    # (zone, end) is converted once, and each (enterprise, device, day) becomes one key.
    days: dict[tuple[str, datetime | str], tuple[date, int]] = {}
    found: dict[tuple[str, str, date, str], int] = {}
    for record in records:
        name = zones.get(record.enterprise)
        if name is None:
            raise ValueError(f"no time zone given for enterprise {record.enterprise!r}")
        end = record.window.end  # wire text from the compiled codec, else a datetime
        day_end = days.get((name, end))
        if day_end is None:
            window_end = record.window_end
            day_end = days[(name, end)] = (day_of(window_end, zone(name)), to_ms(window_end))
        key = (record.enterprise, record.window.device, day_end[0], name)
        earliest = found.get(key)
        if earliest is None or day_end[1] < earliest:
            found[key] = day_end[1]
    return {DayKey(*key): end_ms for key, end_ms in found.items()}


def day_groups(keys: Iterable[DayKey]) -> list[DayGroup]:
    """Group day keys by (enterprise, day, zone) so one statement covers all their devices."""
    devices: dict[tuple[str, date, str], set[str]] = defaultdict(set)
    for key in keys:
        devices[(key.enterprise, key.day, key.tz)].add(key.device)
    return [
        DayGroup(enterprise, day, tz, tuple(sorted(names)))
        for (enterprise, day, tz), names in sorted(devices.items())
    ]


def _select_list() -> str:
    columns = []
    for name, kind in SUMMABLE_FIELDS.items():
        column = quote_identifier(name)
        columns.append(f"SUM({column}) AS {column}")
        if kind is FieldKind.INTEGER:
            columns.append(f"SUM({column}::float) AS {quote_identifier(name + _FLOAT_SUFFIX)}")
    columns += [
        f"COUNT({quote_identifier(name)}) AS {quote_identifier(name + '_windows')}"
        for name in OPTIONAL_QUANTITIES
    ]
    columns += [
        'COUNT("window_start_ms") AS "windows"',
        'COUNT(DISTINCT("config_digest")) AS "config_digests"',
        # The digests themselves at the day's two ends: with config_digests they show when an
        # agent's configuration changed (the evidence engine's go-live check, docs/storage.md).
        'FIRST("config_digest") AS "config_digest_first"',
        'LAST("config_digest") AS "config_digest_last"',
        'MIN("window_start_ms") AS "first_start_ms"',
        'MIN("ideal_cycle_s") AS "ideal_cycle_s_min"',
        'MAX("ideal_cycle_s") AS "ideal_cycle_s_max"',
    ]
    return ", ".join(columns)


_SELECT_SUMS = _select_list()


def rollup_statements(source: str, group: DayGroup) -> list[str]:
    """Three statements that recompute one group's day from ``source`` (a measurement path).

    1. the sums, counts and extremes; 2. the number of partial windows (InfluxQL cannot SUM a
    boolean); 3. the last window's end (a lone selector returns its point's time).
    """
    start, end = day_bounds(group.day, zone(group.tz))
    devices = " OR ".join(f'"device" = {quote_literal(device)}' for device in group.devices)
    where = (
        f'WHERE "enterprise" = {quote_literal(group.enterprise)} AND ({devices}) '
        f"AND time > {time_literal(start)} AND time <= {time_literal(end)}"
    )
    # S608: every name and value in these statements is quoted (quote_identifier/_literal).
    return [
        f"SELECT {_SELECT_SUMS} FROM {source} {where} {_GROUP_BY}",  # noqa: S608
        f'SELECT COUNT("partial") AS "partial_windows" FROM {source} {where} '  # noqa: S608
        f'AND "partial" = true {_GROUP_BY}',
        f'SELECT LAST("window_start_ms") FROM {source} {where} {_GROUP_BY}',  # noqa: S608
    ]


def series_key(row: Mapping[str, Any]) -> tuple[str, ...]:
    """A result row's series: its tag values in :data:`TAG_KEYS` order."""
    return tuple(str(row[key]) for key in TAG_KEYS)


def _exact_sum(int_sum: Any, float_sum: Any) -> int | None:
    """The integer sum if InfluxDB's int64 SUM did not wrap, else None."""
    if int_sum is None or float_sum is None:
        return None
    value, approx = int(int_sum), float(float_sum)
    if value < 0 or abs(value - approx) > _OVERFLOW_TOLERANCE * approx + 1:
        return None
    return value


def _summed_fields(
    sums: Mapping[str, Any], partial_windows: int, last_end_ms: int
) -> tuple[dict[str, FieldValue | None], list[str]]:
    """A series' summed fields from a row of the sums statement, and the integer sums that
    passed int64 (their value None): the day's fields before :func:`finished_fields`."""
    fields: dict[str, FieldValue | None] = {}
    overflowed = []
    for name, kind in SUMMABLE_FIELDS.items():
        value = sums.get(name)
        if kind is FieldKind.INTEGER and value is not None:
            value = _exact_sum(value, sums.get(name + _FLOAT_SUFFIX))
            if value is None:
                overflowed.append(name)
        fields[name] = value
    fields["first_start_ms"] = sums["first_start_ms"]
    # COUNT over a day without a single value comes back null, not 0.
    for name in ("windows", "config_digests", *(f"{q}_windows" for q in OPTIONAL_QUANTITIES)):
        fields[name] = sums.get(name) or 0
    fields["ideal_cycle_s_min"] = sums.get("ideal_cycle_s_min")
    fields["ideal_cycle_s_max"] = sums.get("ideal_cycle_s_max")
    fields["config_digest_first"] = sums.get("config_digest_first")
    fields["config_digest_last"] = sums.get("config_digest_last")
    fields["partial_windows"] = partial_windows
    fields["last_end_ms"] = last_end_ms
    return fields, overflowed


def finished_fields(
    summed: Mapping[str, FieldValue | None], overflowed: Sequence[str], group: DayGroup
) -> dict[str, FieldValue | None]:
    """Every ``kpi_daily`` field of a series' day from its summed fields: the rules that null
    a sum, the overflowed names, the downtime terms, the day and zone.

    The one place these are derived, whether the sums came from the whole day or from a
    stored row plus the day's newer windows (:mod:`collector.store.rollup_merge`).
    """
    fields = dict(summed)
    if partial_ideal_good(fields):
        # A day of windows from an agent that predates ideal_good_s (or that lacked an ideal
        # cycle in some): a partial sum is no sum. The engine falls back (evidence-method §1).
        fields["ideal_good_s"] = None
    fields["day"] = group.day.isoformat()
    fields["tz"] = group.tz
    # Always written, "" when none: it names the sums to read as null, so it must never keep
    # an earlier refresh's names (InfluxDB merges a rewritten point field by field).
    fields["overflowed"] = ",".join(overflowed)
    fields["downtime_down_s"], fields["downtime_planned_s"] = _downtime_terms(summed)
    return fields


def _daily_fields(
    sums: Mapping[str, Any], partial_windows: int, last_end_ms: int, group: DayGroup
) -> dict[str, FieldValue | None]:
    summed, overflowed = _summed_fields(sums, partial_windows, last_end_ms)
    return finished_fields(summed, overflowed, group)


def partial_ideal_good(counts: Mapping[str, Any]) -> bool:
    """True when fewer of the day's windows carried ``ideal_good_s`` than counted good parts.

    ``counts`` holds the day's ``<q>_windows`` counts (None, as InfluxDB returns a count over
    no value, or in rows written before the count existed, is 0).
    """
    return (counts.get("ideal_good_s_windows") or 0) < (counts.get("good_count_windows") or 0)


def _downtime_terms(sums: Mapping[str, Any]) -> tuple[float, float]:
    """The day's (down, planned) seconds for unplanned downtime per planned hour: ``down_s``
    and the planned time a state code measured when the day counts (collector/downtime.py,
    the evidence engine's rule), else (0, 0): a day left out, or without ``down_s``.

    Always written, 0 rather than left out: InfluxDB merges a rewritten point field by field,
    so a field left out would keep the value of an earlier refresh after a late window made
    the day stop counting. A panel summing them over devices gets the evidence's ratio.
    """
    down_s, planned_s = sums.get("down_s"), sums.get("planned_s")
    if down_s is None or planned_s is None:
        return 0.0, 0.0
    inferred = sums.get("inferred_planned_s")
    inferred_s = None if inferred is None else float(inferred)
    if not downtime_measured(float(planned_s), inferred_s):
        return 0.0, 0.0
    return float(down_s), coded_planned_s(float(planned_s), inferred_s)


def daily_lines(group: DayGroup, results: Sequence[Sequence[Mapping[str, Any]]]) -> list[str]:
    """``kpi_daily`` lines from the rows of :func:`rollup_statements` (read with epoch=ms)."""
    sums_rows, partial_rows, last_rows = results
    partial = {series_key(row): int(row["partial_windows"]) for row in partial_rows}
    last_end = {series_key(row): int(row["time"]) for row in last_rows}
    midnight_ms = to_ms(day_bounds(group.day, zone(group.tz))[0])
    lines = []
    for row in sums_rows:
        key = series_key(row)
        fields = _daily_fields(row, partial.get(key, 0), last_end[key], group)
        tags = dict(zip(TAG_KEYS, key, strict=True))
        lines.append(encode_line(KPI_DAILY, tags, fields, midnight_ms, DAILY_FIELDS))
    return lines


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One series' day of sums, as the evidence engine reads it.

    Sums are over the day's windows (see :mod:`collector.store.rollup` for which windows a day
    holds); an optional quantity's sum is None when no window of the day measured it, and
    ``measured_windows[name]`` says in how many windows it was measured. An integer sum is None
    also when it passed int64 (it is then named in ``overflowed``). Seconds are ``_s``, energy
    kWh, counts parts.
    """

    platform: str
    enterprise: str
    agent: str
    device: str
    provenance: str
    day: date
    tz: str
    windows: int
    partial_windows: int
    config_digests: int
    first_start: datetime
    last_end: datetime
    scheduled_s: float
    planned_s: float
    run_s: float | None
    idle_s: float | None
    down_s: float | None
    off_s: float | None
    planned_stop_s: float | None
    total_count: int | None
    good_count: int | None
    reject_count: int | None
    energy_kwh: float | None
    ideal_count_s: float | None
    duration_s: float
    comm_loss_s: float
    scheduled_comm_loss_s: float
    samples: int | None
    missed_polls: int | None
    bad_values: int | None
    counter_resets: int | None
    meter_resets: int | None
    clock_jumps: int | None
    ideal_cycle_s_min: float | None
    ideal_cycle_s_max: float | None
    measured_windows: Mapping[str, int] = field(default_factory=dict)
    overflowed: tuple[str, ...] = ()
    #: The configuration digest of the day's first and last window (None in rollups written
    #: before these fields existed: refresh the days to fill them).
    config_digest_first: str | None = None
    config_digest_last: str | None = None
    #: Σ ideal x good (fully productive time) and the parts counted across comm loss; None on
    #: days whose windows predate them (docs/evidence-method.md §1 on the fallback).
    ideal_good_s: float | None = None
    unobserved_count: int | None = None
    #: Run time the polls may have missed; None on days whose windows do not carry it (agents
    #: that predate it, imports, devices without a state or a counter).
    unsampled_run_s: float | None = None
    #: The part of planned_s whose state was inferred, not read from a state code; None on
    #: days whose windows do not carry it (agents that predate it, devices with a state code
    #: only: none inferred).
    inferred_planned_s: float | None = None


#: Each field a refresh may leave out (null), and the counts of the same point that say it has
#: a value: a field whose counts are 0 was left out by the latest refresh (``ideal_count_s``
#: needs a window with an ideal cycle and a total count). ``ideal_good_s`` also needs every
#: window with good parts, and an integer sum is null when named in ``overflowed``.
_NULL_WITHOUT: dict[str, tuple[str, ...]] = {
    **{name: (f"{name}_windows",) for name in OPTIONAL_QUANTITIES if name in SUMMABLE_FIELDS},
    "ideal_count_s": ("ideal_cycle_s_windows", "total_count_windows"),
    "ideal_cycle_s_min": ("ideal_cycle_s_windows",),
    "ideal_cycle_s_max": ("ideal_cycle_s_windows",),
}


def without_stale(value: Mapping[str, Any]) -> dict[str, Any]:
    """The row's values with every field its own counts say the latest refresh left out, null.

    InfluxDB 1.x merges a rewritten point field by field: a refresh that leaves a field out
    keeps the value an earlier refresh wrote (36.0 of ``ideal_good_s`` after a late window
    from an agent that predates it). The counts and ``overflowed`` are written by every
    refresh, so they are this refresh's word on which fields it wrote (docs/storage.md,
    "Rewrites"). Rows written before a count existed (None) keep their values.
    """
    fresh = dict(value)
    for name, counts in _NULL_WITHOUT.items():
        if any(value[count] == 0 for count in counts):
            fresh[name] = None
    if partial_ideal_good(value):
        fresh["ideal_good_s"] = None
    for name in _overflowed(value):
        fresh[name] = None
    return fresh


def _overflowed(value: Mapping[str, Any]) -> tuple[str, ...]:
    names = value["overflowed"]
    return tuple(names.split(",")) if names else ()


def daily_from_row(row: Mapping[str, Any]) -> DailyRow:
    """A :class:`DailyRow` from a ``SELECT *`` row of ``kpi_daily``; KeyError if incomplete.

    A field the point still holds from an earlier refresh, which the latest one left out (its
    counts say so), reads as None: see :func:`without_stale`.
    """
    typed = {name: typed_value(kind, row.get(name)) for name, kind in DAILY_FIELDS.items()}
    value = without_stale(typed)
    sums = {name: value[name] for name in SUMMABLE_FIELDS}
    return DailyRow(
        platform=str(row["platform"]),
        enterprise=str(row["enterprise"]),
        agent=str(row["agent"]),
        device=str(row["device"]),
        provenance=str(row["provenance"]),
        day=date.fromisoformat(value["day"]),
        tz=value["tz"],
        windows=value["windows"],
        partial_windows=value["partial_windows"],
        config_digests=value["config_digests"],
        first_start=from_ms(value["first_start_ms"]),
        last_end=from_ms(value["last_end_ms"]),
        **sums,
        ideal_cycle_s_min=value["ideal_cycle_s_min"],
        ideal_cycle_s_max=value["ideal_cycle_s_max"],
        measured_windows={name: value[f"{name}_windows"] for name in OPTIONAL_QUANTITIES},
        overflowed=_overflowed(value),
        config_digest_first=value["config_digest_first"],
        config_digest_last=value["config_digest_last"],
    )
