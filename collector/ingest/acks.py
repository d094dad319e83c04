"""Acknowledgements in the order the messages came, whatever order they were settled in.

MQTT v5 §4.6 [MQTT-4.6.0-2]: a client MUST send PUBACKs in the order the PUBLISH packets were
received. Ingest settles messages out of that order (a quarantined message at once, a batch's
windows when their write succeeds, two batches' writes in flight at the same time), so each
message is acknowledged only once it *and every message received before it* are settled.

Nothing here does I/O: ``acknowledge`` is the caller's (paho's ``ack``), called from one thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["AckOrder"]

_M = TypeVar("_M")


class AckOrder(Generic[_M]):
    """Messages in receive order; :meth:`settle` acknowledges the settled prefix.

    ``acknowledge`` is called once per message, in the order :meth:`add` was called.
    """

    def __init__(self, acknowledge: Callable[[_M], None]) -> None:
        self._acknowledge = acknowledge
        self._waiting: deque[tuple[_M, list[bool]]] = deque()
        self._flags: dict[int, list[bool]] = {}

    def __len__(self) -> int:
        """Messages received and not yet acknowledged."""
        return len(self._waiting)

    def add(self, message: _M) -> None:
        """Note a received message; it is acknowledged after it is settled, in this order."""
        settled = [False]
        self._waiting.append((message, settled))
        self._flags[id(message)] = settled

    def settle(self, messages: list[_M]) -> int:
        """Mark these messages done (stored or quarantined); acknowledge every message now
        settled with nothing unsettled before it. Returns how many were acknowledged."""
        for message in messages:
            self._flags.pop(id(message))[0] = True
        acknowledged = 0
        while self._waiting and self._waiting[0][1][0]:
            message, _ = self._waiting.popleft()
            self._acknowledge(message)
            acknowledged += 1
        return acknowledged
