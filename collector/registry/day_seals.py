"""Day seals as the registry keeps them, and the outcome of checking a daily row against one.

A day seal (``contract.wire.DaySeal``, docs/wire-contract.md "Day seal") is kept exactly as
received, append-only: every version of every day, named by its hash
(``contract.wire.day_seal_sha256``: SHA-256 of the published bytes, ``sig`` included). Per
(agent, device) the seals form a chain by ``chain_index``; one index holds one seal, so the
same index with other bytes is a conflict (quarantined ``seal_conflict`` by the ingest).

A :class:`DayCheck` is the collector's judgement of one ``kpi_daily`` row (agent, device,
provenance, local day) against the latest seal of that day: ``sealed_equal``,
``sealed_different`` (with the :class:`SealDifference` of each figure) or ``unsealed``. It is
a cache of a judgement that can be recomputed at any time, so it is upserted, not appended;
except that a sums-only check (an evidence gather's) never clears what a full check (the
rollup refresh's, which rebuilds the windows' Merkle root) found wrong with the raw windows
of the same seal (:func:`merged_check`).

The tables are :mod:`collector.registry.sql.day_seals`'s.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from contract import wire

__all__ = [
    "CHECKERS",
    "CHECK_OUTCOMES",
    "CheckOutcome",
    "Checker",
    "DayCheck",
    "DaySealEntry",
    "SealDifference",
    "SealStored",
    "SealStoredOutcome",
    "differences_from_json",
    "differences_json",
    "latest_versions",
    "merged_check",
    "seal_order",
]

#: What checking a daily row against its day's latest seal found.
CheckOutcome = Literal["sealed_equal", "sealed_different", "unsealed"]
CHECK_OUTCOMES: tuple[str, ...] = get_args(CheckOutcome)
#: Who checked: the rollup refresh (full check, raw windows and Merkle root) or an evidence
#: gather (sums only, the rows in hand).
Checker = Literal["refresh", "evidence"]
CHECKERS: tuple[str, ...] = get_args(Checker)
#: What storing a received seal found: a seal not held before, the same bytes again (an MQTT
#: re-delivery), or another seal already at its (agent, device, chain index).
SealStoredOutcome = Literal["new", "duplicate", "conflict"]


@dataclass(frozen=True, slots=True)
class SealStored:
    """What :meth:`Registry.add_day_seal` did; ``held_sha256`` is the seal already at the
    index on a conflict (else the seal's own hash)."""

    outcome: SealStoredOutcome
    seal_sha256: str
    held_sha256: str


@dataclass(frozen=True, slots=True)
class DaySealEntry:
    """One received day seal: its identity, place in the chain, and its exact bytes."""

    seal_sha256: str
    agent_id: str
    platform: str
    enterprise: str
    device: str
    day: dt.date
    tz: str
    version: int
    chain_index: int
    prev_sha256: str | None
    supersedes_sha256: str | None
    seq: int
    received_at: dt.datetime
    raw: bytes

    def message(self) -> wire.DaySeal:
        """The seal decoded from its stored bytes (they were valid when received)."""
        return wire.decode_day_seal(self.raw)


@dataclass(frozen=True, slots=True)
class SealDifference:
    """One figure where a stored row and its seal disagree (``merkle_root``, ``run_s``, ...).

    Values are JSON scalars: times as wire timestamps, a missing row's figures as 0 windows.
    """

    field: str
    stored: Any
    sealed: Any


@dataclass(frozen=True, slots=True)
class DayCheck:
    """The outcome for one ``kpi_daily`` row: (agent, device, provenance, local day).

    ``seal_sha256`` names the seal checked against (None when ``unsealed``); ``root_checked``
    says whether the windows' Merkle root was rebuilt (the refresh check) or only the sums
    compared (an evidence gather).
    """

    agent_id: str
    device: str
    provenance: str
    day: dt.date
    platform: str
    enterprise: str
    outcome: CheckOutcome
    seal_sha256: str | None
    differences: tuple[SealDifference, ...]
    root_checked: bool
    checked_at: dt.datetime
    checked_by: Checker


def _scalar(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return wire.format_timestamp(value)
    if isinstance(value, tuple | list):
        return [_scalar(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _scalar(item) for key, item in value.items()}
    return value


def differences_json(differences: tuple[SealDifference, ...]) -> str:
    """The stored text of ``differences``: ``[{field, stored, sealed}]`` in order."""
    rows = [
        {"field": d.field, "stored": _scalar(d.stored), "sealed": _scalar(d.sealed)}
        for d in differences
    ]
    return json.dumps(rows, ensure_ascii=False, sort_keys=True, allow_nan=False)


def differences_from_json(text: str) -> tuple[SealDifference, ...]:
    """Inverse of :func:`differences_json` (times stay wire text)."""
    return tuple(
        SealDifference(str(row["field"]), row["stored"], row["sealed"]) for row in json.loads(text)
    )


def seal_order(entry: DaySealEntry) -> tuple[str, str, dt.date, int, int]:
    """Sort key: (agent, device, day, version, chain index)."""
    return (entry.agent_id, entry.device, entry.day, entry.version, entry.chain_index)


def latest_versions(entries: Iterable[DaySealEntry]) -> list[DaySealEntry]:
    """The highest version of each (agent, device, day) (the later index if two claim one
    version), by (agent, device, day)."""
    best: dict[tuple[str, str, dt.date], DaySealEntry] = {}
    for entry in sorted(entries, key=seal_order):
        best[(entry.agent_id, entry.device, entry.day)] = entry
    return [best[key] for key in sorted(best)]


#: The differences only a full check can see: they come from the raw windows, not the row.
_RAW_FIELDS = frozenset({"merkle_root", "seq_first", "seq_last"})


def merged_check(held: DayCheck | None, new: DayCheck) -> DayCheck:
    """What to record when ``new`` replaces ``held`` (the row's recorded check, if any).

    A full check (``root_checked``) always replaces. A sums-only check of the same seal keeps
    the raw-window differences (``merkle_root``, ``seq_first``, ``seq_last``) the held full
    check found: the outcome stays ``sealed_different`` if either check differs.
    """
    if new.root_checked or held is None or not held.root_checked:
        return new
    if held.seal_sha256 != new.seal_sha256 or held.outcome != "sealed_different":
        return new
    named = {d.field for d in new.differences}
    kept = tuple(d for d in held.differences if d.field in _RAW_FIELDS and d.field not in named)
    if not kept:
        return new
    return replace(
        new, outcome="sealed_different", differences=new.differences + kept, root_checked=True
    )
