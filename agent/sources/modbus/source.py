"""The Modbus source: connect, run the coalesced reads, one :class:`Reading` per point.

Compared with the ThingsBoard IoT Gateway 3.8.5 we measured (``FIELD-NOTES.md``):

- it sends one request per tag (25 tags, 25 round trips); we coalesce neighbouring points into
  as few requests as the device's maximum read length and ``max_gap`` allow (:mod:`.coalesce`);
- a failed tag is dropped with a log line and all tags share the gateway's timestamp; we return
  every configured point every poll, good or bad with the reason (the Modbus exception code and
  its name, a timeout, a lost connection, a decode error), each stamped when its response arrived
  and with its request's round trip;
- its reconnect waits follow a fixed doubling schedule; we reconnect on the very next poll after
  a device drops a working connection, and back off (capped, jittered) only while connecting fails;
- a unit that stops answering costs us one timeout per poll (its other requests in that poll are
  skipped), so one dead unit behind a gateway does not stall the poll for the rest.

``read()`` never raises: every failure becomes bad-quality readings.

Why one module of ~690 lines: it is one source's poll loop and its connection state machine
(connect, reconnect, back off, split a refused read), which must be read together to see that
no path loses a poll or stalls another device; decoding and read coalescing are their own
modules.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine, MutableMapping, Sequence
from dataclasses import dataclass
from functools import partial
from math import isfinite
from operator import itemgetter
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from agent.sources.readings import bad_reading
from agent.sources.reconnect import LinkState
from contract.clock import Clock, WallClock

from ..base import Quality, Reading
from .coalesce import ReadRequest, plan_reads, split_request
from .decode import BlockLayout, PointDecoder, Value, block_layout, point_decoder
from .points import ByteOrder, DataType, ModbusPoint, RegisterType
from .reasons import ILLEGAL_DATA_ADDRESS, connect_failure, exception_reason
from .settings import ModbusConnection, RtuLink, TcpLink

__all__ = ["ModbusSource"]

log = logging.getLogger(__name__)

_new_tuple = tuple.__new__

CONNECTION_LOST = "connection lost"


class _DeviceLog(logging.LoggerAdapter[logging.Logger]):
    """Prefixes every line with ``device <id>:`` and passes the id as ``extra["device"]``."""

    def __init__(self, logger: logging.Logger, device_id: str) -> None:
        super().__init__(logger, {"device": device_id})
        self._prefix = f"device {device_id}: "

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return self._prefix + str(msg), kwargs


class _RequestFailed(Exception):
    """A read request got no usable answer; ``exception_code`` is set when the device answered
    with a Modbus exception response."""

    def __init__(self, reason: str, *, exception_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exception_code = exception_code


#: One point of a prepared request: its tag, where its values start in the response and end,
#: its slot in the block's numbers (:class:`BlockLayout`; -1: its decoder decodes it, -2: a bit of
#: a register), what to do to a block number (``_CHECK_FINITE`` | ``_SCALE``) or, for a bit, its
#: bit number, its scale and offset, its decoder, and the key its decode outcome is logged under.
_Step = tuple[str, int, int, int, int, float, float, PointDecoder, str]

_CHECK_FINITE = 1  # a float: NaN or infinity is a bad value, its reason from the point's decoder
_SCALE = 2  # number * scale + offset
_DECODER = -1
_BIT_OF_REGISTER = -2


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A request with everything a poll needs made once: the read call's method name, the log
    key, the response's block layout and one step per point, so a poll does no per-point
    setup and no call per big-endian number."""

    request: ReadRequest
    method: str
    describe: str
    bits: bool
    layout: BlockLayout | None
    steps: tuple[_Step, ...]


def _prepare(request: ReadRequest) -> _Prepared:
    bits = request.register_type.is_bit_table
    layout = None if bits else block_layout(request.points, request.address, request.count)
    steps = tuple(
        _step(point, point.address - request.address, layout.slots[i] if layout else _DECODER)
        for i, point in enumerate(request.points)
    )
    return _Prepared(
        request, _READ_METHOD[request.register_type], request.describe(), bits, layout, steps
    )


