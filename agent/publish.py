"""The publisher: sealed batches from the outbox to the broker, deleted on PUBACK, or, with
``delivery.confirm`` keeping them, on the collector's confirmation (:mod:`agent.delivery`).

paho-mqtt 2.x, MQTT v5, QoS 1. paho runs its network loop in its own thread (``loop_start``):
its callbacks are handed to the asyncio loop with ``call_soon_threadsafe``, so every outbox
access happens on the asyncio side, one at a time.

Delivery rules:
- At most ``max_inflight`` batches are sealed and unacknowledged at once; a new batch is sealed
  only when one is acknowledged, so a broker outage leaves windows pending (mergeable) rather
  than sealed.
- Within one process paho re-sends in-flight messages after a reconnect; after a restart the
  outbox's unacknowledged batches are published again, byte for byte, in seq order.
- A PUBACK with reason 16 (*no matching subscribers*) means the broker delivered the batch to
  nobody: no collector session exists. It is not deleted; the publisher pauses and tries again,
  because deleting it would lose it.
- Any other failure reason code (not authorised, quota exceeded, packet too large ...) keeps the
  batch, is reported as the last error, and is retried with backoff.
- Each batch sealed is queued for the day ledger in its transaction; about once a second, and
  when the publisher drains at stop, the queue is folded into the device-day parts in one
  transaction (:meth:`agent.outbox.Outbox.fold_batches`): one part state written a part a
  second instead of one a part a batch, off the send path.
- Day seals (:mod:`agent.day_ledger`) go on their own topic after the window batches, through
  the same outbox rows, seq counter and PUBACK rule. Backoff is kept per kind: a seal refused
  (a broker ACL not yet granting ``…/day_seals``, reason 16 from a collector that predates
  seals) backs off seals only, and windows keep flowing.
- At a clean stop (:meth:`Publisher.drain`), once the windows are sent, every day the plant
  clock has closed is sealed without waiting out the grace, and its seal sent before the exit.

Why one module of ~770 lines: the send loop, the PUBACK handling and the drain share one
in-flight table and one backoff per kind, and each path must be read beside the others to see
that no batch goes twice past ``max_inflight`` or is deleted unsent. It grew past 600 with the
confirmations (#19) and the seal at stop (#17); the drain (two loops sharing one publishing
round) is the part to move out next.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from agent import __version__
from agent.config import BrokerConfig, DeliveryConfig, LoadedConfig
from agent.day_ledger import DayDraft
from agent.delivery import Delivery
from agent.outbox import BatchKind, EnvelopeMaker, Outbox, OutboxError, OutboxStats, SealedBatch
from contract import wire
from contract.clock import Clock
from contract.ed25519 import Signer

__all__ = ["Identity", "Publisher", "PublisherState", "publisher_for", "sign_day_seal"]

log = logging.getLogger(__name__)

_NO_MATCHING_SUBSCRIBERS = 16
_RETRY_MIN_S = 1.0
_RETRY_MAX_S = 30.0
#: Seconds between two looks for device-days due for a seal (a few small queries each).
_SEAL_CHECK_S = 1.0
#: Seconds between two folds of the batches sent into their day parts: long enough that a part
#: takes many windows a write in a stream, short enough that the queue stays small.
_FOLD_S = 1.0
#: Day seals issued per transaction at a stop (a few thousand device-days after a long outage).
_STOP_SEALS_AT_ONCE = 64
_KINDS: tuple[BatchKind, ...] = ("windows", "day_seals")
_NOUN = {"windows": "batch", "day_seals": "day seal"}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the agent is on the wire."""

    platform: str
    enterprise: str
    agent: str


@dataclass
class PublisherState:
    """What status, metrics and health report about publishing."""

    connected: bool = False
    last_error: str | None = None
    last_ack_ts: float | None = None
    batches_published: int = 0
    batches_acked: int = 0
    records_acked: int = 0
    publish_failures: int = 0
    ack_latency_sum_s: float = 0.0
    day_seals_published: int = 0
    day_seals_acked: int = 0
    #: mid -> (seq, published at, records, kind)
    inflight: dict[int, tuple[int, float, int, BatchKind]] = field(default_factory=dict)


