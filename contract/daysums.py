"""A device-day's sums, once: accumulated by the agent, compared by the collector and verifier.

The agent feeds each window it sends into a :class:`DayAccumulator` (one per device, local
day and provenance) and seals the :func:`part_from` it; the collector and the bundle
verifier turn a sealed part into a ``kpi_daily`` row's figures (:func:`row_figures`) and
compare a stored row with it (:func:`compare`).

Comparison rules (docs/wire-contract.md, "Day seal"):

- integers (counts, window counts, ``duration_ms``), digests, timestamps and the ideal cycle's
  min and max (which never round): exact;
- float sums: every term is the same double on both sides, but the agent adds in the order it
  sent the windows, InfluxDB in its own (per shard, then the shards' partial sums). Each order
  is a binary tree of n - 1 additions of non-negative terms whose partial sums are subset sums
  at most S, so (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §4.2)
  |Ŝ - S| <= γ(n-1)·S with γ(k) = k·u / (1 - k·u), u = 2**-53; and two orders differ by at
  most τ = 2γ/(1 - γ)·max(Ŝa, Ŝb) (:func:`float_tolerance`, exact in fractions). Adding
  non-negative doubles never rounds in the subnormal range, so the bound holds down to the
  smallest double. The store's ``duration_s`` sums terms each rounded once by ``/ 1000``
  against the seal's exact ``duration_ms / 1000``: γ(n) in place of γ(n-1).
"""

from __future__ import annotations

import functools
import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

import msgspec

from contract import merkle, quantities
from contract.wire import (
    MAX_COUNT,
    DaySealPart,
    DaySums,
    KpiWindow,
    ReceivedWindow,
    canonical_bytes,
    decode_window_compiled,
    parse_timestamp,
)

__all__ = [
    "FIGURES",
    "DayAccumulator",
    "Difference",
    "compare",
    "decode_record",
    "float_tolerance",
    "ideal_count_s",
    "part_from",
    "row_figures",
]

#: A window as the pydantic model or the compiled codec's Struct: the same values either way.
_AnyWindow = KpiWindow | ReceivedWindow
_UNIT_ROUNDOFF = Fraction(1, 2**53)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_LISTED_DIGESTS = 100

_FLOAT_SUMS = tuple(q.name for q in quantities.DAY_SUMS if q.kind == "float")
_INT_SUMS = tuple(q.name for q in quantities.DAY_SUMS if q.kind == "integer")
_QUALITY = frozenset(q.name for q in quantities.QUALITY_QUANTITIES)
#: The optional quantities whose measuring windows a part counts (the rollup's ``<name>_windows``).
_MEASURED = tuple(
    q.name for q in (*quantities.BASE_QUANTITIES, *quantities.REFERENCE) if q.optional
)
_SUM_FIGURES = tuple(
    "duration_s" if q.name == "duration_ms" else q.name for q in quantities.DAY_SUMS
)

#: The figures :func:`row_figures` gives, named as ``collector.store.DailyRow`` names them.
FIGURES: tuple[str, ...] = (
    "windows",
    "partial_windows",
    "config_digests",
    "first_start",
    "last_end",
    *_SUM_FIGURES,
    "ideal_cycle_s_min",
    "ideal_cycle_s_max",
    "config_digest_first",
    "config_digest_last",
    "measured_windows",
    "overflowed",
)
# A document's device-day carries no per-quantity window counts nor overflow names: compared
# only when the figures hold them.
_OPTIONAL_FIGURES = frozenset({"measured_windows", "overflowed"})
_FLOAT_FIGURES = frozenset((*_FLOAT_SUMS, "duration_s"))


def ideal_count_s(window: KpiWindow | ReceivedWindow) -> float | None:
    """The performance numerator: ideal cycle x the parts counted in observed time.

    Parts first counted after comm loss (``unobserved_count``) were made in time no state was
    known for, so they have no run time to be compared with (docs/kpi.md). One expression for
    agent, store and verifier, so each evaluates the identical IEEE product.
    """
    if window.ideal_cycle_s is None or window.total_count is None:
        return None
    return window.ideal_cycle_s * (window.total_count - (window.unobserved_count or 0))


