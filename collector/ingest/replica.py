"""``retrofit-collector ingest``: MQTT → checks → InfluxDB, acknowledging only what is stored.

paho-mqtt 2.x, MQTT v5, a persistent session (clean start off, session expiry set) on a shared
subscription, so N replicas split the load and the broker keeps what none has taken yet.
``manual_ack``: a message is acknowledged only after its points are written to InfluxDB (and
its days marked for a rollup refresh), or after it is kept in the quarantine with its reason;
acknowledgements leave in receive order (MQTT v5 §4.6, :mod:`collector.ingest.acks`).

Memory stays bounded without any queue of our own growing: the CONNECT asks for a *receive
maximum* of ``inflight`` messages, and the broker never sends more unacknowledged QoS 1
messages than that. While InfluxDB is down nothing is acknowledged, so the broker holds the
rest (in the session, on disk) and ingest resumes by itself when writes succeed again.

Every message, in order: size limit, wire decoding (canonical, strict), topic = payload
identity = registry entry, agent not revoked, devices registered, signature, seq
(new / duplicate / replay). Duplicates are counted and written again (idempotent: same series,
same timestamp); replays (an old seq with new content) are quarantined; gaps are recorded by
the registry and close when the missing seq arrives.

Batches are pipelined: a batch closes at ``inflight / 2`` messages, so the broker sends the
next while one is handled; batches are checked and their seqs recorded one after another,
while up to WRITES_IN_FLIGHT earlier ones are written (docs/performance.md, #6).

Threads: paho's network loop runs in its own thread (``loop_start``) and hands messages to
the asyncio loop with ``call_soon_threadsafe``; registry calls (sqlite3) run in a single worker
thread so they never interleave.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import gc
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collector.errors import RegistryUnavailable
from collector.ingest.acks import AckOrder
from collector.ingest.quarantine_log import QuarantineLog
from collector.ingest.rollups import RollupDebounce
from collector.ingest.settings import IngestSettings
from collector.store import (
    AuthFailed,
    DayKey,
    InfluxStore,
    NotFound,
    StoreError,
    WindowRecord,
    affected_days,
    window_records,
)
from contract import wire

__all__ = ["Ingest", "IngestRegistry", "IngestStats", "tune_gc_for_ingest"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)

SeqOutcome = Literal["new", "duplicate", "replay"]
#: Batches whose InfluxDB write may be in flight at once. The receive maximum bounds what is
#: held in memory; this only bounds concurrent requests when many small batches wait.
WRITES_IN_FLIGHT = 4
_T = TypeVar("_T")


def tune_gc_for_ingest() -> None:
    """Set this process's garbage collector for ingest; call once, after the imports.

    Every window allocates a few dozen short-lived objects (pydantic models, dicts, strings)
    and almost none live in cycles, yet CPython 3.11 runs a young collection every 700
    allocations and now and then a full one over every object of the process (~100,000 from
    imports alone). Freezing what exists at start-up keeps full collections off those, and a
    young generation of 10,000 collects a tenth as often: ~5-8 % of ingest's CPU in a
    micro-profile. Cyclic garbage is still collected, only less often.
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


class AgentIdentity(Protocol):
    """What ingest needs to know of a registered agent (``collector.registry.AgentEntry``)."""

    @property
    def platform(self) -> str: ...

    @property
    def enterprise(self) -> str: ...

    @property
    def devices(self) -> tuple[str, ...]: ...

    def revoked_as_of(self, moment: dt.datetime) -> bool: ...

    def key(self) -> Ed25519PublicKey: ...


