"""One batch of seq records decided in memory: what each seq was, and the rows to write.

:class:`SeqBatch` starts from what the database holds for the batch's agents (the stored
content of the batch's seqs, each agent's highest seq, its open gaps), applies the seq rules to
the items in order, exactly as one item after the other would, and says what to write. No I/O:
:mod:`~collector.registry.sql.seqs` reads its inputs in three statements and writes its
outputs in a few batched ones, so a batch costs the same few round trips however many seqs it
holds (on PostgreSQL each statement is one, under the agents' advisory locks).

The rules (docs/wire-contract.md): a seq already stored is a duplicate (same SHA-256) or a
replay (another); a new seq above the highest opens a gap for the seqs skipped (seqs start at
1); a new seq below it shrinks, splits or closes the open gap that holds it, a closed gap
keeping the time its last seq arrived.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collector.registry.records import SeqOutcome

__all__ = ["Gap", "SeqBatch"]


@dataclass
class Gap:
    """An open (or, once its last seq came, closed) gap; ``gap_id`` None until inserted."""

    gap_id: int | None
    agent_id: str
    first_seq: int
    last_seq: int
    opened_at: str
    closed_at: str | None = None
    changed: bool = False


@dataclass
class SeqBatch:
    """The seq rules applied to one batch, from the stored state of its agents."""

    at: str
    #: (agent, seq) → SHA-256 of the content first stored for it.
    stored: dict[tuple[str, int], str]
    #: agent → highest seq recorded (absent: none yet).
    highest: dict[str, int]
    #: agent → its open gaps.
    gaps: dict[str, list[Gap]]
    new_rows: list[tuple[str, int, str, str]] = field(default_factory=list)
    #: (agent, seq) → [duplicates, replays] to add.
    counters: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    raised: set[str] = field(default_factory=set)

    def record(self, agent_id: str, seq: int, sha256: str) -> SeqOutcome:
        """Apply the rules to one item; say what it was."""
        first = self.stored.get((agent_id, seq))
        if first is not None:
            kind = 0 if first == sha256 else 1
            self.counters.setdefault((agent_id, seq), [0, 0])[kind] += 1
            return "duplicate" if kind == 0 else "replay"
        self.stored[(agent_id, seq)] = sha256
        self.new_rows.append((agent_id, seq, sha256, self.at))
        high = self.highest.get(agent_id, 0)
        if seq > high + 1:
            gap = Gap(None, agent_id, high + 1, seq - 1, self.at, changed=True)
            self.gaps.setdefault(agent_id, []).append(gap)
        if seq > high:
            self.highest[agent_id] = seq
            self.raised.add(agent_id)
        else:
            self._fill(agent_id, seq)
        return "new"

    def _fill(self, agent_id: str, seq: int) -> None:
        found = [
            g
            for g in self.gaps.get(agent_id, [])
            if g.closed_at is None and g.first_seq <= seq <= g.last_seq
        ]
        if not found:
            return
        gap = found[0]
        gap.changed = True
        if gap.first_seq == gap.last_seq:
            gap.closed_at = self.at
        elif seq == gap.first_seq:
            gap.first_seq = seq + 1
        elif seq == gap.last_seq:
            gap.last_seq = seq - 1
        else:
            rest = Gap(None, agent_id, seq + 1, gap.last_seq, gap.opened_at, changed=True)
            gap.last_seq = seq - 1
            self.gaps[agent_id].append(rest)

    def changed_gaps(self) -> tuple[list[Gap], list[Gap]]:
        """(gaps to insert, stored gaps to update), each in the order they arose."""
        every = [g for gaps in self.gaps.values() for g in gaps if g.changed]
        return [g for g in every if g.gap_id is None], [g for g in every if g.gap_id is not None]