def _ms(moment: datetime) -> int:
    delta = moment - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


@functools.lru_cache(maxsize=4096)
def _text_ms(text: str) -> int:
    """A wire timestamp's milliseconds since the epoch (times repeat: an edge's window bounds)."""
    return _ms(parse_timestamp(text))


_SORTED_ENCODER = msgspec.json.Encoder(order="sorted")


def decode_record(record: bytes) -> KpiWindow | ReceivedWindow:
    """The window ``record`` holds, if ``record`` is its canonical bytes; ValueError otherwise.

    As the collector reads windows (``contract.wire.decode_windows``): the compiled codec
    decodes and checks every type, range and cross-field rule, encodes the Struct again with
    sorted keys, and takes the record only if that gives its bytes back; a record it does not
    take (one holding a float below 1e-4 or ``-0.0``, which msgspec writes otherwise, or an
    invalid one) goes the exact way, the pydantic model and Python's canonical JSON, which
    accepts it or says what is wrong. Both ways accept the same records with the same values
    (``tests/contract/test_wire_codec.py``, ``tests/contract/test_daysums.py``).
    """
    window = decode_window_compiled(record)
    if window is not None:
        return window
    exact = KpiWindow.model_validate_json(record)
    if canonical_bytes(exact.model_dump(mode="json")) != record:
        raise ValueError("record is not a window's canonical bytes")
    return exact


def _bounds_ms(window: _AnyWindow) -> tuple[int, int]:
    if isinstance(window, KpiWindow):
        return _ms(window.start), _ms(window.end)
    return _text_ms(window.start), _text_ms(window.end)


#: How a day sum's term is read from a window, by name; ``duration_ms`` is the caller's.
_Term = Callable[[_AnyWindow], float | int | None]


def _term(name: str) -> _Term | None:
    if name in _QUALITY:
        return operator.attrgetter(f"quality.{name}")
    if name == "ideal_count_s":
        return ideal_count_s
    if name == "duration_ms":
        return None
    return operator.attrgetter(name)


_TERMS: tuple[tuple[str, _Term | None], ...] = tuple(
    (q.name, _term(q.name)) for q in quantities.DAY_SUMS
)
_MEASURED_GETTERS = tuple((name, operator.attrgetter(name)) for name in _MEASURED)


#: The plain attributes of a DayAccumulator's state, as to_json writes them.
_STATE = (
    "device",
    "provenance",
    "windows",
    "partial_windows",
    "first_start_ms",
    "last_end_ms",
    "first_end_ms",
    "config_digest_first",
    "config_digest_last",
    "seq_first",
    "seq_last",
    "sums",
    "measured",
    "ideal_cycle_s_min",
    "ideal_cycle_s_max",
)
_SUM_NAMES = tuple(q.name for q in quantities.DAY_SUMS)


