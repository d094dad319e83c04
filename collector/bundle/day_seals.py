"""The evidence gather's seal check: the daily rows in hand against their days' latest seals.

At every evidence gather (plan decisions D4 and D6), each ``kpi_daily`` row the evidence will
use is compared with the latest seal of its (agent, device, local day), sums only
(``contract.daysums.compare``: integers, text and times exactly, float sums within the
derived bound τ): no raw windows are read. This catches a row edited in InfluxDB after its
refresh, which marks nothing dirty for the refresh's full check. Then:

- the outcome of each row is recorded in the registry's ``day_checks`` (checked by
  ``evidence``), except that it never clears a raw-window difference (``merkle_root``, seq
  range) the refresh's full check found for the same seal (:func:`merged_check`): the outcome
  is ``sealed_different`` if either check differs;
- a ``sealed_equal`` row is replaced by the sealed figures (``contract.daysums.row_figures``),
  so every device-day figure in ``evidence.json`` is its seal's, bit for bit, and a verifier
  compares with ``==``; ``sealed_different`` and ``unsealed`` rows keep the stored figures, so
  a verifier names them. No row is dropped: the collector reports, the reviewer decides;
- a sealed part with no stored row (a sealed day the store lacks) is ``sealed_different``
  naming ``windows`` (stored 0), as the refresh check does.

:func:`check_rows` is pure; :func:`gather_seals` does the registry reads and the write, and
collects the bundle's proof files (``collector.proof.files``): the chain segments of the
enterprise's agents (D7), their keys, the outcomes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from collector.proof import BundleAgentKey, BundleDayCheck, BundleDaySeal, BundleSealDifference
from collector.registry import (
    AgentEntry,
    CheckOutcome,
    DayCheck,
    DaySealEntry,
    Registry,
    SealDifference,
)
from collector.registry.day_seals import merged_check
from collector.store import DailyRow
from contract import daysums, wire

__all__ = [
    "EnterpriseProofs",
    "SealOutcome",
    "SealedRows",
    "check_rows",
    "gather_seals",
    "proof_check",
]

log = logging.getLogger(__name__)

_RowKey = tuple[str, str, str, dt.date]  # agent, device, provenance, day


@dataclass(frozen=True, slots=True)
class SealOutcome:
    """One daily row's outcome as the evidence engine takes it
    (:class:`collector.evidence.inputs.SealCheckRecord`): the row, the outcome, the seal
    (hash and version; None when unsealed) and the differences."""

    agent_id: str
    device: str
    provenance: str
    day: dt.date
    outcome: CheckOutcome
    seal_sha256: str | None
    seal_version: int | None
    differences: tuple[SealDifference, ...]
    root_checked: bool


@dataclass(frozen=True, slots=True)
class SealedRows:
    """What the check gives: the rows with sealed figures where equal, the registry's records
    (merged with the held full checks) and the engine's outcomes, both by row."""

    rows: tuple[DailyRow, ...]
    checks: tuple[DayCheck, ...]
    outcomes: tuple[SealOutcome, ...]


@dataclass(frozen=True, slots=True)
class EnterpriseProofs:
    """An enterprise bundle's proof files, ready to write (``collector.proof.files``)."""

    enterprise: str
    seals: tuple[BundleDaySeal, ...]
    agents: tuple[BundleAgentKey, ...]
    checks: tuple[BundleDayCheck, ...]

    def counts(self) -> Mapping[str, int]:
        """Device-days by outcome: ``sealed_equal``, ``sealed_different``, ``unsealed``."""
        found = {"sealed_equal": 0, "sealed_different": 0, "unsealed": 0}
        for check in self.checks:
            found[check.outcome] += 1
        return found


def _json_figure(value: Any) -> Any:
    """A figure as the registry and the proof file hold it: times as wire text, lists."""
    if isinstance(value, dt.datetime):
        return wire.format_timestamp(value)
    if isinstance(value, tuple | list):
        return [_json_figure(item) for item in value]
    return value


def _row_figures(row: DailyRow) -> dict[str, Any]:
    figures = {name: getattr(row, name) for name in daysums.FIGURES}
    figures["measured_windows"] = dict(row.measured_windows)
    figures["overflowed"] = tuple(row.overflowed)
    return figures


def _sealed_row(row: DailyRow, part: wire.DaySealPart) -> DailyRow:
    """``row`` with the seal's figures: exactly the sealed sums, times and digests."""
    return replace(row, **daysums.row_figures(part))


