"""Cross-field rules, once (a window's, a day seal's): the pydantic models and the compiled
codec both call them."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from contract import quantities
from contract.wire._errors import FieldRule
from contract.wire._limits import MAX_PART_DIGESTS, MAX_WINDOW_S, STATE_SUM_TOLERANCE_S
from contract.wire._time import format_timestamp


def check_window_times(
    start: datetime,
    end: datetime,
    state_times: Iterable[float | None],
    comm_loss_s: float,
    scheduled_s: float,
    planned_s: float,
    scheduled_comm_loss_s: float,
    total_count: int | None = None,
    unobserved_count: int | None = None,
    unsampled_run_s: float | None = None,
    inferred_planned_s: float | None = None,
) -> None:
    """Raise :class:`FieldRule` naming the field if the times (or the unobserved part of the
    count, the run time the polls may have missed, or the inferred part of the planned time)
    do not fit the window.

    ``state_times`` are the five state times in :data:`contract.quantities.STATE_TIMES` order:
    they are summed in that order, so the tolerance sees the same float on both codecs.
    """
    state_times = tuple(state_times)
    duration = (end - start).total_seconds()
    if duration <= 0:
        raise FieldRule(
            "end",
            f"window ends at {format_timestamp(end)}, not after its start "
            f"{format_timestamp(start)}",
        )
    if duration > MAX_WINDOW_S:
        raise FieldRule("end", f"window is {duration:g} s long, over {MAX_WINDOW_S} s")
    state_sum = 0.0
    for state_s in state_times:
        if state_s is not None:
            state_sum += state_s
    state_sum += comm_loss_s
    if state_sum > duration + STATE_SUM_TOLERANCE_S:
        raise FieldRule(
            "run_s",
            f"state times plus comm loss add up to {state_sum:g} s, more than the "
            f"window's {duration:g} s",
        )
    for name, value in (("scheduled_s", scheduled_s), ("planned_s", planned_s)):
        if value > duration + STATE_SUM_TOLERANCE_S:
            raise FieldRule(name, f"{value:g} s is more than the window's {duration:g} s")
    if unobserved_count is not None and unobserved_count > (total_count or 0):
        raise FieldRule(
            "unobserved_count",
            f"{unobserved_count} parts counted across comm loss, more than the "
            f"window's total_count ({total_count})",
        )
    if unsampled_run_s is not None:
        _check_unsampled(unsampled_run_s, state_times)
    if inferred_planned_s is not None and inferred_planned_s > planned_s + STATE_SUM_TOLERANCE_S:
        raise FieldRule(
            "inferred_planned_s",
            f"{inferred_planned_s:g} s of planned time with an inferred state, more than the "
            f"planned time ({planned_s:g} s)",
        )
    if scheduled_comm_loss_s > min(comm_loss_s, scheduled_s) + STATE_SUM_TOLERANCE_S:
        raise FieldRule(
            "quality.scheduled_comm_loss_s",
            f"{scheduled_comm_loss_s:g} s is more than the comm loss "
            f"({comm_loss_s:g} s) or the scheduled time ({scheduled_s:g} s)",
        )


# --- day seals ----------------------------------------------------------------------------

#: The optional quantities a part counts measuring windows of (the rollup's ``<name>_windows``).
MEASURED_QUANTITIES: tuple[str, ...] = tuple(
    q.name for q in (*quantities.BASE_QUANTITIES, *quantities.REFERENCE) if q.optional
)
_DAY_SUM_ORDER = {q.name: i for i, q in enumerate(quantities.DAY_SUMS)}
_INTEGER_SUMS = frozenset(q.name for q in quantities.DAY_SUMS if q.kind == "integer")
_OPTIONAL_SUMS = frozenset(q.name for q in quantities.DAY_SUMS if q.optional)
_SEAL_ABSENT = frozenset(quantities.DAY_SUMS_ABSENT_IS_NULL)


class DayPartFields(Protocol):
    """What the part rules read of a day seal part, in either codec (times apart: their types
    differ, a datetime in the model and wire text in the compiled codec)."""

    @property
    def windows(self) -> int: ...
    @property
    def partial_windows(self) -> int: ...
    @property
    def seq_first(self) -> int: ...
    @property
    def seq_last(self) -> int: ...
    @property
    def config_digest_first(self) -> str: ...
    @property
    def config_digest_last(self) -> str: ...
    @property
    def config_digest_count(self) -> int: ...
    @property
    def config_digests(self) -> Sequence[str]: ...
    @property
    def measured_windows(self) -> Mapping[str, int]: ...
    @property
    def ideal_cycle_s_min(self) -> float | None: ...
    @property
    def ideal_cycle_s_max(self) -> float | None: ...
    @property
    def overflowed(self) -> Sequence[str]: ...


def check_day_part(
    part: DayPartFields,
    first_start: datetime,
    last_end: datetime,
    sums: Mapping[str, float | int | None],
) -> None:
    """Raise :class:`FieldRule` naming the field if a day seal part's figures contradict.

    ``sums`` maps each :data:`contract.quantities.DAY_SUMS` name to the part's sum.
    """
    windows = part.windows
    _check_part_counts(
        windows, part.partial_windows, first_start, last_end, part.seq_first, part.seq_last
    )
    _check_part_digests(
        windows,
        part.config_digest_first,
        part.config_digest_last,
        part.config_digest_count,
        part.config_digests,
    )
    _check_measured(windows, part.measured_windows, part.ideal_cycle_s_min, part.ideal_cycle_s_max)
    _check_sums(windows, part.measured_windows, part.overflowed, sums)


def _check_part_counts(
    windows: int,
    partial_windows: int,
    first_start: datetime,
    last_end: datetime,
    seq_first: int,
    seq_last: int,
) -> None:
    if partial_windows > windows:
        raise FieldRule("partial_windows", f"{partial_windows} of {windows} windows")
    if last_end <= first_start:
        raise FieldRule(
            "last_end",
            f"{format_timestamp(last_end)} is not after first_start "
            f"{format_timestamp(first_start)}",
        )
    if seq_last < seq_first:
        raise FieldRule("seq_last", f"{seq_last} is before seq_first {seq_first}")


def _check_part_digests(
    windows: int, first: str, last: str, count: int, digests: Sequence[str]
) -> None:
    if count > windows:
        raise FieldRule("config_digest_count", f"{count} digests in {windows} windows")
    if any(a >= b for a, b in itertools.pairwise(digests)):
        raise FieldRule("config_digests", "expected distinct digests in ascending order")
    if len(digests) != min(count, MAX_PART_DIGESTS):
        raise FieldRule(
            "config_digests",
            f"lists {len(digests)} of {count} digests, expected the first "
            f"{min(count, MAX_PART_DIGESTS)}",
        )
    if count <= MAX_PART_DIGESTS:
        for name, digest in (("config_digest_first", first), ("config_digest_last", last)):
            if digest not in digests:
                raise FieldRule(name, f"{digest[:80]!r} is not in config_digests")


def _check_measured(
    windows: int,
    measured: Mapping[str, int],
    cycle_min: float | None,
    cycle_max: float | None,
) -> None:
    # A quantity added after the first seals may be absent (a seal made before it).
    if not set(MEASURED_QUANTITIES) - _SEAL_ABSENT <= set(measured) <= set(MEASURED_QUANTITIES):
        missing = sorted(set(MEASURED_QUANTITIES) - _SEAL_ABSENT - set(measured))
        extra = sorted(set(measured) - set(MEASURED_QUANTITIES))
        raise FieldRule(
            "measured_windows",
            f"expected one count per optional quantity; missing {missing[:5]}, "
            f"unknown {[name[:40] for name in extra[:5]]}",
        )
    for name, count in measured.items():
        if count > windows:
            raise FieldRule(f"measured_windows.{name}", f"{count} of {windows} windows")
    if (cycle_min is None) != (measured["ideal_cycle_s"] == 0) or (cycle_max is None) != (
        cycle_min is None
    ):
        raise FieldRule(
            "ideal_cycle_s_min", "expected both extremes iff some window had an ideal cycle"
        )
    if cycle_min is not None and cycle_max is not None and cycle_max < cycle_min:
        raise FieldRule("ideal_cycle_s_max", f"{cycle_max!r} is below the minimum {cycle_min!r}")


def _check_sums(
    windows: int,
    measured: Mapping[str, int],
    overflowed: Sequence[str],
    sums: Mapping[str, float | int | None],
) -> None:
    order = [_DAY_SUM_ORDER.get(name, -1) for name in overflowed]
    if any(i < 0 or sums.get(overflowed[n]) is not None for n, i in enumerate(order)) or any(
        name not in _INTEGER_SUMS for name in overflowed
    ):
        raise FieldRule("overflowed", "expected names of integer sums left null")
    if any(a >= b for a, b in itertools.pairwise(order)):
        raise FieldRule("overflowed", "expected distinct names in the order of the sums")
    for name, value in sums.items():
        # A sum added after the first seals and absent from measured_windows: a seal made
        # before it, so no window measured it.
        unmeasured = measured.get(name, 1 if name not in _SEAL_ABSENT else 0) == 0
        if unmeasured and value is not None:
            raise FieldRule(f"sums.{name}", "expected null: no window measured it")
        # Null is no window measured it (an optional quantity), or a sum past int64.
        may_be_null = unmeasured or (name not in measured and name in _OPTIONAL_SUMS)
        if value is None and not may_be_null and name not in overflowed:
            raise FieldRule(f"sums.{name}", "null, but measured and not overflowed")
    duration_ms = sums["duration_ms"]
    if duration_ms is None or not windows <= duration_ms <= windows * MAX_WINDOW_S * 1000:
        raise FieldRule(
            "sums.duration_ms", f"{duration_ms} ms is not what {windows} windows can cover"
        )


class _SealPartFields(Protocol):
    @property
    def provenance(self) -> str: ...
    @property
    def seq_last(self) -> int: ...


class DaySealFields(Protocol):
    """What the seal rules read of a day seal, in either codec."""

    @property
    def seq(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def supersedes(self) -> str | None: ...
    @property
    def index(self) -> int: ...
    @property
    def prev(self) -> str | None: ...
    @property
    def parts(self) -> Sequence[_SealPartFields]: ...


def check_day_seal(seal: DaySealFields) -> None:
    """Raise :class:`FieldRule` naming the field if a day seal's chain fields contradict."""
    if (seal.supersedes is None) != (seal.version == 1):
        raise FieldRule("supersedes", "expected null for version 1 and a hash for later ones")
    if (seal.prev is None) != (seal.index == 1):
        raise FieldRule("prev", "expected null for index 1 and a hash for later ones")
    provenances = [part.provenance for part in seal.parts]
    if any(a >= b for a, b in itertools.pairwise(provenances)):
        raise FieldRule("parts", "expected one part per provenance, sorted by provenance")
    seq_last = max((part.seq_last for part in seal.parts), default=0)
    if seal.seq <= seq_last:
        raise FieldRule(
            "seq", f"{seal.seq} is not after the seq {seq_last} of the windows it seals"
        )