class DayAccumulator:
    """The running figures of one (device, local day, provenance): O(log n) state.

    Windows must be added in ledger order, (seq, end, start) ascending: the Merkle leaves
    follow it (a late window, with a larger seq, only appends). Integer sums are exact Python
    ints (past int64 they become null in :func:`part_from`); float sums are added in this order.
    Between batches the agent keeps it as :meth:`to_json` (1.5 to 2 KB) and resumes it with
    :meth:`from_json`, so a late window or an import re-seals a day without its old windows.
    """

    def __init__(self) -> None:
        self.device: str | None = None
        self.provenance: Literal["measured", "imported"] | None = None
        self.windows = 0
        self.partial_windows = 0
        self.first_start_ms = 0
        self.last_end_ms = 0
        self.first_end_ms = 0
        self.config_digest_first = ""
        self.config_digest_last = ""
        self.seq_first = 0
        self.seq_last = 0
        self.config_digests: set[str] = set()
        self.sums: dict[str, float | int | None] = dict.fromkeys(
            (q.name for q in quantities.DAY_SUMS), None
        )
        self.measured: dict[str, int] = dict.fromkeys(_MEASURED, 0)
        self.ideal_cycle_s_min: float | None = None
        self.ideal_cycle_s_max: float | None = None
        self.frontier = merkle.Frontier()
        self._last_key: tuple[int, int, int] | None = None

    def to_json(self) -> bytes:
        """The running state as JSON, keys sorted: the agent keeps it between batches (a
        ``day_parts`` row, written for each part a batch changed, so msgspec writes it, about
        eight times faster than ``json.dumps``). Floats round-trip exactly (msgspec writes the
        shortest repr, though ``1e-05`` as ``0.00001``), ints are exact at any size; a
        non-finite float, which no bounded window can sum to, is a ValueError as in
        :func:`contract.wire.canonical_bytes` (msgspec would write it as null)."""
        state = {name: getattr(self, name) for name in _STATE}
        state["config_digests"] = sorted(self.config_digests)
        state["frontier"] = self.frontier.to_bytes().hex()
        state["last_key"] = list(self._last_key) if self._last_key is not None else None
        for value in (*self.sums.values(), self.ideal_cycle_s_min, self.ideal_cycle_s_max):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"a day accumulator's sum is not finite: {value}")
        return _SORTED_ENCODER.encode(state)

    @classmethod
    def from_json(cls, data: bytes) -> DayAccumulator:
        """The accumulator :meth:`to_json` wrote; ValueError saying what is wrong otherwise."""
        try:
            state = json.loads(data)
            accumulator = cls()
            for name in _STATE:
                setattr(accumulator, name, state[name])
            accumulator.config_digests = set(state["config_digests"])
            accumulator.frontier = merkle.Frontier.from_bytes(bytes.fromhex(state["frontier"]))
            if state["last_key"] is not None:
                seq, end_ms, start_ms = (int(value) for value in state["last_key"])
                accumulator._last_key = (seq, end_ms, start_ms)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a day accumulator's state: {exc}") from exc
        # A state kept by an agent before a quantity was added: no window so far measured it.
        for name in quantities.DAY_SUMS_ABSENT_IS_NULL:
            if isinstance(accumulator.sums, dict) and isinstance(accumulator.measured, dict):
                accumulator.sums.setdefault(name, None)
                accumulator.measured.setdefault(name, 0)
        if set(accumulator.sums) != set(_SUM_NAMES) or set(accumulator.measured) != set(_MEASURED):
            raise ValueError("not a day accumulator's state: its sums or counts are not ours")
        if accumulator.frontier.size != accumulator.windows:
            raise ValueError(
                f"not a day accumulator's state: {accumulator.windows} windows, "
                f"{accumulator.frontier.size} Merkle leaves"
            )
        return accumulator

    def add_record(self, record: bytes, seq: int) -> None:
        """Add a window given as its canonical bytes (the outbox's stored record).

        Raises ValueError if ``record`` is not the canonical bytes of a valid window
        (:func:`decode_record`), or if it is out of order or foreign.
        """
        self._add(decode_record(record), seq, record)

    def add(self, window: KpiWindow, seq: int) -> None:
        """Add a window carried under envelope ``seq``; ValueError if out of order or foreign."""
        self._add(window, seq, canonical_bytes(window.model_dump(mode="json")))

    def _add(self, window: _AnyWindow, seq: int, record: bytes) -> None:
        start_ms, end_ms = _bounds_ms(window)
        self._check_belongs(window, seq, end_ms, start_ms)
        if self.windows == 0:
            self.first_start_ms, self.last_end_ms, self.first_end_ms = start_ms, end_ms, end_ms
            self.config_digest_first = self.config_digest_last = window.config_digest
            self.seq_first = seq
        self.windows += 1
        self.partial_windows += window.partial
        self.first_start_ms = min(self.first_start_ms, start_ms)
        if end_ms < self.first_end_ms:  # FIRST by time: the earliest end, the first one added
            self.first_end_ms, self.config_digest_first = end_ms, window.config_digest
        if end_ms >= self.last_end_ms:  # LAST by time: a later write at one time wins
            self.last_end_ms, self.config_digest_last = end_ms, window.config_digest
        self.seq_first, self.seq_last = min(self.seq_first, seq), max(self.seq_last, seq)
        self.config_digests.add(window.config_digest)
        self._add_sums(window, end_ms - start_ms)
        self.frontier.append(record)

    def _check_belongs(self, window: _AnyWindow, seq: int, end_ms: int, start_ms: int) -> None:
        if self.windows and (window.device, window.provenance) != (self.device, self.provenance):
            raise ValueError(
                f"window of {window.device}/{window.provenance} added to the part of "
                f"{self.device}/{self.provenance}"
            )
        key = (seq, end_ms, start_ms)
        if self._last_key is not None and key < self._last_key:
            raise ValueError(
                f"window (seq {seq}, end {end_ms} ms) added after (seq {self._last_key[0]}, "
                f"end {self._last_key[1]} ms): a part's windows go in (seq, end, start) order"
            )
        self.device, self.provenance, self._last_key = window.device, window.provenance, key

    def _add_sums(self, window: _AnyWindow, duration_ms: int) -> None:
        sums = self.sums
        for name, term in _TERMS:
            value = duration_ms if term is None else term(window)
            if value is not None:
                total = sums[name]
                sums[name] = value if total is None else total + value
        measured = self.measured
        for name, getter in _MEASURED_GETTERS:
            measured[name] += getter(window) is not None
        cycle = window.ideal_cycle_s
        if cycle is not None:
            low, high = self.ideal_cycle_s_min, self.ideal_cycle_s_max
            self.ideal_cycle_s_min = cycle if low is None else min(low, cycle)
            self.ideal_cycle_s_max = cycle if high is None else max(high, cycle)


