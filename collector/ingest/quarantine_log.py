"""Log lines for quarantined messages that stay readable under a flood.

Every quarantined message is kept in the registry and counted in the metrics whatever happens
here; this only decides which get a WARNING line of their own. Per reason code, the first
``burst`` in each ``every_s`` interval do; the rest get a DEBUG line each and are summed into
one WARNING at the end of the interval::

    quarantine: 9,990 more messages in the last 60 s without a line each: bad_signature 9,000,
    not_json 990; every one is kept (retrofit-collector quarantine list) and counted
    (rv_ingest_quarantined_total)

A flood of 10,000 hostile messages then costs a few dozen lines, not 10,000, and a reason
that shows up once still gets its own line at once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

__all__ = ["QuarantineLog"]

#: ``schedule(delay_s, callback)``: run ``callback`` once, ``delay_s`` from now.
Schedule = Callable[[float, Callable[[], None]], object]


class QuarantineLog:
    """Rate-limited WARNING lines for quarantined messages, with a periodic summary.

    ``schedule`` arranges the summary at the end of an interval in which lines were held back
    (ingest passes its event loop's ``call_later``); ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        logger: logging.Logger,
        schedule: Schedule,
        *,
        burst: int = 10,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 0 or every_s <= 0:
            raise ValueError(f"burst {burst} and every_s {every_s}: expected >= 0 and > 0")
        self._log = logger
        self._schedule = schedule
        self._burst = burst
        self._every_s = every_s
        self._clock = clock
        self._interval = 0  # which interval we are in; a summary is scheduled for one
        self._interval_start = clock()
        self._logged: Counter[str] = Counter()  # lines written this interval, by reason
        self._held: Counter[str] = Counter()  # lines held back this interval, by reason

    def quarantined(self, topic: str, code: str, detail: str) -> None:
        """One message was quarantined with reason ``code``: log it, or count it for later."""
        if self._clock() - self._interval_start >= self._every_s:
            self._end_interval(self._interval)  # its scheduled summary is late: a busy loop
        if self._logged[code] < self._burst:
            self._logged[code] += 1
            self._log.warning("quarantined a message on %.120s: %s: %.300s", topic, code, detail)
            return
        if not self._held:  # the first held back this interval: summarise at its end
            remaining_s = self._interval_start + self._every_s - self._clock()
            interval = self._interval
            self._schedule(max(0.0, remaining_s), lambda: self._end_interval(interval))
        self._held[code] += 1
        self._log.debug("quarantined a message on %.120s: %s: %.300s", topic, code, detail)

    def summarise(self) -> None:
        """Write the summary of the lines held back so far, if any, and start a new interval."""
        self._end_interval(self._interval)

    def _end_interval(self, interval: int) -> None:
        if interval != self._interval:  # ended already, early
            return
        if self._held:
            reasons = ", ".join(f"{code} {count:,}" for code, count in sorted(self._held.items()))
            self._log.warning(
                "quarantine: %s more messages in the last %.0f s without a line each: %s; every "
                "one is kept (retrofit-collector quarantine list) and counted "
                "(rv_ingest_quarantined_total)",
                f"{self._held.total():,}",
                self._clock() - self._interval_start,
                reasons,
            )
        self._interval += 1
        self._interval_start = self._clock()
        self._logged.clear()
        self._held.clear()
