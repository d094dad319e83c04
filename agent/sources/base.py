"""The one small interface every device source implements, and the reading it returns."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple, Protocol

__all__ = ["Quality", "Reading", "Source"]


class Quality(enum.StrEnum):
    """Quality of one value, as OPC UA's status classes and Modbus outcomes map onto it."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


class Reading(NamedTuple):
    """One tag's value from one poll or one data-change notification.

    ``raw`` is what the device returned (registers, a bool, an OPC UA variant value), ``value``
    is after decoding, scale and offset. A bad reading has ``value`` None and a ``reason`` such
    as ``"modbus exception 2 (illegal data address)"`` or ``"timeout after 1.0 s"``.
    ``source_ts`` is the device's own timestamp where the protocol gives one (OPC UA), else None;
    ``read_ts`` is the agent's clock when the value arrived (seconds since the epoch);
    ``latency_s`` the request's round trip where there was one.

    Immutable. A named tuple, not a frozen dataclass: a poll makes one per tag, and a frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` per field) cost several times more,
    the largest share of the Modbus poll loop's own CPU (bench/agent_poll.py,
    docs/performance.md).
    """

    tag: str
    value: float | int | bool | str | None
    raw: object
    quality: Quality
    reason: str | None
    read_ts: float
    source_ts: float | None = None
    latency_s: float | None = None


class Source(Protocol):
    """A connection to one device that yields readings for its configured tags.

    Implementations never raise out of :meth:`read`: a device fault becomes bad-quality readings.
    """

    device_id: str

    async def connect(self) -> None:
        """Open the connection (idempotent); failures are logged and retried by :meth:`read`."""
        ...

    async def read(self) -> Sequence[Reading]:
        """Read every configured tag once; one reading per tag, in configuration order."""
        ...

    async def close(self) -> None:
        """Close the connection and release resources."""
        ...
