"""The rollup queue: the days written to, marked dirty, and their daily rollups refreshed.

After each refresh the refreshed rows are checked against their day seals
(:mod:`collector.ingest.day_checks`); a day whose check cannot read InfluxDB stays marked.

Off the acknowledgement path: a write marks the device-days its windows fall in, durably in
the registry before the ack (:meth:`RollupQueue.mark_days`), so a refresh owed is never
forgotten, even when the replica stops; a background task refreshes the rollups of the marked
days every ``rollup_every_s`` and clears their marks (any replica may do it). Each mark keeps
the earliest window end written since the day's last refresh: a day whose stored rows end
before it gets only its newer windows added (:mod:`collector.store.rollup_merge`), in steady
flow the one window written since; a late window or a rewrite recomputes the day whole.

Which marked days a round refreshes is :class:`RollupDebounce`'s choice. Recomputing a day
re-reads all its raw windows (up to 1,440 per device), so a day that is marked again on every
round - a backlog being drained after an outage, many windows per device per second - used to
be re-read every round (2 s): measured in ``bench/collector_ingest.py``, the refreshes then
cost influxd more CPU than the writes themselves. A day is now refreshed once it was not
marked again for a whole round, or once it has kept changing for ``max_lag_s``.

In steady flow (a window per device per minute) a day is marked once and refreshed on the
round after next: rollups lag their windows by at most two rounds. While a backlog drains, each
day is re-read once per ``max_lag_s`` instead of once per round. The debounce is pure: no I/O,
the caller's clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Sequence

from collector.ingest.day_checks import DayChecks
from collector.ingest.registry_calls import IngestRegistry, RegistryCalls
from collector.ingest.settings import IngestSettings
from collector.ingest.stats import IngestStats
from collector.ingest.writes import until_stored
from collector.store import (
    DayKey,
    InfluxStore,
    Refreshed,
    StoreError,
    WindowRecord,
    day_marks,
)

__all__ = ["DirtyDay", "RollupDebounce", "RollupQueue"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)

#: A marked day as ``Registry.dirty_days`` lists it: (enterprise, device, day, tz, generation,
#: earliest window end marked since its last refresh in ms, or None: not known).
DirtyDay = tuple[str, str, dt.date, str, int, int | None]


class RollupDebounce:
    """Remembers each marked day's generation between rounds; :meth:`due` picks the settled."""

    def __init__(self, max_lag_s: float) -> None:
        if max_lag_s <= 0:
            raise ValueError(f"max_lag_s is {max_lag_s}, expected > 0")
        self.max_lag_s = max_lag_s
        # (enterprise, device, day) -> (generation last seen, when first seen marked)
        self._seen: dict[tuple[str, str, dt.date], tuple[int, float]] = {}

    def due(self, dirty: Sequence[DirtyDay], now_s: float) -> list[DirtyDay]:
        """The days of ``dirty`` to refresh now (``now_s``: monotonic seconds).

        A day seen for the first time waits a round; a day whose generation did not move since
        the last round is due; one that moved is due once it has been marked for max_lag_s.
        """
        due: list[DirtyDay] = []
        seen: dict[tuple[str, str, dt.date], tuple[int, float]] = {}
        for row in dirty:
            key, generation = (row[0], row[1], row[2]), row[4]
            previous = self._seen.get(key)
            if previous is None:
                seen[key] = (generation, now_s)
            elif previous[0] == generation or now_s - previous[1] >= self.max_lag_s:
                due.append(row)
            else:
                seen[key] = (generation, previous[1])
        self._seen = seen  # days no longer marked (refreshed by anyone) are forgotten
        return due


class RollupQueue:
    """Marks the days written to; refreshes their rollups in rounds, off the ack path."""

    def __init__(
        self,
        settings: IngestSettings,
        registry: IngestRegistry,
        store: InfluxStore,
        calls: RegistryCalls,
        stats: IngestStats,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._store = store
        self._calls = calls
        self._stats = stats
        self._checks = DayChecks(registry, store, calls, stats)

    def mark_days(self, records: list[WindowRecord]) -> None:
        """Note the days these windows fall in; the refresher recomputes their rollups.

        Durable in the registry before the ack, so a refresh owed is never forgotten: the
        rollup of a day lags its windows by two rounds of ``rollup_every_s`` in steady flow,
        ``rollup_max_lag_s`` while a backlog drains (:class:`RollupDebounce`).
        Runs in the registry thread (one hop for the zones and the mark).
        """
        zones = {e: self._registry.enterprise_zone(e) for e in {r.enterprise for r in records}}
        marks = day_marks(records, zones)
        days = [(k.enterprise, k.device, k.day, k.tz, end) for k, end in marks.items()]
        self._registry.mark_days_dirty(days)

    async def refresh_forever(self) -> None:
        """A round every ``rollup_every_s``, debounced, until cancelled."""
        debounce = RollupDebounce(self._settings.rollup_max_lag_s)
        while True:
            await asyncio.sleep(self._settings.rollup_every_s)
            await self.refresh(debounce)

    async def refresh(self, debounce: RollupDebounce | None = None) -> int:
        """Refresh the rollups of the days marked dirty; returns how many were done.

        With ``debounce``, only the days it finds due (settled, or changing for too long);
        without, every marked day (a retiring replica's last round, tests).
        """
        dirty = await self._calls.run(self._registry.dirty_days)
        if debounce is not None:
            dirty = debounce.due(dirty, time.monotonic())
        if not dirty:
            return 0
        marks = {DayKey(e, device, day, tz): end for e, device, day, tz, _, end in dirty}
        keys = list(marks)
        try:
            # Days whose stored rows end before their mark get only their newer windows
            # added (collector.store.rollup_merge); the others are recomputed whole.
            refreshed = await _refreshed(self._store, keys, marks, self._stats)
            # The refreshed rows against their day seals (collector.ingest.day_checks).
            await until_stored(lambda: self._checks.check(keys), self._stats)
        except StoreError as exc:
            # Still marked: tried again next round; the windows themselves are stored.
            self._stats.rollup_failures += 1
            log.error("daily rollups of %d device-days not refreshed: %s", len(keys), exc)
            return 0
        self._stats.rollup_refreshes["merged"] += refreshed.merged
        self._stats.rollup_refreshes["recomputed"] += refreshed.recomputed
        done = [(enterprise, device, day, gen) for enterprise, device, day, _, gen, _ in dirty]
        await self._calls.run(self._registry.clear_dirty_days, done)
        return len(done)


async def _refreshed(
    store: InfluxStore, keys: list[DayKey], marks: dict[DayKey, int | None], stats: IngestStats
) -> Refreshed:
    """Refresh the days with their marks, retrying while InfluxDB is unavailable."""
    outcome: list[Refreshed] = []

    async def attempt() -> None:
        outcome[:] = [await store.refresh_days(keys, marks)]

    await until_stored(attempt, stats)
    return outcome[0]
