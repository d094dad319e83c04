"""The OPC UA source: a supervised session, a subscription (or polling), one reading per tag.

Recovery when the server restarts, and why it is built this way:

- Telegraf's ``inputs.opcua`` (influxdata/telegraf #14066, #13594) kept node handles from the
  old session after its client library reconnected underneath it, so every node read
  ``BadNodeIdUnknown`` until Telegraf was restarted; #15074 is the same symptom in later versions.
  Its ``opcua_listener`` (#18454, #19186) trusted a "connected" client state while the
  subscription was dead, and gave up for good when one monitored item failed to come back.
- ThingsBoard IoT Gateway 3.6.4 (thingsboard/thingsboard-gateway #1641) did not notice the
  restart and never tried again; its later backoff waited up to ~2 minutes (#1828).

So here: a loss is taken from every signal there is (asyncua's ``connection_lost_callback``,
fired by its watchdog on a closed socket, a failed keepalive read or BadSessionIdInvalid; a bad
subscription status change; the client no longer CONNECTED; a polling read failing with a
connection error). Every value turns bad with the reason at once. Then the old client is thrown
away whole and a NEW client, session, subscription and node lookup (browse paths translated
again, namespace URIs looked up again) are made, retried with capped, jittered backoff for as
long as the source runs. A tag that cannot be monitored is bad with its own status and retried
on its own, never failing the session; a session that cannot be made is retried, never given up.

A value that does not change is not made bad for its age: data-change subscriptions only
report changes. It is bad only while the session is not known to be alive.

Why one module of ~470 lines: it is one source's session supervisor and the state machine
above, which must be read together; the session's set-up and node lookup are in session.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.client.ua_client import UaClientState
from asyncua.common.subscription import DataChangeNotif, Subscription
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors import UaStatusCodeError

from agent.config import OpcUaDeviceConfig, OpcUaTagConfig
from agent.errors import SourceError
from agent.sources.backoff import Backoff
from contract.clock import Clock, WallClock

from ..base import Quality, Reading
from .session import NodeLookup, new_client, resolve
from .values import Sample, sample_from_data_value, scaled_value

__all__ = ["OpcUaSource"]

log = logging.getLogger(__name__)

NOT_CONNECTED = "not connected yet"
CONNECTION_LOST = "connection lost"
CLOSED = "source closed"
#: Wall seconds between retries of tags that could not be found or monitored in a live session.
ITEM_RETRY_S = 30.0
#: Wall seconds at least between attempts the server refused for login or security reasons:
#: retrying a wrong password every few seconds can lock the account on some servers, and only a
#: person can fix it anyway.
REFUSED_RETRY_S = 60.0
#: Status names that mean "refused", not "unreachable" (OPC UA Part 4, 7.39).
_REFUSALS = frozenset(
    {
        "BadUserAccessDenied",
        "BadIdentityTokenInvalid",
        "BadIdentityTokenRejected",
        "BadCertificateInvalid",
        "BadCertificateUntrusted",
        "BadCertificateUriInvalid",
        "BadCertificateHostNameInvalid",
        "BadSecurityChecksFailed",
        "BadSecurityPolicyRejected",
        "BadSecurityModeRejected",
    }
)
#: How often the supervisor looks at the client's state besides waiting for a loss signal (s).
_STATE_CHECK_S = 1.0


@dataclass
class _Tag:
    """One configured tag: where it is in the current session and its latest sample."""

    name: str
    config: OpcUaTagConfig
    handle: int
    lookup: NodeLookup | None = None
    monitored: bool = False
    sample: Sample = field(default_factory=lambda: Sample(None, Quality.BAD, NOT_CONNECTED))


@dataclass
class _Session:
    """One connected client and what belongs to it; replaced whole on every reconnect."""

    client: Client
    generation: int
    subscription: Subscription | None = None
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    lost_reason: str | None = None
    handles: dict[int, _Tag] = field(default_factory=dict)


class _Notifications:
    """asyncua subscription handler bound to one session; stale sessions' calls are ignored."""

    def __init__(self, source: OpcUaSource, session: _Session) -> None:
        self._source = source
        self._session = session

    def datachange_notification(self, node: Any, value: Any, data: DataChangeNotif) -> None:
        handle = data.subscription_data.client_handle
        tag = self._session.handles.get(handle) if handle is not None else None
        if tag is not None and self._source.is_current(self._session):
            tag.sample = sample_from_data_value(data.monitored_item.Value)

    def status_change_notification(self, status: ua.StatusChangeNotification) -> None:
        # BadTimeout: the server dropped the subscription; BadShutdown: asyncua saw the
        # connection go. Either way the values no longer follow the machine.
        code = status.Status
        if code is not None and not code.is_good():
            self._source.mark_lost(self._session, f"subscription status {code.name}")


