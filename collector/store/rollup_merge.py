"""Incremental rollups: a stored ``kpi_daily`` row plus the day's newer windows.

Recomputing a device-day reads all its raw windows, ~23 µs of influxd CPU per window already in
the day (docs/performance.md, ``rollup_growth``); refreshed once per one-minute window, a day's
rollups cost InfluxDB ~700 times what writing its windows does. So a refresh that can merges
instead: it reads the stored row of each of the device's series, reads only the raw windows
that end after the rows' ``last_end_ms`` (``time > last_end``; summed here as the recompute's
statements sum them, see :func:`tail_statement` for why), and adds them to the rows. What
decides it is the mark the ingest keeps per device-day in the registry's dirty-days queue: the
earliest window end written since the day's last refresh.

Merged when every window written since the row was computed ends after it (mark > the largest
``last_end_ms`` of the device's rows), so the tail holds exactly the windows the row lacks and
none it holds. Everything else takes the full recompute (:mod:`collector.store.rollup`):

- no mark (a caller that does not know, or a day marked before the registry kept marks), or no
  stored row for the device;
- a mark at or before a row's last end: a late window, or a stored point rewritten (a window
  re-sent under a new seq overwrites its point field by field);
- a row with a sum past int64 (named in ``overflowed``) or written before a count existed:
  its true sum is not in the row. A row whose ``ideal_good_s`` the partial rule nulled (a
  window without it: an older agent, a window without an ideal cycle) is merged all the same,
  since the day stays partial and the sum null whatever is added; refusing it, as the design
  first said, would send such a device's day back to the full recompute for the rest of the
  day;
- a tail whose configuration digests are not just the row's last one (``config_digests`` is a
  distinct count), or a tail series with no stored row.

Two refreshers racing on one day stay right: each merges one row with the windows after it,
both compute the same row, and one that reads a row another has already advanced past the mark
takes the full path. A stored row someone edited in InfluxDB stays edited through merges (a
recompute per window used to overwrite it at the next window): the seal check after each
refresh names it, and ``rollups refresh`` recomputes it. Pure functions;
:meth:`collector.store.client.InfluxStore.refresh_days` runs them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from collector.store.influxql import quote_literal, time_literal
from collector.store.lines import FieldValue, encode_line
from collector.store.records import from_ms, to_ms, typed_value
from collector.store.rollup import (
    DayGroup,
    DayKey,
    finished_fields,
    partial_ideal_good,
    series_key,
    without_stale,
)
from collector.store.schema import (
    DAILY_COUNT_FIELDS,
    DAILY_FIELDS,
    KPI_DAILY,
    OPTIONAL_QUANTITIES,
    SUMMABLE_FIELDS,
    TAG_KEYS,
    WINDOW_FIELDS,
    FieldKind,
)
from contract.days import day_bounds, zone

__all__ = [
    "RefreshPlan",
    "StoredDay",
    "Tail",
    "merged_lines",
    "plan_refresh",
    "stored_rows",
    "stored_statement",
    "tail_statement",
    "tail_sums",
]

#: One series' tag values, in :data:`TAG_KEYS` order.
SeriesKey = tuple[str, ...]
#: A stored ``kpi_daily`` row, typed by :data:`DAILY_FIELDS`, its stale fields null.
StoredRow = dict[str, Any]
#: The stored rows of one enterprise's local day: device -> series -> row.
StoredDay = dict[str, dict[SeriesKey, StoredRow]]

_INT64_MAX = 2**63 - 1
#: Counts a merge adds (``config_digests`` is kept or the merge refused: it counts distinct).
_ADDED_COUNTS = tuple(name for name in DAILY_COUNT_FIELDS if name != "config_digests")
_DEVICE = TAG_KEYS.index("device")


@dataclass(frozen=True, slots=True)
class Tail:
    """Device-days of one group whose windows after ``after_ms`` are merged into their rows."""

    group: DayGroup
    after_ms: int
    stored: Mapping[SeriesKey, StoredRow]


@dataclass(frozen=True, slots=True)
class RefreshPlan:
    """Which device-days a refresh recomputes whole, and which it merges."""

    full: list[DayKey]
    tails: list[Tail]


def stored_statement(source: str, group: DayGroup) -> str:
    """The stored ``kpi_daily`` rows of a group's devices for its day (at its local midnight)."""
    midnight = time_literal(day_bounds(group.day, zone(group.tz))[0])
    devices = " OR ".join(f'"device" = {quote_literal(device)}' for device in group.devices)
    # S608: every name and value here is quoted (quote_literal, time_literal, measurement path).
    return (
        f"SELECT * FROM {source} WHERE "  # noqa: S608
        f'"enterprise" = {quote_literal(group.enterprise)} AND ({devices}) '
        f"AND time >= {midnight} AND time <= {midnight}"
    )


def stored_rows(rows: Iterable[Mapping[str, Any]]) -> StoredDay:
    """The rows of :func:`stored_statement`, typed, by device and series."""
    day: StoredDay = defaultdict(dict)
    for row in rows:
        typed = {name: typed_value(kind, row.get(name)) for name, kind in DAILY_FIELDS.items()}
        day[str(row["device"])][series_key(row)] = without_stale(typed)
    return day


