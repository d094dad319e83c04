"""A device link's connection state: when to try again, since when it is down, and the log
lines of its transitions. Pure bookkeeping on ``time.monotonic()``; the source does the I/O.

Used by the Modbus and S7 sources: reconnect at once after a working link drops, back off
while connecting fails, log a reason only when it changes.
"""

from __future__ import annotations

import logging
import random
import time

from agent.sources.backoff import Backoff

__all__ = ["LinkState"]


class LinkState:
    """Reconnect schedule and reason of one link, logging each change once."""

    def __init__(
        self,
        log: logging.LoggerAdapter[logging.Logger],
        where: str,
        backoff_initial_s: float,
        backoff_max_s: float,
        rng: random.Random | None = None,
    ) -> None:
        self._log = log
        self._where = where
        self._backoff = Backoff(backoff_initial_s, backoff_max_s, rng)
        self._backoff_max_s = backoff_max_s
        self.reason: str | None = "not connected yet"
        self._next_attempt_s = 0.0
        self._down_since_s: float | None = None

    def may_try(self) -> bool:
        """True when a connect attempt is due (not backing off)."""
        return time.monotonic() >= self._next_attempt_s

    def connected(self, detail: str | None = None) -> None:
        """The link is up: log how long it was down (and ``detail``), reset the back-off."""
        suffix = "" if detail is None else f", {detail}"
        if self._down_since_s is None:
            self._log.info("connected to %s%s", self._where, suffix)
        else:
            down_s = time.monotonic() - self._down_since_s
            self._log.info(
                "connected to %s after %d failed attempts over %.1f s%s",
                self._where, self._backoff.failures, down_s, suffix,
            )  # fmt: skip
        self._backoff.reset()
        self.reason = None
        self._down_since_s = None

    def connect_failed(self, reason: str, now_s: float | None = None) -> None:
        """Connecting failed: schedule the next attempt from ``now_s`` (the attempt's start;
        default now); log only when the reason changes."""
        now_s = time.monotonic() if now_s is None else now_s
        delay_s = self._backoff.next_delay_s()
        self._next_attempt_s = now_s + delay_s
        if self._down_since_s is None:
            self._down_since_s = now_s
        if reason != self.reason:
            self._log.warning(
                "cannot connect: %s; retrying in %.1f s, backing off to %g s (logged again only "
                "when the reason changes)",
                reason, delay_s, self._backoff_max_s,
            )  # fmt: skip
        self.reason = reason

    def dropped(self, reason: str, lost: str) -> None:
        """A working link failed: reconnect without waiting; ``lost`` becomes the reason."""
        self._log.warning("%s to %s; reconnecting", reason, self._where)
        self.reason = lost
        self._backoff.reset()
        self._next_attempt_s = 0.0
        self._down_since_s = time.monotonic()
