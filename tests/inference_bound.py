"""The bound on inferred (or sampled) state times against the truth, as docs/kpi.md derives it.

docs/kpi.md, "Inferred state", "How close the inferred times are": each true change of the class
a source can see is inferred late by ``e`` in ``[(m - 1) p, B)``, ``B = m p + lambda + r`` with
``m = max(1, ceil(D / p))`` the polls in a row that adopt a new state (``D`` the dwell, ``p`` the
poll interval, ``lambda`` the source's lag, ``r`` an inrush that puts the reading in another
class), plus ``m p`` when ``(m - 1) p < r`` (``m`` polls fit in the inrush: a wrong state
confirmed inside it is corrected ``m`` polls later). A state code read every poll is the case
``D = 0, r = 0``: ``B = p + lambda``. Per window the error of each class is at most
``B x K(w)``, ``K(w)`` the true changes at times in ``[w.start - B, w.end)``; over a period it is
``N_spells x (p + lambda + r)`` plus the spells too short to be surely seen plus ``B`` at each
end. The agent-only test (tests/agent/test_inference_sim.py) and the end-to-end shift test
(tests/test_shift_accuracy.py) both take their bounds from here, so there is one derivation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Change",
    "CounterBound",
    "LagBound",
    "Spell",
    "changes_near",
    "counter_bound_s",
    "period_error_bound",
    "spells",
]


@dataclass(frozen=True)
class Change:
    """A true change of the class a source can see, at plant time ``ts``."""

    ts: float
    from_class: str
    to_class: str


@dataclass(frozen=True)
class Spell:
    """A stretch ``[start, end)`` of plant time in one true class."""

    start: float
    end: float
    seen_class: str

    @property
    def length_s(self) -> float:
        """Its length in plant seconds."""
        return self.end - self.start


@dataclass(frozen=True)
class LagBound:
    """How late a change of state is seen: poll ``p``, dwell ``D``, lag ``lambda``, inrush ``r``.

    All in plant seconds; ``dwell_s = 0`` and ``inrush_s = 0`` for a state code.
    """

    poll_s: float
    dwell_s: float = 0.0
    lag_s: float = 0.0
    inrush_s: float = 0.0

    @property
    def dwell_polls(self) -> int:
        """``m = max(1, ceil(D / p))``: the polls in a row that must see a new state (each
        stands for the poll interval after it, as sample and hold counts it)."""
        return max(1, math.ceil(self.dwell_s / self.poll_s))

    @property
    def per_change_s(self) -> float:
        """``B``: each change is seen less than this late."""
        polls = self.dwell_polls
        bound_s = polls * self.poll_s + self.lag_s + self.inrush_s
        if self.inrush_s > 0 and (polls - 1) * self.poll_s < self.inrush_s:
            bound_s += polls * self.poll_s  # confirmed in the inrush, undone m polls later
        return bound_s

    @property
    def per_spell_s(self) -> float:
        """``p + lambda + r``: a seen spell's length is off by less than this."""
        return self.poll_s + self.lag_s + self.inrush_s

    @property
    def unseen_below_s(self) -> float:
        """``m p``: a spell shorter than this may hold fewer than ``m`` polls, and not be seen."""
        return self.dwell_polls * self.poll_s


def counter_bound_s(within_s: float, poll_s: float, lag_s: float = 0.0) -> float:
    """``B = W + 2 p + lambda`` for counter activity (``W`` = within_cycles x ideal cycle, at
    least one cycle): running is lost at the first poll more than ``W`` after the poll that saw
    the last part, and seen ``H = W - c_i`` after the poll that saw the first one, at most
    ``c + p + ceil(H / p) p`` after the start, which is within ``W + 2 p`` while the machine's
    cycle ``c`` is no longer than its ideal cycle (:class:`CounterBound` adds the rest)."""
    return within_s + 2 * poll_s + lag_s


@dataclass(frozen=True)
class CounterBound:
    """Counter activity's bound (docs/kpi.md): ``W`` within, ``p`` poll, ``c`` the machine's
    cycle (the longest it draws), ``c_i`` its ideal cycle, ``lambda`` lag; the start of a
    spell held ``H = W - c_i`` after the poll that saw its first part."""

    within_s: float
    poll_s: float
    cycle_s: float
    ideal_cycle_s: float
    lag_s: float = 0.0

    @property
    def hold_s(self) -> float:
        """``H``, as the agent holds it (never below 0)."""
        return max(0.0, self.within_s - self.ideal_cycle_s)

    @property
    def per_change_s(self) -> float:
        """``B``: entry late by under ``c + p + ceil(H / p) p``, exit by under ``W + 2 p``."""
        entry = self.cycle_s + self.poll_s + math.ceil(self.hold_s / self.poll_s) * self.poll_s
        return max(entry, self.within_s + 2 * self.poll_s) + self.lag_s

    @property
    def per_spell_s(self) -> float:
        """A seen spell's length is off by under this: exit late by (W - c, W + 2 p), entry by
        (H, c + 2 p + H), so its length by (W - H - 2 c - 2 p, W - H + 2 p), with W - H = c_i
        (before the hold, W - H was W: every spell about W - c too long)."""
        seen = self.within_s - self.hold_s
        return max(2 * self.cycle_s + 2 * self.poll_s - seen, seen + 2 * self.poll_s)

    @property
    def unseen_below_s(self) -> float:
        """A stretch between parts shorter than ``W + 2 p`` may be seen running throughout."""
        return self.within_s + 2 * self.poll_s


def changes_near(changes: Sequence[Change], start: float, end: float, bound_s: float) -> int:
    """``K``: the changes at times in ``[start - bound_s, end)`` (1 s of slack before: the
    agent-only test dates a change to the whole second after it)."""
    return sum(1 for change in changes if start - bound_s - 1 <= change.ts < end)


def spells(changes: Sequence[Change], start: float, end: float) -> list[Spell]:
    """The true spells of ``[start, end)`` cut by ``changes`` (the first change's ``from_class``
    is the class at ``start``; raises ValueError when there is no change to say it)."""
    if not changes:
        raise ValueError("no change: the class at the start is unknown")
    edges = [start, *(c.ts for c in changes if start < c.ts < end), end]
    inside = [c for c in changes if start < c.ts < end]
    before = [c for c in changes if c.ts <= start]
    first = before[-1].to_class if before else changes[0].from_class
    classes = [first, *(c.to_class for c in inside)]
    return [Spell(a, b, s) for a, b, s in zip(edges[:-1], edges[1:], classes, strict=True)]


def period_error_bound(
    bound: LagBound | CounterBound, period: Sequence[Spell], classes: Iterable[str]
) -> Mapping[str, float]:
    """Per class of ``classes``, the most a period's summed inferred time may differ from the truth.

    ``N_spells(s) x (p + lambda + r)`` for the spells of ``s`` long enough to be seen, plus the
    length of every spell too short to be surely seen (its time went to a neighbour), plus
    ``B`` at each end of the period.
    """
    unseen_s = sum(s.length_s for s in period if s.length_s < bound.unseen_below_s)
    return {
        name: sum(
            bound.per_spell_s
            for s in period
            if s.seen_class == name and s.length_s >= bound.unseen_below_s
        )
        + unseen_s
        + 2 * bound.per_change_s
        for name in classes
    }
