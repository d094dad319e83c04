"""The S7 source: connect with rack, slot and connection type, run the coalesced reads, one
:class:`~agent.sources.base.Reading` per point.

Like the Modbus source, ``read()`` never raises: a refused read, a lost connection or a value
that does not decode becomes bad-quality readings with the reason. A PLC that restarts closes
the connection; the next poll reconnects at once and then backs off (capped, jittered) while
the PLC is away, so the gap shows as bad readings (comm loss downstream), never as the last
value held.

python-snap7's ``AsyncClient`` is native asyncio (no thread); it takes no connect timeout, so
the connect is bounded here, and its receive timeout is set from ``timeout_s`` once connected.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import MutableMapping, Sequence
from typing import Any

from snap7.async_client import AsyncClient
from snap7.error import S7ConnectionError, S7Error, S7ProtocolError, S7TimeoutError
from snap7.type import Area

from agent.sources.readings import bad_reading, decoded_reading
from agent.sources.reconnect import LinkState
from contract.clock import Clock, WallClock

from ..base import Reading
from .coalesce import S7ReadRequest, max_read_bytes, plan_reads, split_read
from .decode import decode_point
from .points import S7MemoryArea, S7Point
from .reasons import (
    ADDRESS_OUT_OF_RANGE,
    CONNECTION_LOST,
    OBJECT_DOES_NOT_EXIST,
    connect_reason,
    read_code,
    read_reason,
)
from .settings import S7Connection

__all__ = ["S7Source"]

log = logging.getLogger(__name__)

_AREAS = {
    S7MemoryArea.DB: Area.DB,
    S7MemoryArea.MERKER: Area.MK,
    S7MemoryArea.INPUT: Area.PE,
    S7MemoryArea.OUTPUT: Area.PA,
}


class _DeviceLog(logging.LoggerAdapter[logging.Logger]):
    """``device <id>: `` before every line, the id also as ``extra["device"]``."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return f"device {extra.get('device')}: {msg}", kwargs


