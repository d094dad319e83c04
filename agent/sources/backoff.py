"""Reconnect delays: exponential, capped, jittered. Pure; the caller does the waiting."""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays of ``initial_s``, doubling per failure up to ``max_s``, each scaled by a random
    factor in [0.5, 1.0] so that gateways restarted together, or that lost the same server, do
    not reconnect in lockstep. Shared by the Modbus and OPC UA sources."""

    def __init__(self, initial_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._rng = rng or random.Random()  # noqa: S311 - reconnect jitter, not security
        self._failures = 0

    @property
    def failures(self) -> int:
        """Failures since the last :meth:`reset`."""
        return self._failures

    def next_delay_s(self) -> float:
        """Record one more failure and return how long to wait before the next attempt (s)."""
        ceiling_s = min(self._max_s, self._initial_s * 2.0 ** min(self._failures, 60))
        self._failures += 1
        return ceiling_s * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        """Start again from ``initial_s`` (after a success)."""
        self._failures = 0
