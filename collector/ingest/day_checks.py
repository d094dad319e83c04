"""The seal check: each refreshed ``kpi_daily`` row against its day's latest seal.

After a rollup refresh (:mod:`collector.ingest.rollups`) the refreshed device-days are checked
here and the outcome of each row (agent, device, provenance, local day) is recorded in the
registry's ``day_checks``:

- ``sealed_equal``: the latest seal of the day has a part for the row's provenance, and every
  figure agrees (``contract.daysums.compare``: integers, text and times exactly, float sums
  within the derived bound), the seq range agrees, and the Merkle root rebuilt from the stored
  raw windows equals the sealed one;
- ``sealed_different``: some figure does not; each is named with both values
  (``merkle_root`` when a window's content or seq changed, e.g. a window re-sent under a new
  seq with other content, which InfluxDB merges field by field into the point already
  stored). A sealed part with no stored row at all (the seal came before its windows) names
  ``windows`` (stored 0);
- ``unsealed``: no seal of the row's agent for that day, or its latest seal has no part of
  that provenance.

A held seal that no longer decodes (only a contract change could do that: seals are checked
when received) makes its agent's rows ``sealed_different`` naming ``seal``, logged as an
error, rather than stopping the refresher or passing the rows as unsealed.

The rebuild: every window field is stored (docs/storage.md), so each stored window gives back
the exact canonical bytes the agent signed and ledgered; leaves are taken in (seq, end, start)
order, the agent's ledger order (docs/wire-contract.md, "Day seal"). Nothing extra is stored
per window.

:func:`check_day` and :func:`checks_of_day` are pure; :class:`DayChecks` does the reads (the
registry's seals, the refreshed rows, the raw windows of sealed days) and the write.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from collector.ingest.registry_calls import IngestRegistry, RegistryCalls
from collector.ingest.stats import IngestStats
from collector.registry import (
    CheckOutcome,
    DayCheck,
    DaySealEntry,
    SealDifference,
    latest_versions,
)
from collector.store import DailyRow, DayKey, InfluxStore, WindowRecord, day_bounds
from contract import daysums, merkle, wire
from contract.days import zone

__all__ = ["DayChecks", "check_day", "checks_of_day", "stored_figures", "windows_root"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)

#: The figures a row holds as its own mapping or tuple rather than one value.
_NESTED = frozenset({"measured_windows", "overflowed"})


def stored_figures(row: DailyRow) -> dict[str, Any]:
    """A stored row's figures by ``contract.daysums.FIGURES`` name, as ``compare`` takes them."""
    figures = {name: getattr(row, name) for name in daysums.FIGURES if name not in _NESTED}
    figures["measured_windows"] = dict(row.measured_windows)
    figures["overflowed"] = tuple(row.overflowed)
    return figures