class IngestRegistry(Protocol):
    """The registry calls ingest makes (``collector.registry.Registry`` implements them)."""

    def agent_identity(self, agent_id: str) -> AgentIdentity | None: ...

    def record_seqs(
        self, items: Sequence[tuple[str, int, str]], *, received_at: dt.datetime | None = None
    ) -> list[SeqOutcome]: ...

    def quarantine_add(
        self,
        raw: bytes,
        topic: str,
        received_at: dt.datetime,
        reason_code: str,
        detail: str,
        agent_id: str | None = None,
    ) -> int: ...

    def record_status(self, status: wire.StatusMessage, received_at: dt.datetime) -> bool: ...

    def enterprise_zone(self, enterprise: str) -> str: ...

    def mark_days_dirty(self, days: Iterable[tuple[str, str, dt.date, str]]) -> None: ...

    def dirty_days(self, limit: int = 1000) -> list[tuple[str, str, dt.date, str, int]]: ...

    def clear_dirty_days(self, done: Iterable[tuple[str, str, dt.date, int]]) -> None: ...


@dataclass
class IngestStats:
    """Counters for /metrics and the logs."""

    received: Counter[str] = field(default_factory=Counter)  # by kind: windows, status, other
    written_records: int = 0
    written_batches: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)  # by reason code
    store_retries: int = 0
    registry_retries: int = 0
    rollup_failures: int = 0
    write_latency_sum_s: float = 0.0
    inflight: int = 0
    connected: bool = False
    last_write_ts: float | None = None
    last_error: str | None = None


@dataclass
class _Message:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: dt.datetime


_Accepted = tuple[_Message, list[WindowRecord]]