def _step(point: ModbusPoint, first: int, slot: int) -> _Step:
    """The prepared step of ``point``, whose values start at ``first`` in its response."""
    post = 0
    if slot >= 0:
        if point.data_type in (DataType.FLOAT32, DataType.FLOAT64):
            post |= _CHECK_FINITE
        if not (point.scale == 1.0 and point.offset == 0.0):
            post |= _SCALE
    elif point.data_type is DataType.BIT and not point.register_type.is_bit_table:
        slot = _BIT_OF_REGISTER
        # A little-byte device sends each word's low byte first: bit n of the word it means is
        # bit n+8 (n < 8) or n-8 (n >= 8) of the register as read (as decode._bit_decoder).
        bit_index = point.bit_index or 0
        post = bit_index if point.byte_order is ByteOrder.BIG else (bit_index + 8) % 16
    end = first + point.width
    scale, offset = point.scale, point.offset
    return (
        point.tag,
        first,
        end,
        slot,
        post,
        scale,
        offset,
        point_decoder(point),
        f"tag {point.tag}",
    )


class _LinkDrop:
    """Set once when the link drops; cancels the request in flight at that moment.

    Each request runs in a task of its own under the outer time bound: a drop or the bound
    cancels that task, never the polling task, so whatever pymodbus does with the cancellation
    stays inside the request.

    The polling task waits for the request on a future of its own that the request's end sets,
    which does not hand a cancellation of the polling task (a stop) on to the request: the stop
    raises in the polling task at once, and the request is cancelled after it. Awaiting the
    request's task directly forwarded the stop to it instead, and pymodbus can absorb a
    cancellation: its ``asyncio.wait_for`` on Python 3.11 returns the response when the answer
    and the cancellation arrive in the same loop iteration. The polling task then got the
    response, its stop was lost, and it polled on until the agent was SIGKILLed (the demo's CI
    run caught it: the gateway switched off polled ten more wall seconds).

    The time bound is one watchdog timer per link, not one per request: a request only moves
    the deadline, and the watchdog, when its time comes, cancels the request then in flight if
    that request's deadline has passed, else waits on until it. Answers take milliseconds and
    the bound is seconds, so the watchdog wakes about once per bound instead of a timer being
    made, pushed on the loop's heap and cancelled for every request (bench/agent_poll.py).

    pymodbus calls ``trace_connect(False)`` from the event loop when the transport closes, so
    cancelling the request's task from there is safe.
    """

    __slots__ = ("_deadline_s", "_expired", "_in_flight", "_watchdog", "is_set")

    def __init__(self) -> None:
        self.is_set = False
        self._expired = False
        self._in_flight: asyncio.Task[ModbusPDU] | None = None
        self._deadline_s = 0.0  # loop.time() when the request in flight is given up
        self._watchdog: asyncio.TimerHandle | None = None

    def set(self) -> None:
        self.is_set = True
        if self._in_flight is not None:
            self._in_flight.cancel()

    def _watch(self) -> None:
        """The watchdog's turn: expire the request in flight if past its deadline, else wait on."""
        self._watchdog = None
        task = self._in_flight
        if task is None:
            return
        loop = task.get_loop()
        if self._deadline_s - loop.time() > _WATCHDOG_SLACK_S:
            self._watchdog = loop.call_at(self._deadline_s, self._watch)
            return
        self._expired = True
        task.cancel()

    async def unless_set(
        self, call: Callable[[], Coroutine[Any, Any, ModbusPDU]], budget_s: float
    ) -> ModbusPDU:
        """Await ``call()``, but give up as soon as the link drops or ``budget_s`` has passed.

        Raises ConnectionException when the link dropped, TimeoutError after ``budget_s``, and
        CancelledError at once when the calling task is cancelled (the request is cancelled
        too). pymodbus 3.16 leaves a request in flight when the connection closes under it: it
        waits out its timeout on every retry, re-sending into a closed transport. Cancelling it
        when the disconnect callback comes turns that into an immediate "connection lost".
        """
        if self.is_set:
            raise ConnectionException(CONNECTION_LOST)
        loop = asyncio.get_running_loop()
        request_task = loop.create_task(call())
        self._in_flight, self._expired = request_task, False
        self._deadline_s = deadline_s = loop.time() + budget_s
        watchdog = self._watchdog
        if watchdog is None or watchdog.when() > deadline_s:
            if watchdog is not None:
                watchdog.cancel()
            self._watchdog = loop.call_at(deadline_s, self._watch)
        answered: asyncio.Future[None] = loop.create_future()
        request_task.add_done_callback(partial(_wake, answered))
        try:
            await answered
        except asyncio.CancelledError:
            request_task.cancel()  # the polling task stops: its request goes with it
            raise
        finally:
            self._in_flight = None
        if request_task.cancelled():
            if self.is_set:
                raise ConnectionException(CONNECTION_LOST)
            if self._expired:
                raise TimeoutError
        return request_task.result()


