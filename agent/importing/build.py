"""Typed rows to KPI windows, and the checks before they may enter the outbox. Pure.

Samples go through :class:`~agent.kpi.WindowBuilder`, the engine live polls go through, with a
spec built from the device's configuration (calendar, counter widths, ideal cycle time) and
``provenance="imported"``. Interval rows become one window each, their base quantities taken
from the row and the calendar (docs/import.md, "How a report row becomes a window").
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from pydantic import ValidationError

from agent.config import DeviceConfig, Role, planned_seconds
from agent.importing.errors import RefusedError, RowIssue
from agent.importing.mapping import ImportMapping
from agent.importing.rows import COUNT_ROLES, IntervalRow
from agent.kpi import CounterSpec, KpiSpec, Sample, WindowBuilder, complete_counts, wire_float
from agent.samples import comm_loss_limit_s, kpi_spec
from contract import quantities, wire

__all__ = [
    "GAP_SPACINGS",
    "Totals",
    "check_outbox",
    "check_overlaps",
    "counter_widths",
    "default_max_gap_s",
    "import_spec",
    "interval_windows",
    "sample_windows",
    "totals",
]

#: Default longest gap that holds a state: this many times the export's usual row spacing.
GAP_SPACINGS = 5
#: Width of a counter the device's configuration does not have: a historian stores the count
#: it saw, so only a 64-bit rollover (never, in practice) applies.
UNCONFIGURED_COUNTER_WIDTH = 64
_SHOWN_OVERLAPS = 20


# --- samples ------------------------------------------------------------------------------


def counter_widths(
    device: DeviceConfig, mapping: ImportMapping, samples: Sequence[Sample]
) -> dict[str, int]:
    """Rollover width of each mapped counter: the device's tag width, else 64 bits.

    A reading beyond the tag's width proves the export's counter is not that register (a
    historian often keeps a wider total of its own), so that column rolls over at 64 bits.
    """
    widths = {}
    for role in COUNT_ROLES:
        if role in mapping.columns:
            found = device.role_tag(Role(role))
            width = (found[1].width if found is not None else None) or UNCONFIGURED_COUNTER_WIDTH
            readings = [getattr(sample, role) for sample in samples]
            if max((r for r in readings if r is not None), default=0) >= 1 << width:
                width = UNCONFIGURED_COUNTER_WIDTH
            widths[role] = width
    return widths


def default_max_gap_s(device: DeviceConfig, timestamps: Sequence[float]) -> float:
    """The device's live comm-loss limit, or five times the export's median row spacing.

    Historians log every minute or only on change, so the live limit (a few poll intervals)
    would turn most of an export into comm loss.
    """
    limit = comm_loss_limit_s(device)
    spacings = [b - a for a, b in itertools.pairwise(timestamps) if b > a]
    if spacings:
        limit = max(limit, GAP_SPACINGS * statistics.median(spacings))
    return min(limit, float(wire.MAX_WINDOW_S))


def import_spec(
    device: DeviceConfig,
    mapping: ImportMapping,
    *,
    window_s: int,
    config_digest: str,
    max_gap_s: float,
    counter_widths: dict[str, int],
) -> KpiSpec:
    """The device's KPI spec, measuring what the export has, flagged ``imported``.

    Counters, state and energy source follow the mapped columns (a quantity the export lacks
    is None in the windows, not 0); calendar and ideal cycle time come from the device.
    """
    base = kpi_spec(device, window_s=window_s, config_digest=config_digest)
    counters = {role: CounterSpec(width) for role, width in counter_widths.items()}
    columns = mapping.columns
    energy_source = (
        "meter" if "energy_kwh" in columns else "power" if "power_kw" in columns else None
    )
    return dataclasses.replace(
        base,
        max_gap_s=max_gap_s,
        has_state="state" in columns,
        counters=counters,
        energy_source=energy_source,
        # An export holds the meter in kWh (the engineering value), not the raw register.
        energy_meter_width=None,
        energy_meter_scale=1.0,
        provenance="imported",
    )


def _hold_blank_states(samples: Sequence[Sample]) -> list[Sample]:
    # A historian writes a value when it changes: a blank state cell means "as before".
    held: list[Sample] = []
    state = None
    for sample in samples:
        if sample.state is None and state is not None:
            sample = dataclasses.replace(sample, state=state)
        state = sample.state
        held.append(sample)
    return held


def sample_windows(samples: Sequence[Sample], spec: KpiSpec) -> list[wire.KpiWindow]:
    """Windows from samples, fed to the WindowBuilder in time order as live polls are."""
    ordered = sorted(samples, key=lambda sample: sample.ts)
    if spec.has_state:
        ordered = _hold_blank_states(ordered)
    if not ordered:
        return []
    builder = WindowBuilder(spec)
    windows: list[wire.KpiWindow] = []
    for sample in ordered:
        builder.add(sample)
        windows.extend(builder.close_due(sample.ts))
    last = ordered[-1].ts
    # The export ends at its last row. A row exactly on a window edge opens the next window
    # (its counts belong there), so that window is closed 1 ms later to keep them.
    on_edge = math.isclose(last % spec.window_s, 0.0, abs_tol=1e-6)
    windows.extend(builder.close_partial(last + 0.001 if on_edge else last))
    return windows


# --- intervals ----------------------------------------------------------------------------


def _derive_counts(amounts: dict[str, float]) -> tuple[int | None, int | None, int | None]:
    def count(name: str) -> int | None:
        value = amounts.get(name)
        return None if value is None else int(value)

    # As the live engine does: the missing one of three from the other two, never below 0.
    return complete_counts(count("total_count"), count("good_count"), count("reject_count"))


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts * 1000) / 1000, UTC)


def _interval_window(row: IntervalRow, device: DeviceConfig, config_digest: str) -> wire.KpiWindow:
    start, end = _utc(row.start), _utc(row.end)
    length = row.end - row.start
    spent = row.durations_s
    planned_stop = spent.get("planned_stop")
    if "planned" in spent:  # the report's own planned time: the MES calendar, not ours
        planned_base = spent["planned"]
        scheduled = min(length, planned_base + (planned_stop or 0.0))
    else:
        scheduled = planned_seconds(device.calendar, start, end)
        planned_base = max(0.0, scheduled - (planned_stop or 0.0))
    # Running outside the plan is planned (overtime), as for live windows: availability <= 1.
    planned = min(length, max(planned_base, spent.get("run", 0.0)))
    total, good, reject = _derive_counts(row.amounts)

    def state_s(name: str) -> float | None:
        value = spent.get(name)
        return None if value is None else wire_float(value, 6)

    energy = row.amounts.get("energy_kwh")
    return wire.KpiWindow(
        device=device.id,
        start=start,
        end=end,
        provenance="imported",
        partial=False,
        config_digest=config_digest,
        scheduled_s=wire_float(scheduled, 6),
        planned_s=wire_float(planned, 6),
        run_s=state_s("run"),
        idle_s=state_s("idle"),
        down_s=state_s("down"),
        off_s=state_s("off"),
        planned_stop_s=state_s("planned_stop"),
        total_count=total,
        good_count=good,
        reject_count=reject,
        energy_kwh=None if energy is None else wire_float(energy, 9),
        # A report row has no comm loss: every part is in observed time (docs/kpi.md).
        ideal_good_s=None
        if device.ideal_cycle_s is None or good is None
        else device.ideal_cycle_s * good,
        unobserved_count=None if total is None else 0,
        ideal_cycle_s=device.ideal_cycle_s,
        # One report row; the report says nothing of the MES's own data quality.
        quality=wire.DataQuality(
            samples=1,
            missed_polls=0,
            bad_values=0,
            comm_loss_s=0.0,
            scheduled_comm_loss_s=0.0,
            counter_resets=0,
            meter_resets=0,
            clock_jumps=0,
        ),
    )


def interval_windows(
    rows: Sequence[IntervalRow], device: DeviceConfig, config_digest: str
) -> tuple[list[wire.KpiWindow], list[RowIssue]]:
    """One window per row, in time order; rows the wire contract refuses become issues."""
    windows, issues = [], []
    for row in sorted(rows, key=lambda row: row.start):
        try:
            windows.append(_interval_window(row, device, config_digest))
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            field = ".".join(str(part) for part in error["loc"]) or "row"
            issues.append(RowIssue(row.row, None, f"{field}: {error['msg']}"))
    return windows, issues


# --- checks before the outbox -------------------------------------------------------------


def _local(ts: float, zone: tzinfo) -> str:
    return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S %z")


def check_overlaps(rows: Sequence[IntervalRow], zone: tzinfo) -> None:
    """Refuse report rows whose intervals overlap (a report exported or pasted twice)."""
    found = []
    latest: IntervalRow | None = None
    for row in sorted(rows, key=lambda row: (row.start, row.row)):
        if latest is not None and row.start < latest.end:
            found.append(
                f"row {row.row} ({_local(row.start, zone)} to {_local(row.end, zone)}) overlaps "
                f"row {latest.row} ({_local(latest.start, zone)} to {_local(latest.end, zone)})"
            )
        if latest is None or row.end > latest.end:
            latest = row
    if found:
        shown = found[:_SHOWN_OVERLAPS]
        more = len(found) - len(shown)
        lines = [*shown, *([f"... and {more} more"] if more else [])]
        raise RefusedError(
            f"{len(found)} intervals overlap others; each moment may be reported once:\n"
            + "\n".join(lines)
        )


def check_outbox(
    windows: Sequence[wire.KpiWindow],
    device: str,
    covered: Sequence[tuple[str, float, float]],
    room: int,
    zone: tzinfo,
) -> None:
    """Refuse windows that overlap time already stored for the device, or do not fit.

    ``covered`` is the outbox's record of every (provenance, start, end) range ever stored for
    the device, measured or imported, kept after the windows were sent.
    """
    if windows:
        first = min(window.start.timestamp() for window in windows)
        last = max(window.end.timestamp() for window in windows)
        for provenance, start, end in covered:
            if first < end - 1e-3 and start < last - 1e-3:
                raise RefusedError(
                    f"device {device} already has {provenance} windows from "
                    f"{_local(start, zone)} to {_local(end, zone)}, and this import covers "
                    f"{_local(first, zone)} to {_local(last, zone)}: it would count the same "
                    "time twice. Import only time the device has no data for (docs/import.md)"
                )
    if len(windows) > room:
        raise RefusedError(
            f"this import makes {len(windows):,} windows, but the outbox has room for {room:,} "
            "more: import a shorter period at a time and let the agent send it first, or use "
            "longer windows (--window-s 900)"
        )


# --- totals -------------------------------------------------------------------------------

_SECONDS = quantities.BASE_TIMES
_COUNTS = quantities.COUNTS


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over the imported windows; None where no window has the quantity."""

    windows: int
    start: datetime | None
    end: datetime | None
    seconds: dict[str, float | None]
    counts: dict[str, int | None]
    energy_kwh: float | None
    comm_loss_s: float


def _sum(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) if present else None


def totals(windows: Sequence[wire.KpiWindow]) -> Totals:
    """What the summary shows: the period covered and the sums of its base quantities."""
    counts: dict[str, int | None] = {}
    for name in _COUNTS:
        value = _sum([getattr(window, name) for window in windows])
        counts[name] = None if value is None else int(value)
    return Totals(
        windows=len(windows),
        start=min((window.start for window in windows), default=None),
        end=max((window.end for window in windows), default=None),
        seconds={name: _sum([getattr(window, name) for window in windows]) for name in _SECONDS},
        counts=counts,
        energy_kwh=_sum([window.energy_kwh for window in windows]),
        comm_loss_s=sum(window.quality.comm_loss_s for window in windows),
    )