class _Refused(Exception):
    """A message that goes to the quarantine: ``code`` is the reason, the text its detail."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        super().__init__(detail)


class Ingest:
    """One ingest replica. ``await run(stop)`` until ``stop`` is set."""

    def __init__(self, settings: IngestSettings, registry: IngestRegistry, store: InfluxStore):
        self.settings = settings
        self.registry = registry
        self.store = store
        self.stats = IngestStats()
        self._queue: asyncio.Queue[_Message] = asyncio.Queue()
        self._acks: AckOrder[_Message] = AckOrder(self._ack)
        self._quarantine_log = QuarantineLog(
            log,
            lambda delay_s, summarise: asyncio.get_running_loop().call_later(delay_s, summarise),
            burst=settings.quarantine_log_burst,
            every_s=settings.quarantine_log_every_s,
        )
        # Half the receive maximum: the broker sends the next batch while one is written.
        self._batch_messages = max(1, settings.inflight // 2)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retired = False
        #: Set when this replica disconnects on purpose: its own DISCONNECT is no lost link.
        self._leaving = False
        self._connected_once = asyncio.Event()
        self._registry_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="registry"
        )
        self._client = self._make_client()

    # --- paho -----------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if s.tls_ca is not None:
            client.tls_set(ca_certs=s.tls_ca, certfile=s.tls_cert, keyfile=s.tls_key)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties:
        # paho 2.2 leaves Properties.__init__ unannotated.
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.settings.session_expiry_s
        properties.ReceiveMaximum = self.settings.inflight
        return properties

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._call_soon(self._note_error, f"broker refused the connection: {reason}")
            return
        # Subscribe on every connect, session present or not: mosquitto 2.0.11 restores a
        # persistent session after a restart but not its shared subscriptions
        # (docs/field-notes.md). Status goes on a plain subscription: a shared one never
        # receives retained messages, and every replica may update the registry (idempotent).
        if self.settings.retire:
            # Retiring: take no new share of the windows, only what the session holds.
            client.unsubscribe(
                [wire.shared_filter(self.settings.group, "windows"), wire.STATUS_FILTER]
            )
        else:
            client.subscribe(
                [
                    (wire.shared_filter(self.settings.group, "windows"), 1),
                    (wire.STATUS_FILTER, 1),
                ]
            )
        self._call_soon(self._note_connected, flags.session_present)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if self._leaving:
            log.info("disconnected from the broker (%s)", reason)
            return
        self._call_soon(self._note_disconnected, str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        received = _Message(
            mid=message.mid,
            qos=message.qos,
            topic=message.topic,
            payload=bytes(message.payload),
            received_at=dt.datetime.now(dt.UTC),
        )
        self._call_soon(self._queue.put_nowait, received)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback, *args)

    def _note_connected(self, session_present: bool) -> None:
        self.stats.connected = True
        self._connected_once.set()
        log.info(
            "connected to %s:%d as %s (session %s)",
            self.settings.host,
            self.settings.port,
            self.settings.client_id,
            "resumed" if session_present else "new",
        )

    def _note_disconnected(self, reason: str) -> None:
        if self.stats.connected:
            log.warning("lost the broker connection (%s); paho reconnects", reason)
        self.stats.connected = False

    def _note_error(self, message: str) -> None:
        self.stats.last_error = message
        log.error("%s", message)

    def _ack(self, message: _Message) -> None:
        if message.qos > 0:
            self._client.ack(message.mid, message.qos)
        self.stats.inflight -= 1

    def _settle(self, messages: list[_Message]) -> None:
        """These messages are stored or quarantined: acknowledge them, in receive order."""
        self._acks.settle(messages)

    # --- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, ingest until ``stop`` is set, then disconnect (the session stays)."""
        self._loop = asyncio.get_running_loop()
        s = self.settings
        self._client.connect_async(
            s.host,
            s.port,
            keepalive=s.keepalive_s,
            clean_start=False,
            properties=self._connect_properties(),
        )
        self._client.loop_start()
        worker = asyncio.create_task(self._work(), name="ingest")
        refresher = asyncio.create_task(self._refresh_rollups_forever(), name="rollups")
        stopping = asyncio.create_task(
            self._drained() if self.settings.retire else stop.wait(), name="stop"
        )
        try:
            # The worker runs until stopped; if it ends by itself it failed, and the replica
            # must not stay connected looking healthy while it stores nothing: the error goes
            # up (logged, non-zero exit) and the unacknowledged messages wait at the broker.
            await asyncio.wait({worker, refresher, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for service in (worker, refresher):
                failure = None if not service.done() or service.cancelled() else service.exception()
                # The worker's batch writes run in a TaskGroup: show the error, not its group.
                while isinstance(failure, BaseExceptionGroup) and len(failure.exceptions) == 1:
                    failure = failure.exceptions[0]
                if failure is not None:
                    log.critical(
                        "%s stopped by an unexpected error: %r", service.get_name(), failure
                    )
                    raise failure
        finally:
            for pending in (worker, refresher, stopping):
                pending.cancel()
            await asyncio.gather(worker, refresher, stopping, return_exceptions=True)
            # A plain DISCONNECT keeps the session (expiry as connected), so whatever was
            # received and not acknowledged is delivered again to whichever replica is next.
            # Retiring ends it on purpose (session expiry 0): mosquitto would otherwise go on
            # queueing this id's share of the windows for nobody (docs/scaling.md).
            self._leaving = True
            self._client.disconnect(properties=self._end_session() if self._retired else None)
            self._client.loop_stop()
            self._release_client()
            self._registry_thread.shutdown(wait=True)
            self._quarantine_log.summarise()

    def _release_client(self) -> None:
        """Close paho's socket pair now, leaving a fresh client for a later ``run``."""
        # paho closes the socket pair of loop_start() only in reinitialise() or when the client
        # is garbage-collected (eclipse-paho/paho.mqtt.python#627); our bound callbacks keep it
        # in a cycle with this replica, so that would be whenever the cycle collector runs,
        # with a ResourceWarning. reinitialise() closes them and resets every setting, so the
        # client is built again (it opens no socket until connected).
        self._client.reinitialise()
        self._client = self._make_client()

    async def _drained(self) -> None:
        """Retiring: until connected, then nothing received, held or unwritten for a while."""
        await self._connected_once.wait()
        quiet_since = time.monotonic()
        seen = sum(self.stats.received.values())
        while time.monotonic() - quiet_since < self.settings.retire_quiet_s:
            await asyncio.sleep(0.1)
            now = sum(self.stats.received.values())
            if now != seen or self.stats.inflight or not self._queue.empty():
                seen, quiet_since = now, time.monotonic()
        await self.refresh_rollups()
        self._retired = True
        log.info("session of %s drained (%d messages); ending it", self.settings.client_id, seen)

    def _end_session(self) -> Properties:
        properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 0
        return properties

    async def _work(self) -> None:
        # Batches are checked and their seqs recorded one after the other, in receive order,
        # while up to WRITES_IN_FLIGHT earlier batches are being written: the broker, this
        # process's CPU, the registry's fsync and InfluxDB each work on a different batch.
        slots = asyncio.Semaphore(WRITES_IN_FLIGHT)
        async with asyncio.TaskGroup() as writes:
            while True:
                batch = await self._next_batch()
                accepted = await self._admit(batch)
                if accepted:
                    await slots.acquire()
                    writes.create_task(self._write_batch(accepted, slots))

    async def _next_batch(self) -> list[_Message]:
        first = await self._queue.get()
        batch = [first]
        deadline = time.monotonic() + self.settings.flush_after_s
        while len(batch) < self._batch_messages:
            if not self._queue.empty():  # no timer and task per message while they wait
                batch.append(self._queue.get_nowait())
                continue
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout))
            except TimeoutError:
                break
        for message in batch:
            self._acks.add(message)
        self.stats.inflight += len(batch)
        return batch

    async def _write_batch(self, accepted: list[_Accepted], slots: asyncio.Semaphore) -> None:
        try:
            await self._store(accepted)
        finally:
            slots.release()

    # --- one batch ------------------------------------------------------------------------

    async def _admit(self, batch: list[_Message]) -> list[_Accepted]:
        """Check a batch and record its seqs; settle what is refused; return what to write."""
        settled: list[_Message] = []
        decoded: list[tuple[_Message, wire.TopicAddress, wire.Envelope]] = []
        for message in batch:
            try:
                item = await self._decode(message)
            except _Refused as refused:
                await self._quarantine(message, refused.code, str(refused))
                settled.append(message)
                continue
            if item is None:  # a status message, handled
                settled.append(message)
            else:
                decoded.append(item)
        # One registry read for every agent of the batch, made after the messages arrived.
        agents = {envelope.agent for _, _, envelope in decoded}
        entries = await self._registry(self._identities, agents)
        checked: list[tuple[_Message, wire.Envelope]] = []
        for message, address, envelope in decoded:
            try:
                self._verify(message, address, envelope, entries.get(envelope.agent))
            except _Refused as refused:
                await self._quarantine(message, refused.code, str(refused))
                settled.append(message)
                continue
            checked.append((message, envelope))
        accepted = await self._record_seqs(checked, settled)
        self._settle(settled)
        return accepted

    def _identities(self, agents: Iterable[str]) -> dict[str, AgentIdentity | None]:
        return {agent: self.registry.agent_identity(agent) for agent in agents}

    async def _record_seqs(
        self, checked: list[tuple[_Message, wire.Envelope]], settled: list[_Message]
    ) -> list[_Accepted]:
        """Record the seqs (one transaction, one fsync); quarantine replays into ``settled``."""
        if not checked:
            return []
        items = [
            (env.agent, env.seq, hashlib.sha256(msg.payload).hexdigest()) for msg, env in checked
        ]
        outcomes = await self._registry(self.registry.record_seqs, items)
        accepted: list[_Accepted] = []
        for (message, envelope), outcome in zip(checked, outcomes, strict=True):
            if outcome == "replay":
                detail = f"agent {envelope.agent} seq {envelope.seq} came before with other content"
                await self._quarantine(message, "replay", detail)
                settled.append(message)
                continue
            if outcome == "duplicate":
                self.stats.duplicates += 1
                log.debug("agent %s seq %d again (duplicate)", envelope.agent, envelope.seq)
            accepted.append((message, window_records(envelope)))
        return accepted

    async def _decode(
        self, message: _Message
    ) -> tuple[_Message, wire.TopicAddress, wire.Envelope] | None:
        """A windows message's topic address and envelope; None for a status message handled."""
        try:
            address = wire.parse_topic(message.topic)
        except wire.WireError as exc:
            self.stats.received["other"] += 1
            raise _Refused(exc.code, str(exc)) from exc
        self.stats.received[address.kind] += 1
        if address.kind == "status":
            await self._status(message, address)
            return None
        try:
            envelope = wire.decode_envelope(message.payload)
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc
        return message, address, envelope

    def _verify(
        self,
        message: _Message,
        address: wire.TopicAddress,
        envelope: wire.Envelope,
        entry: AgentIdentity | None,
    ) -> None:
        """Identity, devices and signature of a decoded windows message; raises _Refused."""
        entry = _identity(address, envelope, entry, message.received_at)
        unknown = sorted({r.device for r in envelope.records} - set(entry.devices))
        if entry.devices and unknown:
            raise _Refused(
                "unknown_device",
                f"agent {envelope.agent} sent devices {unknown[:5]} it is not registered for",
            )
        try:
            wire.verify_received(message.payload, envelope, entry.key())
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc

    async def _status(self, message: _Message, address: wire.TopicAddress) -> None:
        try:
            status = wire.decode_status(message.payload)
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc
        found = await self._registry(self.registry.agent_identity, status.agent)
        entry = _identity(address, status, found, message.received_at)
        try:
            wire.verify(status, entry.key())
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc
        await self._registry(self.registry.record_status, status, message.received_at)

    async def _quarantine(self, message: _Message, code: str, detail: str) -> None:
        self.stats.quarantined[code] += 1
        self._quarantine_log.quarantined(message.topic, code, detail)
        await self._registry(self._keep_quarantined, message, code, detail)

    def _keep_quarantined(self, message: _Message, code: str, detail: str) -> None:
        """Store a rejected message, naming the registered agent its topic names (if any)."""
        # The topic, not the payload: the broker's ACL lets each agent's credentials publish
        # under its own topics only. Registered under another enterprise or revoked still
        # counts: the evidence of that agent's enterprise should see what was sent in its name.
        # One indexed read, on the quarantine path only; valid messages never pay it.
        try:
            named = wire.parse_topic(message.topic).agent
        except wire.WireError:
            named = None
        registered = named is not None and self.registry.agent_identity(named) is not None
        self.registry.quarantine_add(
            message.payload,
            message.topic,
            message.received_at,
            code,
            detail,
            agent_id=named if registered else None,
        )

    async def _store(self, accepted: list[_Accepted]) -> None:
        records = [record for _, rs in accepted for record in rs]
        started = time.monotonic()
        try:
            await self._until_stored(lambda: self.store.write(records))
        except StoreError as exc:  # not retryable: InfluxDB refuses some point for good
            if len(accepted) > 1:  # find the message at fault; store the others
                for one in accepted:
                    await self._store([one])
                return
            message, _ = accepted[0]
            await self._quarantine(message, "store_rejected", str(exc))
            self._settle([message])
            return
        await self._registry(self._mark_days, records)
        self.stats.write_latency_sum_s += time.monotonic() - started
        self.stats.written_batches += 1
        self.stats.written_records += len(records)
        self.stats.last_write_ts = time.time()
        self._settle([message for message, _ in accepted])

    def _mark_days(self, records: list[WindowRecord]) -> None:
        """Note the days these windows fall in; the refresher recomputes their rollups.

        Durable in the registry before the ack, so a refresh owed is never forgotten: the
        rollup of a day lags its windows by two rounds of ``rollup_every_s`` in steady flow,
        ``rollup_max_lag_s`` while a backlog drains (collector/ingest/rollups.py).
        Runs in the registry thread (one hop for the zones and the mark).
        """
        zones = {e: self.registry.enterprise_zone(e) for e in {r.enterprise for r in records}}
        days = [(k.enterprise, k.device, k.day, k.tz) for k in affected_days(records, zones)]
        self.registry.mark_days_dirty(days)

    async def _refresh_rollups_forever(self) -> None:
        debounce = RollupDebounce(self.settings.rollup_max_lag_s)
        while True:
            await asyncio.sleep(self.settings.rollup_every_s)
            await self.refresh_rollups(debounce)

    async def refresh_rollups(self, debounce: RollupDebounce | None = None) -> int:
        """Recompute the rollups of the days marked dirty; returns how many were done.

        With ``debounce``, only the days it finds due (settled, or changing for too long);
        without, every marked day (a retiring replica's last round, tests).
        """
        dirty = await self._registry(self.registry.dirty_days)
        if debounce is not None:
            dirty = debounce.due(dirty, time.monotonic())
        if not dirty:
            return 0
        keys = [DayKey(enterprise, device, day, tz) for enterprise, device, day, tz, _ in dirty]
        try:
            await self._until_stored(lambda: self.store.refresh_days(keys))
        except StoreError as exc:
            # Still marked: tried again next round; the windows themselves are stored.
            self.stats.rollup_failures += 1
            log.error("daily rollups of %d device-days not refreshed: %s", len(keys), exc)
            return 0
        done = [(enterprise, device, day, gen) for enterprise, device, day, _, gen in dirty]
        await self._registry(self.registry.clear_dirty_days, done)
        return len(done)

    async def _until_stored(self, attempt: Callable[[], Any]) -> None:
        """Retry ``attempt`` while InfluxDB is unavailable: nothing is acked meanwhile."""
        delay_s = 0.5
        while True:
            try:
                await attempt()
                if self.stats.last_error and self.stats.last_error.startswith("InfluxDB"):
                    log.info("InfluxDB writes succeed again")
                    self.stats.last_error = None
                return
            except StoreError as exc:
                # Unavailable (down, slow, 5xx) and configuration faults (credentials, missing
                # database) are held, not quarantined: every message would fail alike, and
                # the fix is on our side. Only points InfluxDB refuses for good move on.
                if not (exc.retryable or isinstance(exc, AuthFailed | NotFound)):
                    raise
                self.stats.store_retries += 1
                wait_s = exc.retry_after_s or delay_s
                if self.stats.last_error is None or not self.stats.last_error.startswith(
                    "InfluxDB"
                ):
                    log.warning("InfluxDB unavailable (%s); holding, retrying", exc)
                self.stats.last_error = f"InfluxDB unavailable: {exc}"
                await asyncio.sleep(wait_s)
                delay_s = min(delay_s * 2, 15.0)

    async def _registry(self, call: Callable[..., _T], *args: Any) -> _T:
        """Run a registry call in its thread; retry while the registry is locked too long."""
        loop = asyncio.get_running_loop()
        delay_s = 0.5
        while True:
            try:
                return await loop.run_in_executor(self._registry_thread, call, *args)
            except RegistryUnavailable as exc:
                if not exc.retryable:
                    raise
                self.stats.registry_retries += 1
                self.stats.last_error = f"registry unavailable: {exc}"
                log.warning("registry unavailable (%s); holding, retrying in %.1f s", exc, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 15.0)


def _identity(
    address: wire.TopicAddress,
    message: wire.Envelope | wire.StatusMessage,
    entry: AgentIdentity | None,
    received_at: dt.datetime,
) -> AgentIdentity:
    """Topic = payload identity = registry ``entry``, key not revoked; raises _Refused."""
    said = (message.platform, message.enterprise, message.agent)
    if said != (address.platform, address.enterprise, address.agent):
        raise _Refused(
            "identity_mismatch",
            f"payload says {'/'.join(said)}, topic says "
            f"{address.platform}/{address.enterprise}/{address.agent}",
        )
    if entry is None:
        raise _Refused("unknown_agent", f"agent {message.agent} is not registered")
    if (entry.platform, entry.enterprise) != (message.platform, message.enterprise):
        raise _Refused(
            "identity_mismatch",
            f"agent {message.agent} is registered to {entry.platform}/{entry.enterprise}",
        )
    # Revocation is judged by when *we* received the message: the agent's own clock (sent)
    # is exactly what a stolen key would forge.
    if entry.revoked_as_of(received_at):
        raise _Refused("revoked_key", f"agent {message.agent}'s key is revoked")
    return entry