#: A watchdog that wakes this close to the deadline expires the request rather than waiting on
#: (the event loop runs a timer up to its clock resolution early).
_WATCHDOG_SLACK_S = 0.001


def _wake(answered: asyncio.Future[None], _request: asyncio.Task[ModbusPDU]) -> None:
    """The request ended (answer, error or cancellation): wake its polling task."""
    if not answered.done():
        answered.set_result(None)


class ModbusSource:
    """Reads a fixed set of points from one Modbus TCP or RTU link (one or more unit ids).

    ``points`` are returned in this order by :meth:`read`; their tags must be unique.
    ``clock`` stamps readings (plant time in a demo, wall time in production); ``rng`` seeds the
    reconnect jitter. Raises ValueError for duplicate tags or a point longer than a read allows.
    """

    def __init__(
        self,
        device_id: str,
        connection: ModbusConnection,
        points: Sequence[ModbusPoint],
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        tags = [point.tag for point in points]
        if duplicates := sorted({tag for tag in tags if tags.count(tag) > 1}):
            raise ValueError(f"device {device_id}: duplicate modbus tags {duplicates}")
        self.device_id = device_id
        self._connection = connection
        self._points = tuple(points)
        self._plan = plan_reads(
            points,
            max_registers=connection.max_read_registers,
            max_bits=connection.max_read_bits,
            max_gap=connection.max_gap,
        )
        self._clock: Clock = clock or WallClock()
        self._log = _DeviceLog(log, device_id)
        self._link = LinkState(
            self._log,
            connection.link.describe(),
            connection.backoff_initial_s,
            connection.backoff_max_s,
            rng,
        )
        self._prepared = {id(request): _prepare(request) for request in self._plan}
        self._plan_order = self._reordering()
        self._index = {point.tag: index for index, point in enumerate(self._points)}
        self._client: ModbusBaseClient | None = None
        self._dropped = _LinkDrop()
        self._last_reason: dict[str, str | None] = {}  # per request/tag: last logged reason
        self._links_lost = 0  # requests that failed with CONNECTION_LOST, ever
        self._last_answer_s: float | None = None  # time.monotonic() the link last went quiet

    @property
    def plan(self) -> tuple[ReadRequest, ...]:
        """The read requests one poll sends, after any splitting for devices with holes."""
        return tuple(self._plan)

    def _reordering(self) -> Callable[[list[Reading]], tuple[Reading, ...]] | None:
        """What puts a poll's readings, made in the plan's order, in the points' order.

        None when the plan already serves the points in their configured order; else one
        ``itemgetter`` over the positions, a single call per poll instead of a lookup per tag.
        """
        served = {
            point.tag: position
            for position, point in enumerate(p for request in self._plan for p in request.points)
        }
        positions = [served[point.tag] for point in self._points]
        if positions == sorted(positions) or len(positions) < 2:
            return None
        return itemgetter(*positions)

    async def connect(self) -> None:
        """Open the link unless it is open or backing off; failures are logged, never raised."""
        if self._client is not None:
            if self._client.connected:
                return
            self._on_dropped()
        now_s = time.monotonic()
        if not self._link.may_try():
            return
        client, dropped = self._new_client()
        failure = await self._open(client)
        if failure is None:
            self._client, self._dropped = client, dropped
            self._link.connected()
            if self._connection.pause_after_connect_s > 0:
                # Real seconds, not plant seconds: the device's own warm-up (docs/configuration.md).
                await asyncio.sleep(self._connection.pause_after_connect_s)
        else:
            client.close()
            self._link.connect_failed(failure, now_s)

    async def read(self) -> list[Reading]:
        """Read every point once; one reading per point, in the order given. Never raises."""
        try:
            return await self._read()
        except Exception as exc:  # the poll loop must survive our own bugs too; say so loudly
            self._log.exception("modbus read failed unexpectedly")
            return [self._bad(point, f"internal error: {exc!r}") for point in self._points]

    async def close(self) -> None:
        """Close the link; a later :meth:`read` reconnects."""
        if self._client is not None:
            self._client.close()
            self._client = None
            self._log.info("closed link to %s", self._connection.link.describe())

    async def _read(self) -> list[Reading]:
        """Connect if needed, run the plan, and order the readings like the points."""
        await self.connect()
        client = self._client
        if client is None or not client.connected:
            reason = self._link.reason or CONNECTION_LOST
            return [self._bad(point, reason) for point in self._points]
        polled: list[Reading] = []
        silent_units: dict[int, str] = {}
        may_reconnect = True
        for request in list(self._plan):
            lost_before = self._links_lost
            readings = await self._run_request(client, request, silent_units)
            if may_reconnect and self._links_lost != lost_before:
                # A device that closed an idle connection between polls is only noticed when
                # the next request hits the closed socket: reconnect once and retry, so one
                # idle-timeout on the device side does not cost a whole poll.
                may_reconnect = False
                client = await self._reconnect(client)
                readings = await self._run_request(client, request, silent_units)
            polled += readings
        if len(polled) == len(self._points):  # one reading per point, in the plan's order
            reorder = self._plan_order
            return polled if reorder is None else list(reorder(polled))
        ordered: list[Reading | None] = [None] * len(self._points)
        index = self._index
        for reading in polled:
            ordered[index[reading.tag]] = reading
        return [_placed(reading) for reading in ordered]

    async def _reconnect(self, client: ModbusBaseClient) -> ModbusBaseClient:
        """The new client after a drop, or the dropped one if reconnecting failed."""
        await self.connect()
        return self._client if self._client is not None else client

    async def _run_request(
        self, client: ModbusBaseClient, request: ReadRequest, silent_units: dict[int, str]
    ) -> list[Reading]:
        """Readings for one request's points; splits a coalesced read the device refuses."""
        if request.unit_id in silent_units:
            return self._all_bad(request, f"{silent_units[request.unit_id]} (skipped)")
        started_s = time.monotonic()
        try:
            values = await self._send(client, request)
        except _RequestFailed as failure:
            latency_s = time.monotonic() - started_s if failure.exception_code else None
            if failure.exception_code == ILLEGAL_DATA_ADDRESS and self._split(request):
                return await self._run_split(client, request, silent_units)
            if failure.reason.startswith("timeout"):
                silent_units[request.unit_id] = failure.reason
            if failure.reason == CONNECTION_LOST:  # the link's own log line covers a drop
                self._links_lost += 1
            else:
                self._note(request.describe(), failure.reason, "read")
            return self._all_bad(request, failure.reason, latency_s)
        latency_s = time.monotonic() - started_s
        prepared = self._prepared_for(request)
        self._note(prepared.describe, None, "read")
        return self._decoded(prepared, values, self._clock.timestamp(), latency_s)

    def _prepared_for(self, request: ReadRequest) -> _Prepared:
        """The request's prepared steps (made now for a request not in the plan)."""
        prepared = self._prepared.get(id(request))
        if prepared is None or prepared.request is not request:
            prepared = _prepare(request)
        return prepared

    async def _run_split(
        self, client: ModbusBaseClient, request: ReadRequest, silent_units: dict[int, str]
    ) -> list[Reading]:
        """Run the strict per-point requests that replaced ``request`` in the plan."""
        readings: list[Reading] = []
        for part in split_request(request):
            readings.extend(await self._run_request(client, part, silent_units))
        return readings

    def _split(self, request: ReadRequest) -> bool:
        """Replace a coalesced request by its strict per-point reads; False if already strict.

        Real devices have holes in their register maps (reserved words between a PLC's data
        blocks, meters that define only some registers of a range) and answer exception 2 for
        any read that touches one, so a read through a gap can fail although every configured
        point exists. Reading those points separately from then on trades a few round trips for
        correct values; it is logged once, when it happens, so the installer can lower max_gap.
        """
        parts = split_request(request)
        if len(parts) == 1 and parts[0].count == request.count:
            return False
        index = self._plan.index(request)
        self._plan[index : index + 1] = parts
        self._prepared = {id(part): _prepare(part) for part in self._plan}
        self._plan_order = self._reordering()
        self._log.warning(
            "%s answered %s to a coalesced read: the device has holes in its map; "
            "reading its %d points in %d separate requests from now on (lower max_gap to avoid)",
            request.describe(),
            exception_reason(ILLEGAL_DATA_ADDRESS),
            len(request.points),
            len(parts),
        )
        return True

    async def _send(self, client: ModbusBaseClient, request: ReadRequest) -> Sequence[int | bool]:
        """Send one read; the values on success, else raises _RequestFailed with the reason."""
        prepared = self._prepared_for(request)
        method: Callable[..., Coroutine[Any, Any, ModbusPDU]] = getattr(client, prepared.method)

        def call() -> Coroutine[Any, Any, ModbusPDU]:
            return method(request.address, count=request.count, device_id=request.unit_id)

        gap_s = self._connection.min_request_gap_s
        if gap_s <= 0:  # the default: nothing to wait for or to remember
            return await self._send_now(call, request, prepared)
        await self._keep_request_gap(gap_s)
        try:
            return await self._send_now(call, request, prepared)
        finally:
            self._last_answer_s = time.monotonic()

    async def _keep_request_gap(self, gap_s: float) -> None:
        """Wait until ``gap_s`` has passed since the link's last answer."""
        if self._last_answer_s is None:
            return
        wait_s = self._last_answer_s + gap_s - time.monotonic()
        if wait_s > 0:
            await asyncio.sleep(wait_s)

    async def _send_now(
        self,
        call: Callable[[], Coroutine[Any, Any, ModbusPDU]],
        request: ReadRequest,
        prepared: _Prepared,
    ) -> Sequence[int | bool]:
        """Send one read now; the values on success, else raises _RequestFailed."""
        settings = self._connection
        # pymodbus bounds each attempt by timeout_s; this outer bound only guards against a hang.
        budget_s = settings.timeout_s * (settings.retries + 2)
        try:
            response = await self._dropped.unless_set(call, budget_s)
        except ConnectionException as exc:
            raise _RequestFailed(CONNECTION_LOST) from exc
        except ModbusIOException as exc:
            raise _RequestFailed(self._io_reason(exc)) from exc
        except TimeoutError as exc:
            raise _RequestFailed(f"timeout after {budget_s:g} s") from exc
        except ModbusException as exc:
            raise _RequestFailed(f"invalid response: {exc}") from exc
        if isinstance(response, ExceptionResponse) or response.isError():
            code = int(getattr(response, "exception_code", 0))
            raise _RequestFailed(exception_reason(code), exception_code=code)
        values = response.bits if prepared.bits else response.registers
        if len(values) < request.count:
            raise _RequestFailed(f"short response: {len(values)} of {request.count} values")
        return values[: request.count]

    def _io_reason(self, exc: ModbusIOException) -> str:
        """Reason for pymodbus's I/O error: no answer within the retries, or a mismatched one."""
        if "No response" in str(exc):
            settings = self._connection
            return f"timeout after {settings.timeout_s:g} s x {settings.retries + 1} attempts"
        return f"invalid response: {exc}"

    def _decoded(
        self, prepared: _Prepared, values: Sequence[int | bool], read_ts: float, latency_s: float
    ) -> list[Reading]:
        """Each point's reading cut out of its request's values (the poll's hot loop).

        Big-endian numbers come from one unpack over the whole response, bits of a register
        from a shift; only the other points (strings, bools, little-endian orders, overlaps)
        and bad floats call their point's decoder.
        """
        readings: list[Reading] = []
        append = readings.append
        last_reason = self._last_reason
        good = Quality.GOOD
        if prepared.bits:
            for step in prepared.steps:
                tag, first, note_key = step[0], step[1], step[8]
                if note_key in last_reason:
                    self._note(note_key, None, "decode")
                bit = bool(values[first])
                append(_new_tuple(Reading, (tag, bit, bit, good, None, read_ts, None, latency_s)))
            return readings
        words = tuple(values)
        layout = prepared.layout
        # Raises struct.error for a register outside 0..65535, as the point decoders raise.
        numbers = layout.numbers(layout.to_bytes(*words)) if layout is not None else ()
        value: Value | None
        for tag, first, end, slot, post, scale, offset, decode, note_key in prepared.steps:
            if slot >= 0:
                value, reason = numbers[slot], None
                if post:
                    if post & _CHECK_FINITE and not isfinite(numbers[slot]):
                        value, reason = decode(words, first)
                    elif post & _SCALE:
                        value = numbers[slot] * scale + offset
            elif slot == _BIT_OF_REGISTER:
                value, reason = bool((words[first] >> post) & 1), None
            else:
                value, reason = decode(words, first)
            if reason is not None or note_key in last_reason:
                self._note(note_key, reason, "decode")
            quality = good if reason is None else Quality.BAD
            # tuple.__new__ straight: Reading's generated __new__ would check the same 8 fields.
            fields = (tag, value, words[first:end], quality, reason, read_ts, None, latency_s)
            append(_new_tuple(Reading, fields))
        return readings

    def _all_bad(
        self, request: ReadRequest, reason: str, latency_s: float | None = None
    ) -> list[Reading]:
        """Bad readings for every point of a failed request."""
        return [self._bad(point, reason, latency_s) for point in request.points]

    def _bad(self, point: ModbusPoint, reason: str, latency_s: float | None = None) -> Reading:
        """A bad reading stamped now."""
        return bad_reading(point.tag, reason, self._clock.timestamp(), latency_s)

    def _note(self, key: str, reason: str | None, what: str) -> None:
        """Log a request's or tag's outcome only when it changes: no spam on long outages."""
        previous = self._last_reason.get(key)
        if reason == previous:
            return
        self._last_reason[key] = reason
        if reason is None:
            self._log.info("%s: %s good again", key, what)
        else:
            self._log.warning(
                "%s: %s bad: %s (logged again only when this changes)", key, what, reason
            )

    def _new_client(self) -> tuple[ModbusBaseClient, _LinkDrop]:
        """A pymodbus client for the link, with its own drop event.

        ``reconnect_delay=0`` turns off pymodbus's own reconnect task: we reconnect from
        :meth:`connect` with our backoff, so there is one schedule and one log of it.
        """
        dropped = _LinkDrop()

        def on_link_change(connected: bool) -> None:
            if not connected:
                dropped.set()

        link = self._connection.link
        settings = self._connection
        client: ModbusBaseClient
        if isinstance(link, TcpLink):
            client = AsyncModbusTcpClient(
                link.host,
                port=link.port,
                timeout=settings.timeout_s,
                retries=settings.retries,
                reconnect_delay=0,
                trace_connect=on_link_change,
            )
        else:
            client = _serial_client(link, settings, on_link_change)
        return client, dropped

    async def _open(self, client: ModbusBaseClient) -> str | None:
        """Connect ``client``; None on success, else the reason it failed.

        pymodbus 3.16's ``connect()`` returns False and only logs the OSError (refused,
        unreachable, no such serial port), so we wrap the transport factory to keep it.
        """
        errors: list[BaseException] = []
        create = client.ctx.call_create

        async def create_keeping_error() -> Any:
            try:
                return await create()
            except OSError as exc:
                errors.append(exc)
                raise

        client.ctx.call_create = create_keeping_error
        where = self._connection.link.describe()
        timeout_s = self._connection.timeout_s
        try:
            async with asyncio.timeout(timeout_s * 2):
                ok = await client.connect()
        except TimeoutError:
            ok = False
        except OSError as exc:  # pyserial may raise outside pymodbus's own handling
            errors.append(exc)
            ok = False
        if ok and client.connected:
            return None
        return connect_failure(errors[-1] if errors else None, where, timeout_s)

    def _on_dropped(self) -> None:
        """The device closed a working link: forget the client, reconnect without waiting."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self._link.dropped(CONNECTION_LOST, CONNECTION_LOST)


def _serial_client(
    link: RtuLink, settings: ModbusConnection, on_link_change: Callable[[bool], None]
) -> ModbusBaseClient:
    """A pymodbus RTU client for ``link`` without pymodbus's own reconnect task."""
    return AsyncModbusSerialClient(
        link.port,
        framer=FramerType.RTU,
        baudrate=link.baudrate,
        bytesize=link.bytesize,
        parity=link.parity,
        stopbits=link.stopbits,
        timeout=settings.timeout_s,
        retries=settings.retries,
        reconnect_delay=0,
        trace_connect=on_link_change,
    )


#: The pymodbus client method that reads each table.
_READ_METHOD: dict[RegisterType, str] = {
    RegisterType.COIL: "read_coils",
    RegisterType.DISCRETE_INPUT: "read_discrete_inputs",
    RegisterType.HOLDING: "read_holding_registers",
    RegisterType.INPUT: "read_input_registers",
}


def _placed(reading: Reading | None) -> Reading:
    """A reading every point must have by now (each request returns one per point it serves)."""
    if reading is None:
        raise RuntimeError("modbus plan left a point without a reading")
    return reading
