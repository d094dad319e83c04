"""The scripted machine: a minute-by-minute schedule replayed from a CSV file, with its truth.

Where the modelled machine (:mod:`sim.machine`) draws failures and cycles at random, a scripted
machine replays what a CSV says each minute held: its state and the parts and rejects made in
it. That replays a published worked example exactly, or a day of a real plant from a
historian export (docs/simulator.md, "Scripted machines").

The file is hostile input: it is read within a size limit, and every problem is reported at
once as ``file:line column: got X, expected Y`` (:class:`sim.errors.ScriptError`), never as a
traceback. Inside a minute of ``n`` parts, part ``k`` completes at ``k/n`` of the minute and the
rejects are spread the same way, so at each minute's end the counters hold exactly the CSV's
sums. Before the first minute and after the last the machine is ``off`` and its counters hold.
Power: ``idle_kw`` while running, idle or down, ``standby_kw`` otherwise, plus
``energy_per_part_kwh`` for each part, as the modelled machine draws it on average.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from contract.errors import InputFileError
from contract.files import read_bounded
from sim.errors import ScriptError
from sim.machine import STATE_FIELD, MachineState, Snapshot, TruthBin
from sim.plant import MachineConfig, PlantConfig

__all__ = [
    "COLUMNS",
    "MAX_SCRIPT_BYTES",
    "MINUTE_S",
    "Minute",
    "ScriptedMachine",
    "check_scripts",
    "load_script",
    "parse_script",
]

#: The header a script must start with, in this order.
COLUMNS = ("minute", "state", "parts", "rejects")
#: A year of minutes is ~20 MB of CSV; anything past this is not a schedule.
MAX_SCRIPT_BYTES = 64 * 1024 * 1024
MINUTE_S = 60
#: Problems listed before the rest are summarised (a wrong file gives one per line).
_MAX_PROBLEMS = 20
_STATES = {state.value: state for state in MachineState}


@dataclass(frozen=True, slots=True)
class Minute:
    """One row: the minute starting at ``start`` (epoch s), its state, parts and rejects."""

    start: float
    state: MachineState
    parts: int
    rejects: int


def load_script(path: Path) -> list[Minute]:
    """Read a script CSV; ScriptError listing every problem (located) when it is not one."""
    try:
        raw = read_bounded(path, MAX_SCRIPT_BYTES, expected="a minute-by-minute script CSV")
        text = raw.decode("utf-8-sig")
    except InputFileError as exc:
        raise ScriptError(str(path), [f"{path}: cannot read: {exc.detail}"]) from None
    except UnicodeDecodeError as exc:
        raise ScriptError(str(path), [f"{path}: not UTF-8 text (offset {exc.start})"]) from None
    return parse_script(text, str(path))


def check_scripts(plant: PlantConfig) -> None:
    """Read every scripted machine's script: ScriptError with the problems of the first bad one."""
    for machine in plant.machines:
        if machine.script is not None:
            load_script(machine.script)