def part_from(accumulator: DayAccumulator) -> DaySealPart:
    """The seal part of what ``accumulator`` holds; ValueError if it holds no window."""
    if accumulator.windows == 0 or accumulator.provenance is None:
        raise ValueError("a day seal part needs at least one window")
    sums = dict(accumulator.sums)
    overflowed = [name for name in _INT_SUMS if (sums[name] or 0) > MAX_COUNT]
    for name in overflowed:
        sums[name] = None  # as the rollup writes a sum past int64 (rollup.py, _exact_sum)
    digests = sorted(accumulator.config_digests)
    return DaySealPart(
        provenance=accumulator.provenance,
        windows=accumulator.windows,
        partial_windows=accumulator.partial_windows,
        first_start=_from_ms(accumulator.first_start_ms),
        last_end=_from_ms(accumulator.last_end_ms),
        seq_first=accumulator.seq_first,
        seq_last=accumulator.seq_last,
        config_digest_first=accumulator.config_digest_first,
        config_digest_last=accumulator.config_digest_last,
        config_digest_count=len(digests),
        config_digests=digests[:_MAX_LISTED_DIGESTS],
        sums=DaySums.model_validate(sums),
        measured_windows=dict(accumulator.measured),
        ideal_cycle_s_min=accumulator.ideal_cycle_s_min,
        ideal_cycle_s_max=accumulator.ideal_cycle_s_max,
        overflowed=overflowed,
        merkle_root=accumulator.frontier.root().hex(),
    )