def plan_refresh(
    keys: Iterable[DayKey],
    marks: Mapping[DayKey, int | None],
    stored: Mapping[tuple[str, date], StoredDay],
) -> RefreshPlan:
    """Split ``keys`` into full recomputes and tails to merge.

    ``marks``: each key's earliest window end written since its last refresh (ms; None or
    missing: unknown). ``stored``: the stored rows by (enterprise, local day).
    """
    full: list[DayKey] = []
    # Device-days merged after the same time share their statements (in steady flow the
    # devices of an enterprise close their windows on the same edge).
    tails: dict[tuple[str, date, str, int], dict[str, dict[SeriesKey, StoredRow]]] = {}
    for key in sorted(set(keys)):
        rows = stored.get((key.enterprise, key.day), {}).get(key.device, {})
        after_ms = _merge_after(marks.get(key), rows.values())
        if after_ms is None:
            full.append(key)
        else:
            tails.setdefault((key.enterprise, key.day, key.tz, after_ms), {})[key.device] = rows
    return RefreshPlan(full, [_tail(place, devices) for place, devices in sorted(tails.items())])


def _tail(
    place: tuple[str, date, str, int], devices: Mapping[str, dict[SeriesKey, StoredRow]]
) -> Tail:
    enterprise, day, tz, after_ms = place
    series = {key: row for rows in devices.values() for key, row in rows.items()}
    return Tail(DayGroup(enterprise, day, tz, tuple(sorted(devices))), after_ms, series)


def _merge_after(mark: int | None, rows: Iterable[StoredRow]) -> int | None:
    """The time after which a device-day's windows are merged into its rows, or None: full."""
    stored = list(rows)
    if mark is None or not stored or not all(_mergeable(row) for row in stored):
        return None
    last_end_ms = max(int(row["last_end_ms"]) for row in stored)
    return last_end_ms if mark > last_end_ms else None


def _mergeable(row: StoredRow) -> bool:
    """True when the row holds its day's true sums and counts, so windows can be added."""
    if any(row[name] is None for name in (*DAILY_COUNT_FIELDS, "last_end_ms", "first_start_ms")):
        return False  # written before a count existed: refresh it whole once
    # A sum past int64 is not in the row. (ideal_good_s nulled by the partial rule is merged:
    # see _merged; refusing it would recompute an older agent's day whole all day long.)
    return row["overflowed"] == "" and row["config_digest_last"] is not None


def tail_statement(source: str, tail: Tail) -> str:
    """The raw windows of the tail's devices that end after ``after_ms`` in its day.

    Raw points, summed here, rather than the recompute's SUM statements over the same points:
    measured on influxd 1.6 (docs/performance.md, ``rollup_growth``), the SUM statement's ~60
    aggregates cost it ~38 ms for 20 one-point series, a ``SELECT *`` of the same points ~9 ms.
    """
    start, end = day_bounds(tail.group.day, zone(tail.group.tz))
    start = max(start, from_ms(tail.after_ms))
    devices = " OR ".join(f'"device" = {quote_literal(device)}' for device in tail.group.devices)
    # S608: every name and value here is quoted (quote_literal, time_literal, measurement path).
    return (
        f"SELECT * FROM {source} WHERE "  # noqa: S608
        f'"enterprise" = {quote_literal(tail.group.enterprise)} AND ({devices}) '
        f"AND time > {time_literal(start)} AND time <= {time_literal(end)}"
    )


def merged_lines(tail: Tail, points: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[DayKey]]:
    """``kpi_daily`` lines of the tail's rows merged with the raw windows of
    :func:`tail_statement` (read with epoch=ms); and the device-days the tail showed must be
    recomputed whole (a new digest, a new series).
    """
    by_series: dict[SeriesKey, list[Mapping[str, Any]]] = defaultdict(list)
    for point in points:
        by_series[series_key(point)].append(point)
    group = tail.group
    merged: dict[SeriesKey, dict[str, FieldValue | None]] = {}
    refused: set[str] = set()
    for key, series in by_series.items():
        stored = tail.stored.get(key)
        fields = None if stored is None else _merged(stored, *tail_sums(series), group)
        if fields is None:
            refused.add(key[_DEVICE])
        else:
            merged[key] = fields
    midnight_ms = to_ms(day_bounds(group.day, zone(group.tz))[0])
    lines = [
        encode_line(
            KPI_DAILY, dict(zip(TAG_KEYS, key, strict=True)), fields, midnight_ms, DAILY_FIELDS
        )
        for key, fields in merged.items()
        if key[_DEVICE] not in refused
    ]
    full = [DayKey(group.enterprise, device, group.day, group.tz) for device in sorted(refused)]
    return lines, full