@dataclass(frozen=True, slots=True)
class _Found:
    """One row key's seal part (None: unsealed) and its differences."""

    entry: DaySealEntry | None
    part: wire.DaySealPart | None
    differences: tuple[SealDifference, ...]


#: A latest seal and its part for one row key, or the error that keeps the seal unreadable.
_Sealed = tuple[DaySealEntry, wire.DaySealPart | str]


def _parts(
    latest: Sequence[DaySealEntry], decoded: Mapping[str, wire.DaySeal]
) -> dict[_RowKey, _Sealed]:
    """Each latest seal's parts by row key; an unreadable seal gives its day's stored rows
    (both provenances: :func:`check_rows` keeps only those with a row) the error."""
    parts: dict[_RowKey, _Sealed] = {}
    for entry in latest:
        try:
            seal = decoded.get(entry.seal_sha256) or entry.message()
            for part in seal.parts:
                parts[(entry.agent_id, entry.device, part.provenance, entry.day)] = (entry, part)
        except wire.WireError as exc:  # kept when valid: only a contract change gets here
            log.error("day seal %s of %s/%s %s cannot be read: %s", entry.seal_sha256[:16],
                      entry.agent_id, entry.device, entry.day, exc)  # fmt: skip
            for provenance in ("imported", "measured"):
                parts[(entry.agent_id, entry.device, provenance, entry.day)] = (entry, str(exc))
    return parts


def _compare(row: DailyRow | None, sealed: _Sealed | None) -> _Found:
    if sealed is None:
        return _Found(None, None, ())
    entry, part = sealed
    if isinstance(part, str):  # unreadable: never equal, never skipped
        return _Found(entry, None, (SealDifference("seal", None, f"unreadable: {part}"),))
    if row is None:
        return _Found(entry, part, (SealDifference("windows", 0, part.windows),))
    differences = tuple(
        SealDifference(d.field, _json_figure(d.stored), _json_figure(d.sealed))
        for d in daysums.compare(part, _row_figures(row))
    )
    return _Found(entry, part, differences)


def _day_check(key: _RowKey, row: DailyRow | None, found: _Found, at: dt.datetime) -> DayCheck:
    entry = found.entry
    outcome: CheckOutcome = (
        "unsealed" if entry is None else "sealed_different" if found.differences else "sealed_equal"
    )
    platform = row.platform if row is not None else entry.platform if entry else ""
    enterprise = row.enterprise if row is not None else entry.enterprise if entry else ""
    return DayCheck(
        agent_id=key[0],
        device=key[1],
        provenance=key[2],
        day=key[3],
        platform=platform,
        enterprise=enterprise,
        outcome=outcome,
        seal_sha256=None if entry is None else entry.seal_sha256,
        differences=found.differences,
        root_checked=False,
        checked_at=at,
        checked_by="evidence",
    )


def check_rows(
    rows: Sequence[DailyRow],
    latest: Sequence[DaySealEntry],
    held: Sequence[DayCheck],
    *,
    checked_at: dt.datetime,
    decoded: Mapping[str, wire.DaySeal] | None = None,
) -> SealedRows:
    """Check each row against the latest seal of its day (``latest``: one entry per agent,
    device and day) and merge with the ``held`` checks of the same rows. No I/O.

    Returns the rows in their order (sealed figures where equal), and per row key (every row,
    and every sealed part without a row) the registry's check and the engine's outcome.
    ``decoded``: seals already decoded, by hash (decoding is most of the cost: the gather
    decodes each seal of the bundle once).
    """
    by_key = {(r.agent, r.device, r.provenance, r.day): r for r in rows}
    parts = _parts(latest, decoded or {})
    held_by_key = {(c.agent_id, c.device, c.provenance, c.day): c for c in held}
    checks: list[DayCheck] = []
    outcomes: list[SealOutcome] = []
    sealed_rows: dict[_RowKey, DailyRow] = {}
    readable = {key for key, (_, part) in parts.items() if not isinstance(part, str)}
    for key in sorted(set(by_key) | readable):
        row, found = by_key.get(key), _compare(by_key.get(key), parts.get(key))
        check = merged_check(held_by_key.get(key), _day_check(key, row, found, checked_at))
        checks.append(check)
        version = None if found.entry is None else found.entry.version
        outcomes.append(_outcome(check, version))
        if row is not None and check.outcome == "sealed_equal" and found.part is not None:
            sealed_rows[key] = _sealed_row(row, found.part)
    substituted = tuple(sealed_rows.get((r.agent, r.device, r.provenance, r.day), r) for r in rows)
    return SealedRows(substituted, tuple(checks), tuple(outcomes))