def row_figures(part: DaySealPart) -> dict[str, Any]:
    """The ``kpi_daily`` row a sealed part stands for, by :data:`FIGURES` name.

    Applies the rollup's rules: ``duration_s = duration_ms / 1000``; ``ideal_good_s`` is null
    when fewer windows carried it than carried ``good_count`` (a partial sum is no sum,
    docs/evidence-method.md §1); ``config_digests`` is the count of distinct digests.
    """
    sums = part.sums.by_name()
    figures: dict[str, Any] = {
        "windows": part.windows,
        "partial_windows": part.partial_windows,
        "config_digests": part.config_digest_count,
        "first_start": part.first_start,
        "last_end": part.last_end,
    }
    for name in quantities.DAY_SUMS:
        if name.name == "duration_ms":
            figures["duration_s"] = part.sums.duration_ms / 1000
        else:
            figures[name.name] = sums[name.name]
    measured = part.measured_windows
    if measured["ideal_good_s"] < measured["good_count"]:
        figures["ideal_good_s"] = None
    figures["ideal_cycle_s_min"] = part.ideal_cycle_s_min
    figures["ideal_cycle_s_max"] = part.ideal_cycle_s_max
    figures["config_digest_first"] = part.config_digest_first
    figures["config_digest_last"] = part.config_digest_last
    figures["measured_windows"] = dict(measured)
    figures["overflowed"] = tuple(part.overflowed)
    return figures


def float_tolerance(n: int, a: float, b: float) -> Fraction:
    """τ = 2γ(n-1)/(1 - γ(n-1))·max(|a|, |b|): how far two summation orders of n terms may land.

    ``n``: the number of terms (a part's windows); pass n + 1 for a sum of terms each rounded
    once more (the store's ``duration_s``). Exact (a Fraction); 0 for one term. Raises
    ValueError for n < 1 or a bound past 1 (n beyond 2**52).
    """
    if n < 1:
        raise ValueError(f"a sum of {n} terms")
    k = n - 1
    if k * _UNIT_ROUNDOFF >= Fraction(1, 2):
        raise ValueError(f"{n} terms: the rounding bound no longer holds")
    gamma = k * _UNIT_ROUNDOFF / (1 - k * _UNIT_ROUNDOFF)
    return 2 * gamma / (1 - gamma) * max(abs(Fraction(a)), abs(Fraction(b)))


@dataclass(frozen=True, slots=True)
class Difference:
    """One figure where a stored row and its seal disagree: its name and both values."""

    field: str
    stored: Any
    sealed: Any


def _same(name: str, stored: Any, sealed: Any, windows: int) -> bool:
    if name == "overflowed":
        return bool(tuple(stored or ()) == sealed)
    if stored is None or sealed is None or name not in _FLOAT_FIGURES:
        return bool(stored == sealed)
    if not isinstance(stored, int | float) or isinstance(stored, bool):
        return False
    if stored == sealed:  # within any bound: skip the exact (Fraction) arithmetic, the cost
        return True
    n = windows + 1 if name == "duration_s" else windows
    return abs(Fraction(stored) - Fraction(sealed)) <= float_tolerance(n, stored, sealed)


def compare(part: DaySealPart, figures: Mapping[str, Any]) -> list[Difference]:
    """Every figure of ``figures`` (a stored row, by :data:`FIGURES` name) its seal contradicts.

    Integers, text and times must be equal, float sums within :func:`float_tolerance` of the
    part's window count. ``measured_windows`` and ``overflowed`` are compared when present
    (a per-quantity window count is named ``<name>_windows``, as the rollup stores it).
    Raises KeyError naming any other figure missing from ``figures``.
    """
    sealed = row_figures(part)
    differences: list[Difference] = []
    for name in FIGURES:
        if name not in figures:
            if name in _OPTIONAL_FIGURES:
                continue
            raise KeyError(f"the stored figures have no {name!r}")
        if name == "measured_windows":
            stored_counts: Mapping[str, Any] = figures[name]
            differences += [
                Difference(f"{quantity}_windows", stored_counts.get(quantity), count)
                for quantity, count in sealed[name].items()
                if stored_counts.get(quantity) != count
            ]
        elif not _same(name, figures[name], sealed[name], part.windows):
            differences.append(Difference(name, figures[name], sealed[name]))
    return differences
