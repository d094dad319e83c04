"""Day seals and their checks as the ingest makes them, for the pages' and the feed's tests.

Seals are signed as an agent signs them (tests/collector/seal_helpers.py: parts computed with
``contract.daysums`` from the windows the test stored), kept with the registry's own call, and
checked by the ingest's own :class:`~collector.ingest.day_checks.DayChecks` against the rows
and raw windows of a real influxd: no outcome is written by hand.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.ingest.day_checks import DayChecks
from collector.ingest.registry_calls import RegistryCalls
from collector.ingest.stats import IngestStats
from collector.registry import Registry
from collector.store import DayKey, InfluxStore, WindowRecord
from contract import wire
from contract.days import day_of, zone
from tests.collector.seal_helpers import SealChain

__all__ = ["ENERGY_ADDED_KWH", "seal_and_check"]

#: What the seal of the "different" day says one window measured beyond what was stored.
ENERGY_ADDED_KWH = 0.5

_Series = tuple[str, str, str, str, dt.date]  # platform, enterprise, agent, device, day


def _kpi(rec: WindowRecord) -> wire.KpiWindow:
    if not isinstance(rec.window, wire.KpiWindow):
        raise TypeError("the tests store windows as wire.KpiWindow")
    return rec.window


def _by_day(records: Iterable[WindowRecord], tz: str) -> dict[_Series, list[WindowRecord]]:
    days: dict[_Series, list[WindowRecord]] = defaultdict(list)
    for rec in records:
        window = _kpi(rec)
        day = day_of(window.end, zone(tz))
        days[(rec.platform, rec.enterprise, rec.agent, window.device, day)].append(rec)
    return days


def _sealed_windows(
    records: Sequence[WindowRecord], different: bool
) -> list[tuple[int, wire.KpiWindow]]:
    pairs = []
    for number, rec in enumerate(records):
        window = _kpi(rec)
        if different and number == 0 and window.energy_kwh is not None:
            window = window.model_copy(update={"energy_kwh": window.energy_kwh + ENERGY_ADDED_KWH})
        pairs.append((rec.seq, window))
    return pairs


async def seal_and_check(
    store: InfluxStore,
    registry: Registry,
    records: Sequence[WindowRecord],
    keys: dict[str, Ed25519PrivateKey],
    *,
    tz: str,
    different: set[tuple[str, dt.date]],
    unsealed: set[tuple[str, dt.date]],
    now: dt.datetime,
) -> None:
    """Seal each (agent, device, day) of the stored ``records`` with its agent's key in
    ``keys`` (every device-day but those in ``unsealed``, by (device, day)); the seal of each
    device-day in ``different`` counts ``ENERGY_ADDED_KWH`` more in its first window than was
    stored. Then run the ingest's check over every device-day.
    """
    chains: dict[tuple[str, str], SealChain] = {}
    day_keys = []
    seq = 10_000
    for (platform, enterprise, agent, device, day), day_records in sorted(
        _by_day(records, tz).items()
    ):
        day_keys.append(DayKey(enterprise, device, day, tz))
        if (device, day) in unsealed:
            continue
        chain = chains.setdefault(
            (agent, device), SealChain(keys[agent], platform, enterprise, agent, device)
        )
        seq += 1
        pairs = _sealed_windows(day_records, (device, day) in different)
        raw = chain.seal(day, pairs, seq=seq, tz=tz)
        registry.add_day_seal(wire.decode_day_seal(raw), raw, received_at=now)
    calls = RegistryCalls(IngestStats())
    try:
        await DayChecks(registry, store, calls, IngestStats()).check(day_keys)
    finally:
        calls.shutdown()