def tail_sums(
    points: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, FieldValue | None], list[str]]:
    """One series' raw windows summed as the recompute's statements sum them
    (``rollup_statements``, ``daily_lines``): sums of the values present (integers
    exact, those past int64 named and None), counts, extremes, first and last digest by time,
    partial windows, last end."""
    ordered = sorted(points, key=lambda point: int(point["time"]))
    values = {
        name: [v for v in (typed_value(kind, p.get(name)) for p in ordered) if v is not None]
        for name, kind in WINDOW_FIELDS.items()
    }
    fields: dict[str, FieldValue | None] = {}
    overflowed: list[str] = []
    for name, kind in SUMMABLE_FIELDS.items():
        fields[name] = _sum(values[name], kind)
        if kind is FieldKind.INTEGER and values[name] and fields[name] is None:
            overflowed.append(name)
    fields["windows"] = len(values["window_start_ms"])
    fields["config_digests"] = len(set(values["config_digest"]))
    fields.update({f"{name}_windows": len(values[name]) for name in OPTIONAL_QUANTITIES})
    fields["first_start_ms"] = min(values["window_start_ms"], default=None)
    fields["ideal_cycle_s_min"] = min(values["ideal_cycle_s"], default=None)
    fields["ideal_cycle_s_max"] = max(values["ideal_cycle_s"], default=None)
    digests = values["config_digest"]
    fields["config_digest_first"] = digests[0] if digests else None
    fields["config_digest_last"] = digests[-1] if digests else None
    fields["partial_windows"] = sum(1 for partial in values["partial"] if partial is True)
    fields["last_end_ms"] = int(ordered[-1]["time"])
    return fields, overflowed


def _sum(values: Sequence[FieldValue], kind: FieldKind) -> FieldValue | None:
    """SUM as InfluxDB takes it, in time order; None for no value, or for an integer sum
    outside int64 (InfluxDB's would wrap; the recompute names it overflowed)."""
    if not values:
        return None
    if kind is FieldKind.INTEGER:
        total = sum(int(value) for value in values)
        return total if 0 <= total <= _INT64_MAX else None
    running = 0.0
    for value in values:
        running += float(value)
    return running


def _merged(
    stored: StoredRow,
    tail: Mapping[str, FieldValue | None],
    tail_overflowed: Sequence[str],
    group: DayGroup,
) -> dict[str, FieldValue | None] | None:
    """The stored row with the tail's windows added, or None when only a full recompute can
    say (a configuration digest other than the row's last, a partial day made whole)."""
    if tail["config_digests"] != 1 or tail["config_digest_last"] != stored["config_digest_last"]:
        return None
    summed, overflowed = _added_sums(stored, tail, set(tail_overflowed))
    for name in _ADDED_COUNTS:
        summed[name] = int(stored[name]) + int(tail[name] or 0)
    if partial_ideal_good(stored) and not partial_ideal_good(summed):
        # The row's ideal_good_s was nulled by the partial rule, so its sum is lost; merged it
        # stays null as long as the day stays partial, which the counts alone say (a window
        # with ideal_good_s has good parts, so the day can only become whole if that broke).
        return None
    summed["config_digests"] = stored["config_digests"]
    summed["first_start_ms"] = min(int(stored["first_start_ms"]), int(str(tail["first_start_ms"])))
    summed["last_end_ms"] = tail["last_end_ms"]
    summed["config_digest_first"] = stored["config_digest_first"]
    summed["config_digest_last"] = tail["config_digest_last"]
    summed["ideal_cycle_s_min"] = _extreme(
        min, stored["ideal_cycle_s_min"], tail["ideal_cycle_s_min"]
    )
    summed["ideal_cycle_s_max"] = _extreme(
        max, stored["ideal_cycle_s_max"], tail["ideal_cycle_s_max"]
    )
    return finished_fields(summed, overflowed, group)


def _added_sums(
    stored: StoredRow, tail: Mapping[str, FieldValue | None], tail_overflowed: set[str]
) -> tuple[dict[str, FieldValue | None], list[str]]:
    """Each sum of the row plus the tail's; integers exact, those past int64 named, as the
    full recompute names them (its SUM wraps, and the float twin of the sum tells)."""
    summed: dict[str, FieldValue | None] = {}
    overflowed: list[str] = []
    for name, kind in SUMMABLE_FIELDS.items():
        value = _added(stored[name], tail[name], kind)
        # Integer sums are of counts, never negative: past int64 in the tail, past it in all.
        if name in tail_overflowed or (isinstance(value, int) and value > _INT64_MAX):
            overflowed.append(name)
            value = None
        summed[name] = value
    return summed, overflowed


def _added(
    before: FieldValue | None, after: FieldValue | None, kind: FieldKind
) -> FieldValue | None:
    """One sum of the row and one of the tail; None is a sum of no value (none measured)."""
    if before is None or after is None:
        return after if before is None else before
    if kind is FieldKind.INTEGER:
        return int(before) + int(after)
    return float(before) + float(after)


def _extreme(
    pick: Callable[[list[float]], float], stored: float | None, tail: FieldValue | None
) -> float | None:
    values = [float(value) for value in (stored, tail) if value is not None]
    return pick(values) if values else None