class _ReadFailed(Exception):
    """A read got no usable answer; ``code`` is the PLC's return code when it refused it."""

    def __init__(self, reason: str, *, code: int | None = None, link_lost: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.link_lost = link_lost


class S7Source:
    """Reads a fixed set of points from one S7 PLC over one ISO-on-TCP connection.

    ``points`` come back in this order from :meth:`read`; their tags must be unique (raises
    ValueError otherwise). ``clock`` stamps readings; ``rng`` seeds the reconnect jitter.
    """

    def __init__(
        self,
        device_id: str,
        connection: S7Connection,
        points: Sequence[S7Point],
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        tags = [point.tag for point in points]
        if duplicates := sorted({tag for tag in tags if tags.count(tag) > 1}):
            raise ValueError(f"device {device_id}: duplicate s7 tags {duplicates}")
        self.device_id = device_id
        self._connection = connection
        self._points = tuple(points)
        self._plan = plan_reads(points, max_read_bytes(connection.pdu_size), connection.max_gap)
        self._clock: Clock = clock or WallClock()
        self._log = _DeviceLog(log, {"device": device_id})
        self._link = LinkState(
            self._log,
            connection.describe(),
            connection.backoff_initial_s,
            connection.backoff_max_s,
            rng,
        )
        self._client: AsyncClient | None = None

    @property
    def plan(self) -> tuple[S7ReadRequest, ...]:
        """The reads one poll sends (after the PDU negotiation and any splitting)."""
        return tuple(self._plan)

    @property
    def pdu_size(self) -> int | None:
        """The PDU size the PLC granted, once connected."""
        return self._client.pdu_length if self._client is not None else None

    async def connect(self) -> None:
        """Open the connection unless open or backing off; failures are logged, never raised."""
        if self._client is not None:
            if self._client.get_connected():
                return
            await self._drop()
        if not self._link.may_try():
            return
        client = AsyncClient()
        client.set_connection_type(int(self._connection.connection_type))
        client.pdu_length = self._connection.pdu_size
        settings = self._connection
        try:
            async with asyncio.timeout(settings.timeout_s * 2):
                await client.connect(settings.host, settings.rack, settings.slot, settings.port)
        except (S7Error, OSError, TimeoutError) as exc:
            await _quietly_disconnect(client)
            reason = connect_reason(_cause(exc), settings.describe(), settings.timeout_s * 2)
            self._link.connect_failed(reason)
            return
        if client.connection is not None:
            client.connection.timeout = settings.timeout_s
        self._client = client
        granted = client.pdu_length
        self._plan = plan_reads(self._points, max_read_bytes(granted), self._connection.max_gap)
        self._link.connected(f"PDU {granted} bytes, {len(self._plan)} reads per poll")

    async def read(self) -> list[Reading]:
        """Read every point once; one reading per point, in the order given. Never raises."""
        try:
            return await self._read()
        except Exception as exc:  # the poll loop must survive our own bugs too; say so loudly
            self._log.exception("s7 read failed unexpectedly")
            return [self._bad(point, f"internal error: {exc!r}") for point in self._points]

    async def close(self) -> None:
        """Close the connection; a later :meth:`read` reconnects."""
        if self._client is not None:
            await _quietly_disconnect(self._client)
            self._client = None
            self._log.info("closed connection to %s", self._connection.describe())

    async def _read(self) -> list[Reading]:
        await self.connect()
        if self._client is None:
            reason = self._link.reason or CONNECTION_LOST
            return [self._bad(point, reason) for point in self._points]
        by_tag: dict[str, Reading] = {}
        may_reconnect = True
        for request in list(self._plan):
            readings = await self._run(request)
            lost = any(r.reason == CONNECTION_LOST for r in readings)
            if lost and may_reconnect:
                # A PLC that closed the connection between polls (a restart, an idle timeout)
                # is noticed only by this read: reconnect once and retry it.
                may_reconnect = False
                await self.connect()
                readings = await self._run(request)
            by_tag.update((reading.tag, reading) for reading in readings)
        return [by_tag[point.tag] for point in self._points]

    async def _run(self, request: S7ReadRequest) -> list[Reading]:
        """Readings for one request; splits a coalesced range the PLC refuses."""
        client = self._client
        if client is None:
            return self._all_bad(request, self._link.reason or CONNECTION_LOST)
        started_s = time.monotonic()
        try:
            data = await self._send(client, request)
        except _ReadFailed as failure:
            if failure.link_lost:
                await self._drop(failure.reason)
                return self._all_bad(request, CONNECTION_LOST)
            refused = failure.code in (ADDRESS_OUT_OF_RANGE, OBJECT_DOES_NOT_EXIST)
            if refused and len(request.points) > 1:
                return await self._run_split(request)
            self._log.debug("%s: %s", request.describe(), failure.reason)
            return self._all_bad(request, failure.reason, time.monotonic() - started_s)
        latency_s = time.monotonic() - started_s
        read_ts = self._clock.timestamp()
        return [self._decoded(point, request, data, read_ts, latency_s) for point in request.points]

    async def _run_split(self, request: S7ReadRequest) -> list[Reading]:
        """Replace a refused range by one read per point, from now on, and run those."""
        parts = split_read(request)
        index = self._plan.index(request)
        self._plan[index : index + 1] = parts
        self._log.warning(
            "the PLC refused %s (a hole or the end of a block inside it); reading its %d "
            "points separately from now on",
            request.describe(),
            len(parts),
        )
        readings: list[Reading] = []
        for part in parts:
            readings.extend(await self._run(part))
        return readings

    async def _send(self, client: AsyncClient, request: S7ReadRequest) -> bytes:
        """One read of the request's range; raises _ReadFailed with the reason."""
        timeout_s = self._connection.timeout_s
        try:
            async with asyncio.timeout(timeout_s * 2):
                data = await client.read_area(
                    _AREAS[request.area], request.db, request.start, request.size
                )
        except (S7ConnectionError, OSError) as exc:
            raise _ReadFailed(f"{CONNECTION_LOST}: {exc}", link_lost=True) from exc
        except (S7TimeoutError, TimeoutError) as exc:
            # The answer may still come and would be mistaken for the next one's: start afresh.
            raise _ReadFailed(f"timeout after {timeout_s:g} s", link_lost=True) from exc
        except S7ProtocolError as exc:
            raise _ReadFailed(read_reason(exc), code=read_code(exc)) from exc
        except S7Error as exc:
            raise _ReadFailed(f"invalid response: {exc}") from exc
        if len(data) != request.size:
            raise _ReadFailed(f"short response: {len(data)} of {request.size} bytes")
        return bytes(data)

    def _decoded(
        self, point: S7Point, request: S7ReadRequest, data: bytes, read_ts: float, latency_s: float
    ) -> Reading:
        first = point.start - request.start
        raw = data[first : first + point.size]
        decoded = decode_point(point, raw)
        return decoded_reading(point.tag, decoded.value, decoded.reason, raw, read_ts, latency_s)

    def _all_bad(
        self, request: S7ReadRequest, reason: str, latency_s: float | None = None
    ) -> list[Reading]:
        read_ts = self._clock.timestamp()
        return [bad_reading(point.tag, reason, read_ts, latency_s) for point in request.points]

    def _bad(self, point: S7Point, reason: str) -> Reading:
        return bad_reading(point.tag, reason, self._clock.timestamp())

    async def _drop(self, reason: str = CONNECTION_LOST) -> None:
        """Forget a connection that failed; the next connect() tries at once."""
        if self._client is not None:
            await _quietly_disconnect(self._client)
            self._client = None
        self._link.dropped(reason, CONNECTION_LOST)


def _cause(exc: BaseException) -> BaseException:
    """snap7 wraps the socket error in its own text; keep the original where it is chained."""
    return exc.__cause__ if isinstance(exc.__cause__, OSError) else exc


async def _quietly_disconnect(client: AsyncClient) -> None:
    """Close a client whose connection may already be gone (its own errors are moot here)."""
    try:
        await client.disconnect()
    except (S7Error, OSError):
        log.debug("disconnecting a dropped s7 client failed", exc_info=True)
