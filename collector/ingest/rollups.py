"""Which marked device-days the rollup refresher recomputes now, and which it lets settle.

Refreshing a day re-reads all its raw windows (up to 1,440 per device), so a day that is marked
again on every round - a backlog being drained after an outage, many windows per device per
second - used to be re-read every round (2 s): measured in ``bench/collector_ingest.py``, the
refreshes then cost influxd more CPU than the writes themselves. A day is now refreshed once it
was not marked again for a whole round, or once it has kept changing for ``max_lag_s``.

In steady flow (a window per device per minute) a day is marked once and refreshed on the
round after next: rollups lag their windows by at most two rounds. While a backlog drains, each
day is re-read once per ``max_lag_s`` instead of once per round. Pure: no I/O, the caller's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

__all__ = ["DirtyDay", "RollupDebounce"]

#: A marked day as ``Registry.dirty_days`` lists it: (enterprise, device, day, tz, generation).
DirtyDay = tuple[str, str, dt.date, str, int]


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
