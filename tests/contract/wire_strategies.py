"""Hypothesis strategies for wire-contract messages, shared by the contract's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

from contract import wire
from contract.daysums import DayAccumulator, part_from

identifiers = st.from_regex(wire.IDENTIFIER_PATTERN, fullmatch=True)
# Window starts anywhere from 2000 to 2100, on whole milliseconds, as the wire carries them.
moments = st.integers(min_value=946_684_800_000, max_value=4_102_444_800_000).map(
    lambda ms: datetime.fromtimestamp(ms / 1000, UTC)
)
counts = st.integers(min_value=0, max_value=wire.MAX_COUNT)
digests = st.binary(min_size=1, max_size=64).map(wire.config_digest)


def _finite(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


@st.composite
def data_quality(draw: st.DrawFn, comm_loss_s: float, scheduled_s: float) -> wire.DataQuality:
    return wire.DataQuality(
        samples=draw(counts),
        missed_polls=draw(counts),
        bad_values=draw(counts),
        comm_loss_s=comm_loss_s,
        scheduled_comm_loss_s=draw(_finite(0.0, min(comm_loss_s, scheduled_s))),
        counter_resets=draw(counts),
        meter_resets=draw(counts),
        clock_jumps=draw(counts),
    )


@st.composite
def kpi_windows(draw: st.DrawFn) -> wire.KpiWindow:
    start = draw(moments)
    duration_ms = draw(st.integers(min_value=1, max_value=wire.MAX_WINDOW_S * 1000))
    duration_s = duration_ms / 1000
    # Split the window among the states and comm loss so they never add up to more than it.
    shares = draw(st.lists(_finite(0.0, 1.0), min_size=6, max_size=6))
    scale = duration_s / max(sum(shares), 1.0) * 0.999
    run_s, idle_s, down_s, off_s, stop_s, loss_s = (share * scale for share in shares)
    maybe = st.booleans()
    scheduled_s = draw(_finite(0.0, duration_s))
    idle = idle_s if draw(maybe) else None
    # Run time the polls may have missed lies in time held not running (absent is null).
    held_s = (idle or 0.0) + down_s + off_s + stop_s
    unsampled = draw(st.none() | _finite(0.0, held_s))
    planned_s = draw(_finite(0.0, duration_s))
    # The inferred part of the planned time lies in it (absent is null).
    inferred = draw(st.none() | _finite(0.0, planned_s))
    return wire.KpiWindow(
        device=draw(identifiers),
        start=start,
        end=start + timedelta(milliseconds=duration_ms),
        provenance=draw(st.sampled_from(["measured", "imported"])),
        partial=draw(st.booleans()),
        config_digest=draw(digests),
        scheduled_s=scheduled_s,
        planned_s=planned_s,
        run_s=run_s if draw(maybe) else None,
        idle_s=idle,
        down_s=down_s,
        off_s=off_s,
        planned_stop_s=stop_s,
        total_count=draw(st.none() | counts),
        good_count=draw(st.none() | counts),
        reject_count=draw(st.none() | counts),
        energy_kwh=draw(st.none() | _finite(0.0, 1e9)),
        unsampled_run_s=unsampled,
        inferred_planned_s=inferred,
        ideal_cycle_s=draw(st.none() | _finite(0.001, 3600.0)),
        quality=draw(data_quality(loss_s, scheduled_s)),
    )


@st.composite
def envelopes(draw: st.DrawFn, key: Ed25519PrivateKey) -> wire.Envelope:
    return wire.seal_envelope(
        platform=draw(identifiers),
        enterprise=draw(identifiers),
        agent=draw(identifiers),
        seq=draw(st.integers(min_value=1, max_value=wire.MAX_SEQ)),
        sent=draw(moments),
        records=draw(st.lists(kpi_windows(), min_size=1, max_size=4)),
        key=key,
    )


_ZONES = st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "UTC", "America/Argentina/Salta"])
_HASHES = st.binary(min_size=32, max_size=32).map(bytes.hex)


@st.composite
def day_seal_parts(
    draw: st.DrawFn, provenance: Literal["measured", "imported"], seq: int
) -> wire.DaySealPart:
    """A part of 1-4 generated windows of one device, ledgered from envelope ``seq`` on."""
    windows = draw(st.lists(kpi_windows(), min_size=1, max_size=4))
    accumulator = DayAccumulator()
    for window in sorted(windows, key=lambda w: (w.end, w.start)):
        accumulator.add(
            window.model_copy(update={"device": "press-1", "provenance": provenance}), seq
        )
        seq += draw(st.integers(min_value=0, max_value=3))
    return part_from(accumulator)


@st.composite
def day_seals(draw: st.DrawFn, key: Ed25519PrivateKey) -> wire.DaySeal:
    """A signed day seal of one or two generated parts; its chain fields as the rules want."""
    provenances: list[Literal["measured", "imported"]] = draw(
        st.sampled_from([["imported"], ["measured"], ["imported", "measured"]])
    )
    seq = draw(st.integers(min_value=1, max_value=10**9))
    parts = [draw(day_seal_parts(provenance, seq)) for provenance in provenances]
    version = draw(st.integers(min_value=1, max_value=5))
    index = draw(st.integers(min_value=1, max_value=10**6))
    return wire.seal_day_seal(
        platform=draw(identifiers),
        enterprise=draw(identifiers),
        agent=draw(identifiers),
        seq=max(part.seq_last for part in parts) + draw(st.integers(min_value=1, max_value=9)),
        sent=draw(moments),
        device="press-1",
        day=draw(moments).date(),
        tz=draw(_ZONES),
        version=version,
        supersedes=None if version == 1 else draw(_HASHES),
        index=index,
        prev=None if index == 1 else draw(_HASHES),
        dropped_windows=draw(st.integers(min_value=0, max_value=10**6)),
        parts=parts,
        key=key,
    )


seqs = st.integers(min_value=1, max_value=wire.MAX_SEQ)


@st.composite
def confirmations(draw: st.DrawFn, key: Ed25519PrivateKey) -> wire.Confirmation:
    """A signed delivery confirmation of a few seqs, some in runs, anywhere in the seq range;
    some of them refused (with one of two reasons), some confirmations refusals only."""
    starts = draw(st.lists(seqs, min_size=1, max_size=20))
    named = {seq + step for seq in starts for step in range(draw(st.integers(0, 3)))}
    named = {seq for seq in named | set(starts) if seq <= wire.MAX_SEQ}
    refused = draw(st.sets(st.sampled_from(sorted(named)), max_size=len(named)))
    reasons = st.sampled_from(["replay", "seal_conflict"])
    return wire.seal_confirmation(
        platform=draw(identifiers),
        enterprise=draw(identifiers),
        agent=draw(identifiers),
        sent=draw(moments),
        stored=wire.seq_ranges(named - refused),
        refused=wire.refusal_ranges((seq, draw(reasons)) for seq in sorted(refused)),
        key=key,
    )