class OpcUaSource:
    """Reads the configured tags of one OPC UA server, by subscription or by polling.

    :meth:`connect` starts a supervisor task that keeps a session open for the source's
    lifetime and re-creates it after any loss; :meth:`read` never raises and never waits for
    the network in subscription mode. ``clock`` stamps readings (plant time in a demo);
    ``reconnect_initial_s``/``reconnect_max_s`` bound the reconnect backoff (wall seconds);
    ``rng`` seeds its jitter.
    """

    def __init__(
        self,
        device: OpcUaDeviceConfig,
        clock: Clock | None = None,
        *,
        reconnect_initial_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.device_id = device.id
        self.device = device
        self._clock = clock or WallClock()
        # Client handles are the tags' positions (from 1): stable, unique within a subscription.
        self._tags = [_Tag(name, tag, n) for n, (name, tag) in enumerate(device.tags.items(), 1)]
        self._backoff = Backoff(reconnect_initial_s, reconnect_max_s, rng)
        self._session: _Session | None = None
        self._generation = 0
        self._supervisor: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._log = logging.LoggerAdapter(log, {"device": device.id})

    # -- Source protocol ---------------------------------------------------------------------

    async def connect(self) -> None:
        """Start the session supervisor (idempotent) and wait for its first attempt.

        Never raises: a failed attempt leaves every reading bad with the reason and is retried
        in the background. Returns within about ``5 × timeout_s + 5`` seconds.
        """
        if self._supervisor is None or self._supervisor.done():
            # A plain task rather than a TaskGroup: it lives from connect() to close(), which
            # the agent calls from different places.
            self._supervisor = asyncio.create_task(
                self._supervise(), name=f"opcua-supervisor-{self.device_id}"
            )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._attempt_bound_s()):
                await self._first_attempt.wait()

    async def read(self) -> Sequence[Reading]:
        """One reading per configured tag, in configuration order; never raises.

        Subscription mode: each tag's latest notified value, stamped now (the live session
        vouches that it has not changed since). Polling mode: one Read service call for all
        tags; ``latency_s`` is its round trip.
        """
        if self.device.read_mode == "polling":
            return await self._poll()
        now = self._clock.timestamp()
        return [self._reading(tag, now) for tag in self._tags]

    async def close(self) -> None:
        """Stop the supervisor and close the session; later readings are bad ("source closed")."""
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        session, self._session = self._session, None
        if session is not None:
            await self._teardown(session)
        self._mark_all(CLOSED)

    # -- called by notification handlers and callbacks ----------------------------------------

    def is_current(self, session: _Session) -> bool:
        """True while ``session`` is the one the source reads from."""
        return self._session is session

    def mark_lost(self, session: _Session, reason: str) -> None:
        """Record that ``session`` is dead: every value turns bad now, the supervisor reconnects."""
        if not self.is_current(session) or session.lost.is_set():
            return
        session.lost_reason = reason
        session.lost.set()
        self._mark_all(f"{CONNECTION_LOST}: {reason}")

    # -- supervisor ---------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            try:
                session = await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure to connect is retried; its reason is kept
                reason = describe(exc)
                self._mark_all(f"connect failed: {reason}")
                self._first_attempt.set()
                delay_s = self._backoff.next_delay_s()
                if reason in _REFUSALS:
                    delay_s = max(delay_s, REFUSED_RETRY_S)
                self._log.log(
                    logging.ERROR if reason in _REFUSALS else logging.WARNING,
                    "device %s: connect to %s failed: %s; retrying in %.1f s",
                    self.device_id,
                    self.device.endpoint,
                    reason,
                    delay_s,
                )
                # Wall time, not plant time: a server restarts in wall seconds whatever the
                # simulated clock's speed.
                await asyncio.sleep(delay_s)
                continue
            self._backoff.reset()
            self._first_attempt.set()
            reason = await self._watch(session)
            self._session = None
            await self._teardown(session)
            delay_s = self._backoff.next_delay_s()
            self._log.warning(
                "device %s: session to %s lost: %s; reconnecting in %.1f s",
                self.device_id,
                self.device.endpoint,
                reason,
                delay_s,
            )
            await asyncio.sleep(delay_s)

    async def _open(self) -> _Session:
        """Connect, find the nodes and subscribe; the new session is current on return."""
        client = await new_client(self.device, watchdog_s=max(2.0, self.device.timeout_s))
        self._generation += 1
        session = _Session(client, self._generation)
        client.connection_lost_callback = self._lost_callback(session)
        try:
            async with asyncio.timeout(self._attempt_bound_s()):
                await client.connect()
                self._session = session
                for tag in self._tags:
                    tag.lookup, tag.monitored = None, False
                await self._attach(session, self._tags)
        except BaseException:
            self._session = None
            await self._teardown(session)
            raise
        self._log.info(
            "device %s: connected to %s (%s, %s)",
            self.device_id,
            self.device.endpoint,
            self.device.security_policy,
            self.device.read_mode,
        )
        return session

    def _lost_callback(self, session: _Session) -> Callable[[Exception], Coroutine[Any, Any, None]]:
        async def lost(exc: Exception) -> None:
            self.mark_lost(session, describe(exc))

        return lost

    async def _watch(self, session: _Session) -> str:
        """Wait until the session is lost; retry unfound or unmonitored tags meanwhile."""
        next_retry = time.monotonic() + ITEM_RETRY_S
        while not session.lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_STATE_CHECK_S):
                    await session.lost.wait()
            state = session.client.uaclient.state
            if not session.lost.is_set() and state is not UaClientState.CONNECTED:
                self.mark_lost(session, f"client {state.value}")
            if not session.lost.is_set() and time.monotonic() >= next_retry:
                next_retry = time.monotonic() + ITEM_RETRY_S
                await self._retry_failed(session)
        return session.lost_reason or CONNECTION_LOST

    async def _retry_failed(self, session: _Session) -> None:
        failed = [tag for tag in self._tags if not self._attached(tag)]
        if not failed:
            return
        try:
            await self._attach(session, failed)
        except Exception as exc:  # a failed service call here means the session is going
            self.mark_lost(session, describe(exc))

    def _attached(self, tag: _Tag) -> bool:
        if tag.lookup is None or tag.lookup.node_id is None:
            return False
        return tag.monitored or self.device.read_mode == "polling"

    async def _attach(self, session: _Session, tags: list[_Tag]) -> None:
        """Find ``tags``' nodes and, in subscription mode, monitor them and read them once."""
        lookups = await resolve(session.client, {tag.name: tag.config for tag in tags})
        for tag in tags:
            tag.lookup = lookups[tag.name]
            if tag.lookup.node_id is None:
                tag.sample = Sample(None, Quality.BAD, tag.lookup.reason)
        if self.device.read_mode == "subscription":
            await self._monitor(session, [tag for tag in tags if tag.lookup and tag.lookup.node_id])

    async def _monitor(self, session: _Session, tags: list[_Tag]) -> None:
        if not tags:
            return
        if session.subscription is None:
            session.subscription = await session.client.create_subscription(
                self._publishing_interval_ms(), _Notifications(self, session)
            )
        requests = []
        for tag in tags:
            session.handles[tag.handle] = tag
            requests.append(self._item_request(tag, tag.handle))
        results = await session.subscription.create_monitored_items(requests)
        for tag, result in zip(tags, results, strict=True):
            tag.monitored = not isinstance(result, ua.StatusCode)
            if isinstance(result, ua.StatusCode):
                tag.sample = Sample(None, Quality.BAD, result.name)
        # Seed values with one Read: notifications of initial values may lag, and read() right
        # after connect() (check-config) should show every value there is.
        await self._seed(session, [tag for tag in tags if tag.monitored])

    async def _seed(self, session: _Session, tags: list[_Tag]) -> None:
        if not tags:
            return
        node_ids = [tag.lookup.node_id for tag in tags if tag.lookup and tag.lookup.node_id]
        values = await session.client.uaclient.read_attributes(node_ids, AttributeIds.Value)
        for tag, data_value in zip(tags, values, strict=True):
            if tag.sample.reason is not None or tag.sample.raw is None:
                tag.sample = sample_from_data_value(data_value)

    def _item_request(self, tag: _Tag, handle: int) -> ua.MonitoredItemCreateRequest:
        if tag.lookup is None or tag.lookup.node_id is None:  # only found tags are monitored
            raise SourceError(
                self.device_id, f"tag {tag.name}: monitored before its node was found"
            )
        parameters = ua.MonitoringParameters()
        parameters.ClientHandle = handle
        parameters.SamplingInterval = self.device.effective_sampling_interval_s * 1000.0
        parameters.QueueSize = self.device.queue_size
        parameters.DiscardOldest = True
        deadband = tag.config.deadband if tag.config.deadband is not None else self.device.deadband
        if deadband > 0:
            parameters.Filter = ua.DataChangeFilter(
                Trigger=ua.DataChangeTrigger.StatusValue,
                DeadbandType=ua.DeadbandType.Absolute,
                DeadbandValue=deadband,
            )
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = ua.ReadValueId(
            NodeId=tag.lookup.node_id, AttributeId=AttributeIds.Value
        )
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = parameters
        return request

    def _publishing_interval_ms(self) -> float:
        # A 0 s sampling interval asks for the server's fastest; publishing that often would
        # only burn CPU, so notifications are batched at least every 100 ms.
        return max(100.0, self.device.effective_sampling_interval_s * 1000.0)

    def _attempt_bound_s(self) -> float:
        return 5 * self.device.timeout_s + 5.0

    async def _teardown(self, session: _Session) -> None:
        """Close ``session``'s client; a dead transport is dropped without talking to it."""
        client = session.client
        alive = client.uaclient.state is UaClientState.CONNECTED and not session.lost.is_set()
        with contextlib.suppress(Exception, TimeoutError):
            async with asyncio.timeout(self.device.timeout_s * 2):
                if alive:
                    await client.disconnect()
                    return
                # disconnect() on a dead transport logs its failures as errors with tracebacks;
                # close_session() stops asyncua's tasks, the socket is then dropped quietly.
                await client.close_session()
        client.disconnect_socket()

    # -- polling ------------------------------------------------------------------------------

    async def _poll(self) -> list[Reading]:
        session = self._session
        tags = [tag for tag in self._tags if tag.lookup is not None and tag.lookup.node_id]
        if session is None or session.lost.is_set() or not tags:
            now = self._clock.timestamp()
            return [self._reading(tag, now) for tag in self._tags]
        node_ids = [tag.lookup.node_id for tag in tags if tag.lookup and tag.lookup.node_id]
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.device.timeout_s):
                values = await session.client.uaclient.read_attributes(node_ids, AttributeIds.Value)
        except TimeoutError:
            reason = f"timeout after {self.device.timeout_s:g} s"
            for tag in tags:
                tag.sample = Sample(None, Quality.BAD, reason)
        except Exception as exc:  # the Read failed as a whole: the session is in doubt
            self.mark_lost(session, describe(exc))
        else:
            for tag, data_value in zip(tags, values, strict=True):
                tag.sample = sample_from_data_value(data_value)
        latency_s = time.monotonic() - started
        now = self._clock.timestamp()
        return [self._reading(tag, now, latency_s) for tag in self._tags]

    # -- readings -----------------------------------------------------------------------------

    def _reading(self, tag: _Tag, now: float, latency_s: float | None = None) -> Reading:
        sample = tag.sample
        if sample.quality is Quality.BAD:
            return Reading(tag.name, None, sample.raw, Quality.BAD, sample.reason, now, None)
        value, problem = scaled_value(sample.raw, tag.config.scale, tag.config.offset)
        if problem is not None:
            return Reading(tag.name, None, sample.raw, Quality.BAD, problem, now, sample.source_ts)
        return Reading(
            tag.name,
            value,
            sample.raw,
            sample.quality,
            sample.reason,
            now,
            sample.source_ts,
            latency_s,
        )

    def _mark_all(self, reason: str) -> None:
        for tag in self._tags:
            tag.sample = Sample(None, Quality.BAD, reason)


def describe(exc: BaseException) -> str:
    """A one-line reason for a failure: the OPC UA status name where there is one."""
    if isinstance(exc, UaStatusCodeError):
        return ua.StatusCode(exc.code).name
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionError) and str(exc):
        return str(exc).lower()  # asyncua's own: "transport lost", "connection is closed"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