def _outcome(check: DayCheck, version: int | None) -> SealOutcome:
    return SealOutcome(
        agent_id=check.agent_id,
        device=check.device,
        provenance=check.provenance,
        day=check.day,
        outcome=check.outcome,
        seal_sha256=check.seal_sha256,
        seal_version=version,
        differences=check.differences,
        root_checked=check.root_checked,
    )


def proof_check(outcome: SealOutcome) -> BundleDayCheck:
    """The line of ``day-checks.json`` for one outcome."""
    return BundleDayCheck(
        agent=outcome.agent_id,
        device=outcome.device,
        provenance="imported" if outcome.provenance == "imported" else "measured",
        day=outcome.day,
        outcome=outcome.outcome,
        seal_sha256=outcome.seal_sha256,
        differences=[
            BundleSealDifference(field=d.field, stored=d.stored, sealed=d.sealed)
            for d in outcome.differences
        ],
        root_checked=outcome.root_checked,
    )


def _agent_key(agent: AgentEntry) -> BundleAgentKey:
    revoked = agent.revoked_at.astimezone(dt.UTC) if agent.revoked_at else None
    return BundleAgentKey(
        agent=agent.agent_id,
        public_key=agent.public_key,
        devices=sorted(set(agent.devices)),
        added_at=agent.added_at.astimezone(dt.UTC),
        revoked_at=revoked,
    )


def _segments(
    registry: Registry, agents: Iterable[AgentEntry], latest: Sequence[DaySealEntry], since: dt.date
) -> list[BundleDaySeal]:
    """Every (agent, device)'s chain segment from the last seal before ``since`` (D7)."""
    devices = {(a.agent_id, device) for a in agents for device in a.devices}
    devices |= {(entry.agent_id, entry.device) for entry in latest}
    seals = []
    for agent_id, device in sorted(devices):
        for entry in registry.day_seal_segment(agent_id, device, since):
            try:
                seals.append(BundleDaySeal(entry.seal_sha256, entry.raw, entry.message()))
            except wire.WireError as exc:  # only a contract change gets here; its day says so
                log.error("day seal %s of %s/%s left out of the bundle, unreadable: %s",
                          entry.seal_sha256[:16], agent_id, device, exc)  # fmt: skip
    return seals


def _read_and_check(
    registry: Registry,
    platform_id: str,
    enterprise_id: str,
    span: tuple[dt.date, dt.date],
    rows: Sequence[DailyRow],
    agents: Sequence[AgentEntry],
) -> tuple[SealedRows, EnterpriseProofs]:
    latest = [
        entry
        for entry in registry.latest_day_seals(enterprise_id, *span)
        if entry.platform == platform_id
    ]
    held = [c for c in registry.day_checks(enterprise_id, *span) if c.platform == platform_id]
    seals = _segments(registry, agents, latest, span[0])
    decoded = {seal.sha256: seal.seal for seal in seals}
    checked = check_rows(rows, latest, held, checked_at=dt.datetime.now(dt.UTC), decoded=decoded)
    registry.put_day_checks(checked.checks)
    proofs = EnterpriseProofs(
        enterprise=enterprise_id,
        seals=tuple(seals),
        agents=tuple(_agent_key(agent) for agent in agents),
        checks=tuple(proof_check(outcome) for outcome in checked.outcomes),
    )
    return checked, proofs


async def gather_seals(
    registry: Registry,
    platform_id: str,
    enterprise_id: str,
    span: tuple[dt.date, dt.date],
    rows: Sequence[DailyRow],
    agents: Sequence[AgentEntry],
) -> tuple[SealedRows, EnterpriseProofs]:
    """Check ``rows`` (the enterprise's days ``span``, both included) against their seals,
    record the outcomes, and collect the bundle's proof files. Registry calls run in a worker
    thread. Raises what the registry raises (RegistryUnavailable)."""
    checked, proofs = await asyncio.to_thread(
        _read_and_check, registry, platform_id, enterprise_id, span, rows, agents
    )
    counts = proofs.counts()
    log.info(
        "seal check %s/%s: %d equal, %d different, %d unsealed; %d seals in the bundle",
        platform_id, enterprise_id, counts["sealed_equal"], counts["sealed_different"],
        counts["unsealed"], len(proofs.seals),
    )  # fmt: skip
    return checked, proofs