def parse_script(text: str, source: str) -> list[Minute]:
    """The minutes of a script's text; ScriptError listing every problem found."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[str] = []
    minutes: list[Minute] = []
    try:
        header = next(reader, None)
        if header is None or tuple(cell.strip() for cell in header) != COLUMNS:
            got = "nothing" if header is None else ",".join(header)[:80]
            raise ScriptError(
                source, [f"{source}:1: got header {got!r}, expected {','.join(COLUMNS)}"]
            )
        for row in reader:
            line = reader.line_num
            minute = _minute(row, f"{source}:{line}", problems)
            if minute is not None:
                _check_follows(minutes, minute, f"{source}:{line}", problems)
                minutes.append(minute)
            if len(problems) > _MAX_PROBLEMS:
                problems.append(f"{source}: more problems after line {line}, not listed")
                break
    except csv.Error as exc:
        problems.append(f"{source}:{reader.line_num}: not CSV: {exc}")
    if not minutes and not problems:
        problems.append(f"{source}: no minutes after the header")
    if problems:
        raise ScriptError(source, problems)
    return minutes


def _minute(row: list[str], where: str, problems: list[str]) -> Minute | None:
    if len(row) != len(COLUMNS):
        problems.append(f"{where}: got {len(row)} columns, expected {len(COLUMNS)}")
        return None
    start_text, state_text, parts_text, rejects_text = (cell.strip() for cell in row)
    found = len(problems)
    start = _start(start_text, where, problems)
    state = _STATES.get(state_text)
    if state is None:
        problems.append(
            f"{where} state: got {state_text[:40]!r}, expected one of {', '.join(_STATES)}"
        )
    parts = _count(parts_text, "parts", where, problems)
    rejects = _count(rejects_text, "rejects", where, problems)
    if parts is not None and rejects is not None and rejects > parts:
        problems.append(f"{where} rejects: got {rejects}, more than the minute's {parts} parts")
    if len(problems) > found or start is None or state is None or parts is None:
        return None
    return Minute(start, state, parts, rejects or 0)


def _start(text: str, where: str, problems: list[str]) -> float | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(
            f"{where} minute: got {text[:40]!r}, expected an ISO 8601 time with its UTC offset, "
            "e.g. 2026-03-02T06:00:00+08:00"
        )
        return None
    start = moment.timestamp()
    if start % MINUTE_S:
        problems.append(f"{where} minute: got {text[:40]!r}, expected the start of a minute")
        return None
    return start


def _count(text: str, column: str, where: str, problems: list[str]) -> int | None:
    # A part made per 0.1 ms of a minute is past any machine: the bound keeps floats exact.
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        problems.append(f"{where} {column}: got {text[:40]!r}, expected a whole number 0..999999")
        return None
    return int(text)


def _check_follows(minutes: list[Minute], minute: Minute, where: str, problems: list[str]) -> None:
    if minutes and minute.start != minutes[-1].start + MINUTE_S:
        before = datetime.fromtimestamp(minutes[-1].start, UTC).isoformat()
        problems.append(
            f"{where} minute: not the minute after the previous row's ({before}): a script is "
            "one row per minute, in order, without gaps"
        )


class ScriptedMachine:
    """A machine whose every minute is given by a script; the same face as ``Machine``."""

    def __init__(self, config: MachineConfig, minutes: list[Minute], start_ts: float) -> None:
        if not minutes:
            raise ValueError(f"machine {config.id}: a script needs at least one minute")
        self.config = config
        self._minutes = minutes
        self._first = minutes[0].start
        self._parts_before = [0]
        self._rejects_before = [0]
        self._kwh_before = [0.0]
        for minute in minutes:
            self._parts_before.append(self._parts_before[-1] + minute.parts)
            self._rejects_before.append(self._rejects_before[-1] + minute.rejects)
            self._kwh_before.append(self._kwh_before[-1] + self._minute_kwh(minute, 1.0))
        self._now = start_ts

    @property
    def now(self) -> float:
        """Plant time the machine has reached, epoch seconds."""
        return self._now

    @property
    def state(self) -> MachineState:
        """The state of the minute at the time reached (``off`` outside the script)."""
        minute = self._minute_at(self._now)
        return MachineState.OFF if minute is None else minute.state

    def advance_to(self, ts: float) -> None:
        """Move to plant time ``ts``; ValueError if that is before the time reached."""
        if ts < self._now:
            raise ValueError(f"machine {self.config.id}: cannot go back from {self._now} to {ts}")
        self._now = ts

    def snapshot(self) -> Snapshot:
        """What the controller shows now: counters wrapped at their width."""
        index, fraction = self._position(self._now)
        parts, rejects = self._parts_before[index], self._rejects_before[index]
        kwh = self._kwh_before[index] + self.config.energy_start_kwh
        minute = self._minutes[index] if index < len(self._minutes) else None
        if minute is not None and fraction > 0:
            parts += math.floor(minute.parts * fraction)
            rejects += math.floor(minute.rejects * fraction)
            kwh += self._minute_kwh(minute, fraction)
        total = self.config.counter_start + parts
        modulus = 1 << self.config.counter_bits
        current = self._minute_at(self._now)
        state = MachineState.OFF if current is None else current.state
        return Snapshot(
            ts=self._now,
            state=state,
            total_count=total % modulus,
            reject_count=rejects % modulus,
            good_count=(total - rejects) % modulus,
            energy_kwh=kwh,
            power_kw=self._base_kw(state),
            cycle_time_s=0.0 if current is None or not current.parts else MINUTE_S / current.parts,
        )

    def truth(self, start_ts: float, end_ts: float) -> TruthBin:
        """Exact sums over whole minutes [start_ts, end_ts); ValueError if not minute-aligned."""
        if start_ts % MINUTE_S or end_ts % MINUTE_S:
            raise ValueError(f"truth interval must align to {MINUTE_S} s, got {start_ts}..{end_ts}")
        total = TruthBin()
        for ts in range(int(start_ts), int(end_ts), MINUTE_S):
            minute = self._minute_at(ts)
            state = MachineState.OFF if minute is None else minute.state
            setattr(total, STATE_FIELD[state], getattr(total, STATE_FIELD[state]) + MINUTE_S)
            if minute is not None:
                total.total_count += minute.parts
                total.reject_count += minute.rejects
                total.energy_kwh += self._minute_kwh(minute, 1.0)
        return total

    # -- internals --------------------------------------------------------------------------

    def _position(self, ts: float) -> tuple[int, float]:
        """(index of the minute holding ``ts``, or of the first after it; fraction elapsed)."""
        if ts < self._first:
            return 0, 0.0
        index = min(int((ts - self._first) // MINUTE_S), len(self._minutes))
        if index == len(self._minutes):
            return index, 0.0
        return index, (ts - self._minutes[index].start) / MINUTE_S

    def _minute_at(self, ts: float) -> Minute | None:
        index = math.floor((ts - self._first) / MINUTE_S)
        return self._minutes[index] if 0 <= index < len(self._minutes) else None

    def _base_kw(self, state: MachineState) -> float:
        if state in (MachineState.RUNNING, MachineState.IDLE, MachineState.DOWN):
            return self.config.idle_kw
        return self.config.standby_kw

    def _minute_kwh(self, minute: Minute, fraction: float) -> float:
        base = self._base_kw(minute.state) * MINUTE_S * fraction / 3600.0
        return base + self.config.energy_per_part_kwh * math.floor(minute.parts * fraction)