def _check_unsampled(unsampled_run_s: float, state_times: tuple[float | None, ...]) -> None:
    # Missed run time lies in time held in a state other than running: idle, down, off and
    # planned stop (STATE_TIMES after run_s), summed in that order on both codecs.
    held = 0.0
    for state_s in state_times[1:]:
        if state_s is not None:
            held += state_s
    if unsampled_run_s > held + STATE_SUM_TOLERANCE_S:
        raise FieldRule(
            "unsampled_run_s",
            f"{unsampled_run_s:g} s of run time the polls may have missed, more than the "
            f"{held:g} s held in states other than running",
        )


class SeqRangeFields(Protocol):
    """A confirmation's range of seqs, in either codec."""

    @property
    def first(self) -> int: ...
    @property
    def last(self) -> int: ...


class RefusalFields(SeqRangeFields, Protocol):
    """A confirmation's range of refused seqs, in either codec."""

    @property
    def reason(self) -> str: ...


def check_confirmed(stored: Sequence[SeqRangeFields], refused: Sequence[RefusalFields]) -> None:
    """Raise :class:`FieldRule` unless a confirmation's ranges each have one spelling: stored
    ones as :func:`check_seq_ranges` says, refused ones ascending, not overlapping and merged
    where they touch with the same reason; no seq both stored and refused; at least one seq."""
    if not stored and not refused:
        raise FieldRule("stored", "a confirmation names at least one seq, stored or refused")
    check_seq_ranges(stored)
    for at, refusal in enumerate(refused):
        where = f"refused[{at}]"
        if refusal.first > refusal.last:
            raise FieldRule(where, f"first {refusal.first} is after last {refusal.last}")
        if at:
            before = refused[at - 1]
            if before.last >= refusal.first or (
                before.last + 1 == refusal.first and before.reason == refusal.reason
            ):
                raise FieldRule(
                    where,
                    f"starts at {refusal.first}, not after refused[{at - 1}] ending at "
                    f"{before.last}: expected ascending ranges, merged when the reason is the same",
                )
    both = _first_shared(stored, refused)
    if both is not None:
        raise FieldRule("refused", f"seq {both} is both stored and refused")


def _first_shared(
    stored: Sequence[SeqRangeFields], refused: Sequence[SeqRangeFields]
) -> int | None:
    # Both ascending: walk them together.
    i = j = 0
    while i < len(stored) and j < len(refused):
        low = max(stored[i].first, refused[j].first)
        if low <= min(stored[i].last, refused[j].last):
            return low
        if stored[i].last < refused[j].last:
            i += 1
        else:
            j += 1
    return None


def check_seq_ranges(ranges: Sequence[SeqRangeFields]) -> None:
    """Raise :class:`FieldRule` unless the ranges are each ``first <= last``, ascending, and
    neither overlap nor touch (one spelling for each set of seqs: touching ranges are one)."""
    for at, seq_range in enumerate(ranges):
        if seq_range.first > seq_range.last:
            raise FieldRule(
                "stored", f"range {at}: first {seq_range.first} is after last {seq_range.last}"
            )
        if at and ranges[at - 1].last + 1 >= seq_range.first:
            raise FieldRule(
                "stored",
                f"range {at} starts at {seq_range.first}, not after the end of range {at - 1} "
                f"({ranges[at - 1].last}) plus one: expected ascending, merged ranges",
            )