@dataclass
class _Backoff:
    """When one kind of message may be published again, and the next delay if refused again."""

    retry_at: float = 0.0
    delay_s: float = _RETRY_MIN_S

    def back_off(self) -> None:
        self.retry_at = time.monotonic() + self.delay_s
        self.delay_s = min(self.delay_s * 2, _RETRY_MAX_S)

    def reset(self) -> None:
        self.delay_s = _RETRY_MIN_S

    def waiting(self) -> bool:
        return time.monotonic() < self.retry_at


class Publisher:
    """Moves batches from the outbox to the broker for as long as :meth:`run` runs."""

    def __init__(
        self,
        broker: BrokerConfig,
        identity: Identity,
        key: Signer,
        outbox: Outbox,
        outbox_lock: asyncio.Lock,
        *,
        clock: Clock,
        agent_version: str,
        config_digest: str,
        max_inflight: int = 8,
        batch_records: int = wire.MAX_RECORDS,
        status_interval_s: float = 30.0,
        seal_grace_s: int = 300,
        devices: Collection[str] | None = None,
        delivery: DeliveryConfig | None = None,
    ) -> None:
        self.broker = broker
        self.identity = identity
        self.key = key
        self.outbox = outbox
        self.outbox_lock = outbox_lock
        self.clock = clock
        self.agent_version = agent_version
        self.config_digest = config_digest
        self.max_inflight = max_inflight
        self.batch_records = batch_records
        self.status_interval_s = status_interval_s
        self.seal_grace_s = seal_grace_s
        #: The configured devices (None: those the outbox has measured progress for).
        self.devices = None if devices is None else frozenset(devices)
        self.state = PublisherState()
        self.windows_topic = wire.windows_topic(
            identity.platform, identity.enterprise, identity.agent
        )
        self.status_topic = wire.status_topic(
            identity.platform, identity.enterprise, identity.agent
        )
        self.topics: dict[BatchKind, str] = {
            "windows": self.windows_topic,
            "day_seals": wire.day_seals_topic(
                identity.platform, identity.enterprise, identity.agent
            ),
        }
        self._wake = asyncio.Event()
        self._connected = asyncio.Event()
        self._publishing = asyncio.Lock()
        self._backoff = {kind: _Backoff() for kind in _KINDS}
        self._resend_from_outbox: set[BatchKind] = set(_KINDS)
        self._last_seal_check = -_SEAL_CHECK_S
        self._last_fold = time.monotonic()
        self._last_status_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ack_tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        #: Confirmations from the collector (#19): with ``confirm: off`` (the default) a
        #: PUBACK is enough, as before.
        self.delivery = Delivery(
            delivery or DeliveryConfig(),
            (identity.platform, identity.enterprise, identity.agent),
            outbox,
            outbox_lock,
        )
        self._last_resend_check = 0.0
        self._client = self._make_client()

    # --- paho client ----------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.broker.client_id or self.identity.agent,
            protocol=mqtt.MQTTv5,
        )
        if self.broker.tls is not None:
            tls = self.broker.tls
            client.tls_set(
                ca_certs=str(tls.ca_path),
                certfile=str(tls.cert_path) if tls.cert_path else None,
                keyfile=str(tls.key_path) if tls.key_path else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        if self.broker.username is not None:
            password = self.broker.password.get_secret_value() if self.broker.password else None
            client.username_pw_set(self.broker.username, password)
        # paho's own reconnect loop: quick first retries, capped low so recovery after a
        # broker restart takes seconds, not minutes (the ThingsBoard gateway's 120-s cap).
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.max_inflight_messages_set(self.max_inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _status_bytes(self, state: str, stats: OutboxStats | None) -> bytes:
        message = wire.seal_status(
            platform=self.identity.platform,
            enterprise=self.identity.enterprise,
            agent=self.identity.agent,
            sent=_now_ms(self.clock),
            state="online" if state == "online" else "offline",
            agent_version=self.agent_version,
            config_digest=self.config_digest,
            outbox_depth=0 if stats is None else stats.pending_windows + stats.sealed_batches,
            outbox_full=False if stats is None else stats.full,
            last_error=self.state.last_error,
            key=self.key,
        )
        return wire.encode(message)

    # Callbacks run in paho's thread: hand each over to the asyncio loop.

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if not reason.is_failure and self.delivery.topic is not None:
            # On every connect: the agent's session is not kept, nor its subscription.
            self._client.subscribe(self.delivery.topic, qos=1)
        self._call_soon(self._connected_in_loop, reason.is_failure, str(reason))

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        self._call_soon(self._disconnected_in_loop, str(reason))

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reason: ReasonCode,
        _props: Properties,
    ) -> None:
        self._call_soon(self._acked_in_loop, mid, reason.value, str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Only the confirmations topic is subscribed to (the broker's ACL lets this agent read
        # nothing else).
        self._call_soon(self._confirmation_in_loop, bytes(message.payload))

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback, *args)

    # --- the asyncio side -----------------------------------------------------------------

    def _connected_in_loop(self, failed: bool, reason: str) -> None:
        if failed:
            self.state.last_error = f"broker refused the connection: {reason}"
            log.error("broker %s refused the connection: %s", self.broker.host, reason)
            return
        self.state.connected = True
        self._connected.set()
        self._last_status_at = 0.0  # publish a birth now
        log.info("connected to broker %s:%d", self.broker.host, self.broker.port)
        self._wake.set()

    def _disconnected_in_loop(self, reason: str) -> None:
        if self.state.connected and not self._closing:
            log.warning("lost the broker connection (%s); paho reconnects", reason)
        self.state.connected = False
        self._connected.clear()

    def _acked_in_loop(self, mid: int, code: int, reason: str) -> None:
        entry = self.state.inflight.get(mid)
        if entry is None:
            return  # a status message
        seq, published_at, records, kind = entry
        del self.state.inflight[mid]
        if code == 0:
            latency_s = time.monotonic() - published_at
            task = asyncio.ensure_future(self._ack(seq, records, latency_s, kind))
            self._ack_tasks.add(task)  # keep a reference until done (asyncio holds only weak ones)
            task.add_done_callback(self._ack_tasks.discard)
            return
        self.state.publish_failures += 1
        noun = _NOUN[kind]
        if code == _NO_MATCHING_SUBSCRIBERS:
            why = "collector down?" if kind == "windows" else "collector down or older than seals?"
            self.state.last_error = (
                f"broker has no subscriber for our {kind.replace('_', ' ')} ({why})"
            )
        else:
            self.state.last_error = f"broker refused {noun} seq {seq}: {reason}"
        log.warning("%s seq %d not accepted (%s); kept, retrying later", noun, seq, reason)
        self._resend_from_outbox.add(kind)
        self._backoff[kind].back_off()

    def _confirmation_in_loop(self, payload: bytes) -> None:
        task = asyncio.ensure_future(self._confirmed(payload))
        self._ack_tasks.add(task)  # keep a reference until done (asyncio holds only weak ones)
        task.add_done_callback(self._ack_tasks.discard)

    async def _confirmed(self, payload: bytes) -> None:
        try:
            if await self.delivery.received(payload):
                self._wake.set()  # room for new batches
        except OutboxError as exc:  # the batches go again after the timeout: no loss
            self.state.last_error = f"outbox not writable: {exc}"
            log.error("confirmation received but the outbox could not forget its batches: %s",
                      exc)  # fmt: skip

    async def _ack(self, seq: int, records: int, latency_s: float, kind: BatchKind) -> None:
        try:
            await self.delivery.acked(seq)
        except OutboxError as exc:
            # The broker has the batch but the outbox could not forget it (disk full): it
            # stays sealed and goes again later, a duplicate the collector counts, not a loss.
            self.state.last_error = f"outbox not writable: {exc}"
            log.error("%s seq %d acknowledged but not removed from the outbox: %s", _NOUN[kind],
                      seq, exc)  # fmt: skip
            self._resend_from_outbox.add(kind)
            self._back_off()
            return
        if kind == "day_seals":
            self.state.day_seals_acked += 1
        else:
            self.state.batches_acked += 1
            self.state.records_acked += records
            self.state.ack_latency_sum_s += latency_s
        self.state.last_ack_ts = self.clock.timestamp()
        self._backoff[kind].reset()
        noun = _NOUN[kind]
        if self.state.last_error and (
            f"refused {noun} " in self.state.last_error
            or f"our {kind.replace('_', ' ')} " in self.state.last_error
        ):
            self.state.last_error = None
        log.debug("%s seq %d acknowledged after %.3f s", noun, seq, latency_s)
        self._wake.set()

    def _back_off(self) -> None:
        for backoff in self._backoff.values():
            backoff.back_off()

    def wake(self) -> None:
        """New windows are in the outbox: publish soon."""
        self._wake.set()

    # --- main loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and publish until cancelled; never raises for broker or network faults."""
        self._loop = asyncio.get_running_loop()
        await self.delivery.start()
        async with self.outbox_lock:
            stats = await asyncio.to_thread(self.outbox.stats)
        self._client.will_set(
            self.status_topic, self._status_bytes("offline", stats), qos=1, retain=True
        )
        self._client.connect_async(
            self.broker.host, self.broker.port, keepalive=self.broker.keepalive_s
        )
        self._client.loop_start()
        try:
            while True:
                await self._connected.wait()
                try:
                    await self._publish_due()
                except OutboxError as exc:
                    # Disk full or the file unwritable: nothing can be sealed or forgotten now.
                    # Say so and try again later; never let the publisher end quietly.
                    if not (self.state.last_error or "").startswith("outbox not writable"):
                        log.error("outbox not writable (%s); publishing paused, retrying", exc)
                    self.state.last_error = f"outbox not writable: {exc}"
                    self._back_off()
                self._wake.clear()
                try:
                    async with asyncio.timeout(self._next_wakeup_s()):
                        await self._wake.wait()
                except TimeoutError:
                    pass
        finally:
            self._client.loop_stop()

    def _next_wakeup_s(self) -> float:
        now = time.monotonic()
        waits = [b.retry_at - now for b in self._backoff.values() if b.retry_at > now]
        return max(0.05, min([1.0, *waits]))

    async def _publish_due(self) -> None:
        # run() and drain() (a stopping agent) both publish what is due: one at a time, or both
        # resend the same unacknowledged batch (one after its PUBACK came) and seal past
        # max_inflight.
        async with self._publishing:
            await self._publish_due_now()

    async def _publish_due_now(self) -> None:
        if time.monotonic() - self._last_status_at >= self.status_interval_s:
            await self.publish_status("online")
        ready = {kind for kind in _KINDS if not self._backoff[kind].waiting()}
        if ready & self._resend_from_outbox:
            await self._resend_unacked(ready & self._resend_from_outbox)
        if time.monotonic() - self._last_resend_check >= _SEAL_CHECK_S:
            await self._resend_unconfirmed(ready)
        if "windows" in ready:
            await self._publish_windows()
        if "day_seals" in ready:
            await self._publish_day_seals()
        if time.monotonic() - self._last_fold >= _FOLD_S:
            await self.fold()

    async def fold(self) -> None:
        """Fold the batches sent into their day parts now; logs, never raises, what fails.

        An OutboxError (disk full) or a record that cannot be folded leaves the queue as it
        was: every batch stays queued, and no day is sealed, until a later fold succeeds.
        """
        self._last_fold = time.monotonic()
        try:
            async with self.outbox_lock:
                folded = await asyncio.to_thread(self.outbox.fold_batches)
        except OutboxError as exc:  # disk full: as every other write, one log line, retried
            if not (self.state.last_error or "").startswith("outbox not writable"):
                log.error("outbox not writable (%s); day ledger not folded, retrying", exc)
            self.state.last_error = f"outbox not writable: {exc}"
            return
        except ValueError as exc:
            error = f"day ledger not folded: {exc}"
            if self.state.last_error != error:
                log.error("batches sent not folded into their days, day seals held; retrying: "
                          "%s", exc)  # fmt: skip
            self.state.last_error = error
            return
        if folded:
            log.debug("folded %d windows sent into their day parts", folded)

    async def _resend_unconfirmed(self, ready: set[BatchKind]) -> None:
        # Kept past the broker's PUBACK and not confirmed stored in time: again, same bytes.
        self._last_resend_check = time.monotonic()
        in_flight = {seq for seq, *_ in self.state.inflight.values()}
        room = self.max_inflight - len(self.state.inflight)
        for batch in await self.delivery.due_again(room, in_flight):
            if batch.kind in ready and self.state.connected:
                self._publish(batch)

    async def _publish_windows(self) -> None:
        # Past max_awaiting_batches kept for a confirmation, windows wait as pending rows.
        room = await self.delivery.room(len(self.state.inflight))
        while room > 0 and self.state.connected:
            room -= 1
            async with self.outbox_lock:
                # Counted under the lock: a store may have sealed and published one meanwhile.
                if len(self.state.inflight) >= self.max_inflight:
                    return
                batch = await asyncio.to_thread(
                    self.outbox.seal_batch, self.batch_records, self.seal_envelope
                )
            if batch is None:
                return
            self._publish(batch)

    def sealing(self) -> tuple[int, EnvelopeMaker] | None:
        """How a store may seal the pending windows in its own transaction now (batch size,
        envelope maker), or None where this publisher would not seal them next.

        :class:`agent.storing.WindowStore` asks under the outbox lock and hands the batch to
        :meth:`publish_sealed`. None while disconnected or stopping, at ``max_inflight``, while
        window batches back off or wait to be sent again (those go first, oldest seq first),
        and while batches are kept for the collector's confirmation (their room is counted by
        :meth:`_publish_windows` alone).
        """
        ready = (
            self.state.connected
            and not self._closing
            and len(self.state.inflight) < self.max_inflight
            and not self._backoff["windows"].waiting()
            and "windows" not in self._resend_from_outbox
            and not self.delivery.state.keeping
        )
        return (self.batch_records, self.seal_envelope) if ready else None

    def publish_sealed(self, batch: SealedBatch) -> None:
        """Publish a batch a store sealed in its transaction (see :meth:`sealing`)."""
        self._publish(batch)

    async def _publish_day_seals(self) -> None:
        # After the windows: a day is sealed only once its windows are batched (no pending
        # window ends in it), so its seal's seq follows theirs.
        room = self.max_inflight - len(self.state.inflight)
        now = time.monotonic()
        if room <= 0 or not self.state.connected or now - self._last_seal_check < _SEAL_CHECK_S:
            return
        self._last_seal_check = now
        try:
            async with self.outbox_lock:
                sealed = await asyncio.to_thread(
                    self.outbox.seal_days,
                    now=self.clock.timestamp(),
                    grace_s=self.seal_grace_s,
                    devices=self.devices,
                    make_day_seal=self.sign_day_seal,
                    limit=room,
                )
        except ValueError as exc:  # a queued record that cannot be folded: no day is judged
            error = f"day ledger not folded: {exc}"
            if self.state.last_error != error:
                log.error("day seals held, retrying: %s", exc)
            self.state.last_error = error
            return
        self._last_fold = time.monotonic()  # it folded first
        for batch in sealed:
            self._publish(batch)

    def sign_day_seal(self, draft: DayDraft) -> bytes:
        """The signed bytes of the day seal ``draft`` describes."""
        return sign_day_seal(draft, self.identity, self.key, _now_ms(self.clock))

    async def _resend_unacked(self, kinds: set[BatchKind]) -> None:
        # After a restart or a refused message: everything of these kinds sealed and not
        # acknowledged goes again, oldest first, with the bytes it had.
        async with self.outbox_lock:
            unacked = await asyncio.to_thread(self.outbox.unacked)
        pending = {seq for seq, *_ in self.state.inflight.values()}
        for batch in unacked:
            if batch.kind in kinds and batch.seq not in pending:
                self._publish(batch)
        self._resend_from_outbox -= kinds

    def seal_envelope(self, seq: int, records: list[bytes]) -> bytes:
        """The signed envelope of batch ``seq`` holding ``records`` (canonical bytes)."""
        return wire.seal_envelope_bytes(
            platform=self.identity.platform,
            enterprise=self.identity.enterprise,
            agent=self.identity.agent,
            seq=seq,
            sent=_now_ms(self.clock),
            records=records,
            key=self.key,
        )

    def _publish(self, batch: SealedBatch) -> None:
        info = self._client.publish(self.topics[batch.kind], batch.envelope, qos=1)
        # No await between publish() and this line: the PUBACK callback, handed over by
        # call_soon_threadsafe, can only run after the mid is recorded.
        self.state.inflight[info.mid] = (batch.seq, time.monotonic(), batch.records, batch.kind)
        if batch.kind == "day_seals":
            self.state.day_seals_published += 1
        else:
            self.state.batches_published += 1
        log.debug("published %s seq %d (%d records, %d bytes)", _NOUN[batch.kind], batch.seq,
                  batch.records, len(batch.envelope))  # fmt: skip

    async def publish_status(self, state: str) -> None:
        """Publish the retained status (birth ``online`` or an explicit ``offline``)."""
        async with self.outbox_lock:
            stats = await asyncio.to_thread(self.outbox.stats)
        self._client.publish(
            self.status_topic, self._status_bytes(state, stats), qos=1, retain=True
        )
        self._last_status_at = time.monotonic()

    async def drain(self, timeout_s: float, *, seal_closed_days: bool = True) -> bool:
        """Send what is left, then seal the closed days and send their seals; True if every
        window went (none in flight, pending or sealed) within ``timeout_s``.

        With ``seal_closed_days`` (a clean stop), once the windows are sent every day the plant
        clock has closed is sealed at once, without waiting out ``seal_grace_s``
        (:meth:`seal_closed_days` says why that is safe), and the drain waits, within the same
        ``timeout_s``, for the broker to acknowledge the seals. A seal the broker refuses (an
        ACL that predates seals) ends that wait: it stays in the outbox for the next run, so a
        stop never waits out the timeout for it.
        """
        deadline = time.monotonic() + timeout_s
        try:
            drained = await self._drain_windows(deadline)
            if seal_closed_days:
                sealed = await self.seal_closed_days()
                if not await self._drain_day_seals(deadline):
                    log.warning("stopping with %d day seals not acknowledged (%d sealed at this "
                                "stop); they go on the next run", await self._day_seals_left(),
                                sealed)  # fmt: skip
            return drained
        finally:
            # What was sent is folded before the agent stops: the next run starts with no queue
            # unless this fold fails (then the queue waits for it, which is safe, only later).
            await self.fold()

    async def seal_closed_days(self) -> int:
        """Seal every day the plant clock has closed now, without the grace; the seals issued.

        For a clean stop, once every window of this run is in the outbox: the device tasks
        have ended, every store they started has committed and every open window was closed
        (partial) at the stop. ``seal_grace_s`` is there for windows still on their way: a
        window closed at the day's end but not stored yet, a batch sent but not folded. At a
        stop neither can come any more: this run makes no window, the fold below runs in the
        seal's own transaction, and the next run starts from the outbox's progress (past the
        day's end), so its windows fill time after it. A day still waits for what the ledger
        can see: a window not sent yet (``pending``), a device whose progress is short of the
        day's end. An import into a sealed day gives it a version 2, as it would after the
        grace. The current day is not closed, so it is not sealed (the next run seals it).
        The caller must not call this while windows are held in memory (outbox unwritable):
        they are lost at the exit and the next run fills their time as comm loss, into the
        day. Never raises for the outbox: a failure is logged and the seals wait for the next
        run's grace.
        """
        sealed = 0
        while True:
            try:
                async with self.outbox_lock:
                    batches = await asyncio.to_thread(
                        self.outbox.seal_days,
                        now=self.clock.timestamp(),
                        grace_s=0,
                        devices=self.devices,
                        make_day_seal=self.sign_day_seal,
                        limit=_STOP_SEALS_AT_ONCE,
                    )
            except (OutboxError, ValueError) as exc:
                log.error("day seals not issued at stop, the next run seals them: %s", exc)
                return sealed
            sealed += len(batches)
            if len(batches) < _STOP_SEALS_AT_ONCE:
                break
        if sealed:
            log.info("sealed %d closed device-days at stop", sealed)
            # Published by the drain, with every seal still unacknowledged, in seq order.
            self._resend_from_outbox.add("day_seals")
            self._wake.set()
        return sealed

    async def _drain_windows(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if self.state.connected:
                try:
                    await self._publish_due()
                except OutboxError as exc:
                    log.error("outbox not writable while draining: %s", exc)
                    return False
            async with self.outbox_lock:
                stats = await asyncio.to_thread(self.outbox.stats)
            windows_in_flight = any(k == "windows" for *_, k in self.state.inflight.values())
            window_batches = stats.sealed_batches - stats.sealed_day_seals
            if not windows_in_flight and stats.pending_windows == 0 and window_batches == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    async def _drain_day_seals(self, deadline: float) -> bool:
        """Until no day seal is left in the outbox (True), one is refused, or the deadline."""
        while time.monotonic() < deadline:
            if self.state.connected:
                try:
                    await self._publish_due()
                except OutboxError as exc:
                    log.error("outbox not writable while draining: %s", exc)
                    return False
            if await self._day_seals_left() == 0:
                return True
            in_flight = any(k == "day_seals" for *_, k in self.state.inflight.values())
            if not in_flight and self._backoff["day_seals"].waiting():
                return False  # refused: kept for the next run
            await asyncio.sleep(0.05)
        return False

    async def _day_seals_left(self) -> int:
        async with self.outbox_lock:
            stats = await asyncio.to_thread(self.outbox.stats)
        return stats.sealed_day_seals

    async def close(self) -> None:
        """Say ``offline`` (retained) and disconnect cleanly."""
        self._closing = True
        if self.state.connected:
            await self.publish_status("offline")
            await asyncio.sleep(0.1)
        self._client.disconnect()
        self._client.loop_stop()
        # paho closes the socket pair of loop_start() only in reinitialise() or when the client
        # is garbage-collected (eclipse-paho/paho.mqtt.python#627); our callbacks keep it in a
        # cycle with this publisher, so that would be whenever the cycle collector runs, with
        # a ResourceWarning. The client is done with: reset it, which closes them now.
        self._client.reinitialise()


def publisher_for(
    loaded: LoadedConfig,
    key: Signer,
    outbox: Outbox,
    outbox_lock: asyncio.Lock,
    clock: Clock,
) -> Publisher:
    """The publisher of the agent ``loaded`` configures (``run`` and ``retire`` both use it)."""
    config = loaded.config
    return Publisher(
        config.broker,
        Identity(config.agent.platform, config.agent.enterprise, config.agent.id),
        key,
        outbox,
        outbox_lock,
        clock=clock,
        agent_version=__version__,
        config_digest=loaded.digest,
        seal_grace_s=config.agent.seal_grace_s,
        devices=[device.id for device in config.devices],
        delivery=config.delivery,
    )


def sign_day_seal(draft: DayDraft, identity: Identity, key: Signer, sent: datetime) -> bytes:
    """The published bytes of the day seal ``draft`` describes, signed by ``key``.

    Raises ValueError (pydantic's ValidationError) if a field is out of contract.
    """
    message = wire.seal_day_seal(
        platform=identity.platform,
        enterprise=identity.enterprise,
        agent=identity.agent,
        seq=draft.seq,
        sent=sent,
        device=draft.device,
        day=draft.day,
        tz=draft.tz,
        version=draft.version,
        supersedes=draft.supersedes,
        index=draft.index,
        prev=draft.prev,
        dropped_windows=draft.dropped_windows,
        parts=draft.parts,
        key=key,
    )
    return wire.encode(message)


def _now_ms(clock: Clock) -> datetime:
    return datetime.fromtimestamp(round(clock.timestamp() * 1000) / 1000, UTC)