def _ms(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _window(record: WindowRecord) -> wire.KpiWindow:
    window = record.window
    if isinstance(window, wire.KpiWindow):
        return window
    raise TypeError("the store gives back windows as wire.KpiWindow")  # read, never received


def windows_root(windows: Sequence[WindowRecord]) -> str:
    """The RFC 6962 root (hex) over the windows' canonical bytes in (seq, end, start) order."""
    ordered = sorted(windows, key=lambda r: (r.seq, _ms(_window(r).end), _ms(_window(r).start)))
    leaves = [wire.canonical_bytes(_window(r).model_dump(mode="json")) for r in ordered]
    return merkle.root(leaves).hex()


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return wire.format_timestamp(value)
    if isinstance(value, tuple | list):
        return [_json_value(item) for item in value]
    return value


def _difference(field: str, stored: Any, sealed: Any) -> SealDifference:
    return SealDifference(field, _json_value(stored), _json_value(sealed))


def _seq_differences(
    part: wire.DaySealPart, windows: Sequence[WindowRecord]
) -> list[SealDifference]:
    stored = (min(r.seq for r in windows), max(r.seq for r in windows)) if windows else (None, None)
    return [
        _difference(name, held, sealed)
        for name, held, sealed in (
            ("seq_first", stored[0], part.seq_first),
            ("seq_last", stored[1], part.seq_last),
        )
        if held != sealed
    ]


def check_day(
    seal: DaySealEntry,
    part: wire.DaySealPart,
    row: DailyRow | None,
    windows: Sequence[WindowRecord],
    *,
    checked_at: dt.datetime,
) -> DayCheck:
    """The outcome of one sealed row: ``part`` of ``seal`` against the stored ``row`` (None:
    no row) and the stored raw ``windows`` of that row's series and day. No I/O."""
    differences: list[SealDifference] = []
    if row is None:
        differences.append(_difference("windows", 0, part.windows))
    else:
        differences += [
            _difference(d.field, d.stored, d.sealed)
            for d in daysums.compare(part, stored_figures(row))
        ]
    root = windows_root(windows) if windows else None
    if root != part.merkle_root:
        differences.append(_difference("merkle_root", root, part.merkle_root))
    differences += _seq_differences(part, windows)
    return DayCheck(
        agent_id=seal.agent_id,
        device=seal.device,
        provenance=part.provenance,
        day=seal.day,
        platform=seal.platform,
        enterprise=seal.enterprise,
        outcome="sealed_different" if differences else "sealed_equal",
        seal_sha256=seal.seal_sha256,
        differences=tuple(differences),
        root_checked=True,
        checked_at=checked_at,
        checked_by="refresh",
    )


def _unsealed(row: DailyRow, checked_at: dt.datetime) -> DayCheck:
    return _row_check(row, "unsealed", None, (), checked_at)


def _row_check(
    row: DailyRow,
    outcome: CheckOutcome,
    seal_sha256: str | None,
    differences: tuple[SealDifference, ...],
    checked_at: dt.datetime,
) -> DayCheck:
    """A check of ``row`` whose Merkle root was not rebuilt (no seal, or one unreadable)."""
    return DayCheck(
        agent_id=row.agent,
        device=row.device,
        provenance=row.provenance,
        day=row.day,
        platform=row.platform,
        enterprise=row.enterprise,
        outcome=outcome,
        seal_sha256=seal_sha256,
        differences=differences,
        root_checked=False,
        checked_at=checked_at,
        checked_by="refresh",
    )


def _unreadable(seal: DaySealEntry, error: str, row: DailyRow, checked_at: dt.datetime) -> DayCheck:
    # A held seal this collector cannot decode any more: never read as equal, never skipped.
    log.error("day seal %s of %s/%s %s cannot be read: %s", seal.seal_sha256[:16],
              seal.agent_id, seal.device, seal.day, error)  # fmt: skip
    unreadable = (SealDifference("seal", None, f"unreadable: {error}"),)
    return _row_check(row, "sealed_different", seal.seal_sha256, unreadable, checked_at)


def checks_of_day(
    seals: Sequence[DaySealEntry],
    rows: Sequence[DailyRow],
    windows: Sequence[WindowRecord],
    *,
    checked_at: dt.datetime,
) -> list[DayCheck]:
    """Every row outcome of one device-day: its seals (any versions: the latest of each
    agent counts), its stored rows and its raw windows (every agent and provenance). No I/O."""
    latest = {entry.agent_id: entry for entry in latest_versions(seals)}
    stored = {(row.agent, row.provenance): row for row in rows}
    series: dict[tuple[str, str], list[WindowRecord]] = defaultdict(list)
    for record in windows:
        series[(record.agent, record.window.provenance)].append(record)
    parts: dict[tuple[str, str], tuple[DaySealEntry, wire.DaySealPart]] = {}
    unreadable: dict[str, tuple[DaySealEntry, str]] = {}
    for agent, entry in latest.items():
        try:
            parts.update({(agent, p.provenance): (entry, p) for p in entry.message().parts})
        except wire.WireError as exc:  # kept when valid: only a contract change gets here
            unreadable[agent] = (entry, str(exc))
    checks = []
    for key in sorted(set(stored) | set(parts)):
        if key[0] in unreadable:
            checks.append(_unreadable(*unreadable[key[0]], stored[key], checked_at))
        elif key in parts:
            entry, part = parts[key]
            checks.append(
                check_day(entry, part, stored.get(key), series[key], checked_at=checked_at)
            )
        else:
            checks.append(_unsealed(stored[key], checked_at))
    return checks


class DayChecks:
    """Checks refreshed device-days against their seals and records the outcomes."""

    def __init__(
        self,
        registry: IngestRegistry,
        store: InfluxStore,
        calls: RegistryCalls,
        stats: IngestStats,
    ) -> None:
        self._registry = registry
        self._store = store
        self._calls = calls
        self._stats = stats

    async def check(self, keys: Sequence[DayKey]) -> None:
        """Check these refreshed device-days; raises StoreError if InfluxDB cannot be read (the
        caller leaves the days marked, so they are checked again)."""
        if not keys:
            return
        seals = await self._calls.run(
            self._registry.day_seals_of_days, [(k.enterprise, k.device, k.day) for k in keys]
        )
        by_day: dict[tuple[str, str, dt.date], list[DaySealEntry]] = defaultdict(list)
        for entry in seals:
            by_day[(entry.enterprise, entry.device, entry.day)].append(entry)
        rows = await self._rows(keys)
        now = dt.datetime.now(dt.UTC)
        checks: list[DayCheck] = []
        for key in keys:
            sealed = by_day.get((key.enterprise, key.device, key.day), [])
            # Raw windows only for a sealed day: an unsealed one needs its rows alone.
            windows = await self._windows(key) if sealed else []
            day_rows = rows.get((key.enterprise, key.device, key.day), [])
            checks += checks_of_day(sealed, day_rows, windows, checked_at=now)
        await self._calls.run(self._registry.put_day_checks, checks)
        for check in checks:
            self._stats.day_checks[check.outcome] += 1
            if check.outcome == "sealed_different":
                log.warning(
                    "%s/%s %s %s differs from its day seal: %s",
                    check.agent_id, check.device, check.provenance, check.day,
                    ", ".join(d.field for d in check.differences),
                )  # fmt: skip

    async def _rows(
        self, keys: Sequence[DayKey]
    ) -> Mapping[tuple[str, str, dt.date], list[DailyRow]]:
        # One read per (enterprise, day): the refreshed rows of every device at once.
        rows: dict[tuple[str, str, dt.date], list[DailyRow]] = defaultdict(list)
        for enterprise, day in sorted({(k.enterprise, k.day) for k in keys}):
            for row in await self._store.daily(enterprise, day, day):
                rows[(row.enterprise, row.device, row.day)].append(row)
        return rows

    async def _windows(self, key: DayKey) -> list[WindowRecord]:
        start, end = day_bounds(key.day, zone(key.tz))
        return await self._store.windows(key.enterprise, start, end, device=key.device)
