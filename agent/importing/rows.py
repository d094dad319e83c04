"""From table rows to typed rows of either shape, collecting every bad value. Pure.

``samples``: one row per time, read into :class:`~agent.kpi.Sample` exactly as a live poll is
(state codes through the device's ``state_map``, raw counter values, meter readings). A blank
cell is "no reading in this row"; a blank state holds the state of the row before, because
historians write a value only when it changes.

``intervals``: one row per interval (an MES shift or hour report) read into
:class:`IntervalRow`: its start and end and the amounts and durations within it. A blank cell
is "not reported" (None), never 0.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from agent.config import DeviceConfig, MachineState, Role
from agent.config.tags import StateKey
from agent.importing.errors import MappingError, RowIssue
from agent.importing.mapping import INTERVAL_AMOUNTS, ImportMapping
from agent.importing.table import Table
from agent.importing.values import CellError, TimeReader, read_count, read_number
from agent.kpi import Sample
from contract import quantities

__all__ = [
    "COUNT_ROLES",
    "FUTURE_SLACK_S",
    "IntervalRow",
    "RowsRead",
    "read_intervals",
    "read_samples",
    "resolve_columns",
    "state_lookup",
]

COUNT_ROLES = quantities.COUNTS
#: A time this far past "now" is refused as in the future (usually a wrong --tz).
FUTURE_SLACK_S = 300.0
_T = TypeVar("_T")
_V = TypeVar("_V")  # what one cell reads as


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """One MES report row: ``[start, end)`` (seconds since the epoch) and what it reports.

    ``durations_s`` maps run / idle / down / off / planned_stop / planned to seconds; ``amounts``
    maps total_count / good_count / reject_count / energy_kwh to the amount in the interval.
    Quantities the row leaves blank are absent.
    """

    row: int
    start: float
    end: float
    durations_s: dict[str, float]
    amounts: dict[str, float]


@dataclass
class RowsRead(Generic[_T]):
    """Typed rows in file order, every bad value found, and rows left out by ``where``."""

    rows: list[tuple[int, _T]] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    filtered_out: int = 0
    #: Non-blank rows below the header, as read from the file.
    data_rows: int = 0


def resolve_columns(table: Table, mapping: ImportMapping) -> dict[str, int]:
    """Target (and ``where`` column) -> index in the row; MappingError lists every miss."""
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(table.header):
        positions.setdefault(name, []).append(index)
    found: dict[str, int] = {}
    problems = []
    wanted = [(target, column, "--map") for target, column in mapping.columns.items()]
    wanted += [(f"where:{column}", column, "--where") for column in mapping.where]
    for key, column, option in wanted:
        indexes = positions.get(column.strip())
        if indexes is None:
            problems.append(f"{option} {column!r}: {_no_such_column(column, table.header)}")
        elif len(indexes) > 1:
            shown = ", ".join(str(i + 1) for i in indexes)
            problems.append(
                f"{option} {column!r}: the header has this name {len(indexes)} times (columns "
                f"{shown}); expected it once"
            )
        else:
            found[key] = indexes[0]
    if problems:
        raise MappingError([f"{table.source}: {problem}" for problem in problems])
    return found


def _no_such_column(column: str, header: Sequence[str]) -> str:
    names = [name for name in header if name]
    close = difflib.get_close_matches(column, names, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(repr(name) for name in names[:30]) + (" ..." if len(names) > 30 else "")
    return f"no such column in the header{hint} (the header has: {listed})"


def state_lookup(
    device: DeviceConfig, mapping: ImportMapping
) -> Callable[[str], MachineState] | None:
    """How to turn a state cell into a state, as a live poll would; None if unmapped.

    Raises MappingError if the state column is mapped but no state_map is known.
    """
    if "state" not in mapping.columns:
        return None
    found = device.role_tag(Role.STATE)
    state_map: dict[StateKey, MachineState] | None = mapping.state_map
    default = None
    if found is not None:
        state_map = state_map or found[1].state_map
        default = found[1].state_default
    if not state_map:
        raise MappingError(
            [
                f"--map state: device {device.id} has no state tag with a state_map; give "
                "state_map in the mapping file (e.g. {运行: running, 待机: idle, 故障: down})"
            ]
        )
    codes = ", ".join(str(key) for key in list(state_map)[:12])

    def lookup(text: str) -> MachineState:
        text = text.strip()
        key: int | str = text
        try:
            number = float(text)
            key = int(number) if number.is_integer() else text
        except ValueError:
            pass
        if key in state_map:
            return state_map[key]
        if default is not None:
            return default
        raise CellError(f"got {text[:40]!r}, expected one of the state codes {codes}")

    return lookup


class _RowContext:
    """The cells of one row and the issues found in it."""

    def __init__(
        self, number: int, cells: list[str], columns: dict[str, int], mapping: ImportMapping
    ):
        self.number = number
        self.cells = cells
        self.columns = columns
        self.mapping = mapping
        self.issues: list[RowIssue] = []

    def text(self, target: str) -> str:
        index = self.columns[target]
        return self.cells[index].strip() if index < len(self.cells) else ""

    def read(
        self, target: str, reader: Callable[[str], _V], *, required: bool = False
    ) -> _V | None:
        """The cell of ``target`` read by ``reader``; None if blank (an issue if required)."""
        if target not in self.columns:
            return None
        text = self.text(target)
        column = self.mapping.columns.get(target, target)
        if not text:
            if required:
                self.issues.append(RowIssue(self.number, column, "empty, expected a value"))
            return None
        try:
            return reader(text)
        except CellError as exc:
            self.issues.append(RowIssue(self.number, column, str(exc)))
            return None


def _rows(
    table: Table,
    mapping: ImportMapping,
    columns: dict[str, int],
    read_row: Callable[[_RowContext], _T | None],
) -> RowsRead[_T]:
    result: RowsRead[_T] = RowsRead()
    where = [(columns[f"where:{column}"], value) for column, value in mapping.where.items()]
    # One row at a time from the file: only the typed rows are kept, never the cells.
    for number, cells in table.rows():
        result.data_rows += 1
        if any((cells[i].strip() if i < len(cells) else "") != value for i, value in where):
            result.filtered_out += 1
            continue
        context = _RowContext(number, cells, columns, mapping)
        typed = read_row(context)
        if context.issues:
            result.issues.extend(context.issues)
        elif typed is not None:
            result.rows.append((number, typed))
    return result


def _time_reader(times: TimeReader, now: float) -> Callable[[str], float]:
    def read(text: str) -> float:
        ts = times.read(text)
        if ts > now + FUTURE_SLACK_S:
            raise CellError(f"got {text[:40]!r}, which is in the future; check --tz")
        return ts

    return read


def read_samples(
    table: Table,
    mapping: ImportMapping,
    device: DeviceConfig,
    times: TimeReader,
    now: float,
) -> RowsRead[Sample]:
    """Every row as a Sample (rows with a bad value are left out and reported)."""
    columns = resolve_columns(table, mapping)
    state_of = state_lookup(device, mapping)
    read_time = _time_reader(times, now)

    def read_row(row: _RowContext) -> Sample | None:
        ts = row.read("time", read_time, required=True)
        state = row.read("state", state_of) if state_of is not None else None
        counts = {role: row.read(role, _read_counter) for role in COUNT_ROLES if role in columns}
        meter = row.read("energy_kwh", lambda text: read_number(text, unit="kWh"))
        power = row.read("power_kw", lambda text: read_number(text, unit="kW"))
        if ts is None:
            return None
        return Sample(
            ts=ts,
            mono=None,  # an export has no monotonic clock: order is by timestamp only
            answered=True,
            state=state,
            total_count=counts.get("total_count"),
            good_count=counts.get("good_count"),
            reject_count=counts.get("reject_count"),
            energy_meter_kwh=meter,
            power_kw=power,
        )

    return _rows(table, mapping, columns, read_row)


def read_intervals(
    table: Table, mapping: ImportMapping, times: TimeReader, now: float
) -> RowsRead[IntervalRow]:
    """Every row as an IntervalRow (rows with a bad value are left out and reported)."""
    columns = resolve_columns(table, mapping)
    read_time = _time_reader(times, now)
    durations = mapping.durations()

    def read_row(row: _RowContext) -> IntervalRow | None:
        start = row.read("start", read_time, required=True)
        end = row.read("end", read_time, required=True)
        spent: dict[str, float] = {}
        for quantity, (target, unit) in durations.items():
            unit_name = target.removeprefix(quantity + "_")
            value = row.read(target, functools.partial(read_number, unit=unit_name))
            if value is not None:
                spent[quantity] = value * unit.seconds_per_unit
        amounts: dict[str, float] = {}
        for target in INTERVAL_AMOUNTS:
            reader = _read_kwh if target == "energy_kwh" else _read_amount_count
            value = row.read(target, reader)
            if value is not None:
                amounts[target] = value
        if start is None or end is None:
            return None
        interval = IntervalRow(row.number, start, end, spent, amounts)
        _check_interval(row, interval)
        return interval

    return _rows(table, mapping, columns, read_row)


def _read_counter(text: str) -> int:
    return read_count(text, limit=1 << 64)


def _read_kwh(text: str) -> float:
    return read_number(text, unit="kWh")


def _read_amount_count(text: str) -> float:
    return float(read_count(text))


def _check_interval(row: _RowContext, interval: IntervalRow) -> None:
    """Rules across the cells of one interval row; problems go to ``row.issues``."""
    end_column = row.mapping.columns["end"]
    length = interval.end - interval.start
    if length <= 0:
        row.issues.append(
            RowIssue(
                row.number, end_column, f"got {row.text('end')!r}, which is not after the start"
            )
        )
        return
    if length > 86_400:
        row.issues.append(
            RowIssue(
                row.number,
                end_column,
                f"the interval is {length / 3600:g} h long, expected at most 24 h per row",
            )
        )
        return
    states = {q: s for q, s in interval.durations_s.items() if q != "planned"}
    if sum(states.values()) > length + 1e-3:
        parts = " + ".join(states)
        row.issues.append(
            RowIssue(
                row.number,
                None,
                f"{parts} = {sum(states.values()) / 60:g} min, more than the interval's "
                f"{length / 60:g} min",
            )
        )
    planned = interval.durations_s.get("planned")
    if planned is not None and planned > length + 1e-3:
        row.issues.append(
            RowIssue(
                row.number,
                row.mapping.columns[row.mapping.durations()["planned"][0]],
                f"planned time {planned / 60:g} min is more than the interval's "
                f"{length / 60:g} min",
            )
        )
