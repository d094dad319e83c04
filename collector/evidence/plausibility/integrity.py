"""Checks on what the collector saw of the enterprise's agents: seqs, quarantine, clocks,
and the device-days against the agents' day seals.

Thresholds: docs/evidence-method.md §10.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from collector.evidence.document import FlagDoc, Severity
from collector.evidence.inputs import SealCheckRecord
from collector.evidence.plausibility.common import FlagInputs, flag

__all__ = [
    "SEQ_SERIOUS_SHARE",
    "SERIOUS_QUARANTINE_REASONS",
    "clock_jumps",
    "day_seal_differs",
    "device_days_unsealed",
    "quarantined_messages",
    "seq_gaps",
]

#: Missing seqs above this share of an agent's highest seq are serious: more than one batch in
#: a hundred never arrived, so the sums may lack whole stretches of windows.
SEQ_SERIOUS_SHARE = 0.01
#: Quarantine reasons that mean someone sent data as the enterprise's agent that the registry
#: cannot accept as its: a signature that does not verify, a seq reused with other content, a
#: topic that lies about who sent it, a revoked key, an agent id nobody registered.
SERIOUS_QUARANTINE_REASONS = frozenset(
    {"bad_signature", "replay", "identity_mismatch", "revoked_key", "unknown_agent"}
)


def seq_gaps(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``seq_gap``: per agent, seqs the collector never received (open gaps)."""
    missing: dict[str, list[int]] = defaultdict(list)
    for gap in inputs.seq_gaps:
        if gap.closed_at is None:
            missing[gap.agent_id].append(gap.missing)
    for agent, counts in sorted(missing.items()):
        highest = inputs.highest_seqs.get(agent)
        share = sum(counts) / highest if highest else None
        serious = share is None or share > SEQ_SERIOUS_SHARE
        yield flag(
            "seq_gap",
            "serious" if serious else "warning",
            {
                "agent": agent,
                "open_gaps": len(counts),
                "missing_seqs": sum(counts),
                "highest_seq": highest,
                "missing_share": share,
            },
        )


def quarantined_messages(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``quarantined_messages``: per agent and reason, messages the collector rejected."""
    for agent, reasons in sorted(inputs.quarantined.items()):
        for reason, count in sorted(reasons.items()):
            severity: Severity = "serious" if reason in SERIOUS_QUARANTINE_REASONS else "warning"
            yield flag(
                "quarantined_messages",
                severity,
                {"agent": agent, "reason": reason, "messages": count},
            )


def clock_jumps(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``clock_jump``: per device, days on which its agent saw the clock step."""
    days: dict[str, dict[str, int]] = defaultdict(dict)
    for row in inputs.rows:
        if row.clock_jumps:
            per_day = days[row.device]
            key = row.day.isoformat()
            per_day[key] = per_day.get(key, 0) + row.clock_jumps
    for device, per_day in sorted(days.items()):
        rows = [row for row in inputs.rows if row.device == device and row.clock_jumps]
        yield flag(
            "clock_jump",
            "warning",
            {"jumps": sum(per_day.values()), "days": len(per_day)},
            device=device,
            days=[row.day for row in rows],
        )


def _by_device(inputs: FlagInputs, outcome: str) -> dict[tuple[str, str], list[SealCheckRecord]]:
    found: dict[tuple[str, str], list[SealCheckRecord]] = defaultdict(list)
    for check in inputs.seal_checks or ():
        if check.outcome == outcome:
            found[(check.agent_id, check.device)].append(check)
    return found


def _days(checks: list[SealCheckRecord]) -> list[date]:
    return [check.day for check in checks]


def day_seal_differs(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``day_seal_differs`` (serious): per agent and device, device-days whose stored row is
    not what the agent sealed (an edited or lost row, a window re-sent with other content), and
    the figures that differ. The day stays in the evidence with its stored figures."""
    for (agent, device), checks in sorted(_by_device(inputs, "sealed_different").items()):
        fields = sorted({d.field for check in checks for d in check.differences})
        yield flag(
            "day_seal_differs",
            "serious",
            {"agent": agent, "device_days": len(checks), "fields": ", ".join(fields)},
            device=device,
            days=_days(checks),
        )


def device_days_unsealed(inputs: FlagInputs) -> Iterator[FlagDoc]:
    """``device_days_unsealed`` (warning): per agent and device, device-days no seal of the
    agent covers (an agent that predates seals, a day not yet closed, a seal never received):
    their figures rest on the collector's word alone."""
    for (agent, device), checks in sorted(_by_device(inputs, "unsealed").items()):
        yield flag(
            "device_days_unsealed",
            "warning",
            {"agent": agent, "device_days": len(checks)},
            device=device,
            days=_days(checks),
        )
