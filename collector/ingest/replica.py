"""The ingest replica: MQTT in, batches through admission and writes, acknowledgements out.

paho-mqtt 2.x, MQTT v5, a persistent session (clean start off, session expiry set) on a shared
subscription, so N replicas split the load and the broker keeps what none has taken yet.
``manual_ack``: a message is acknowledged only after its points are written to InfluxDB (and
its days marked for a rollup refresh), or after it is kept in the quarantine with its reason;
acknowledgements leave in receive order (MQTT v5 §4.6, :mod:`collector.ingest.acks`).

Memory stays bounded without any queue of our own growing: the CONNECT asks for a *receive
maximum* of ``inflight`` messages, and the broker never sends more unacknowledged QoS 1
messages than that. While InfluxDB is down nothing is acknowledged, so the broker holds the
rest (in the session, on disk) and ingest resumes by itself when writes succeed again.

Batches are pipelined: a batch closes at ``inflight / 2`` messages, so the broker sends the
next while one is handled; batches are checked and their seqs recorded one after another
(:mod:`collector.ingest.admission`), while up to ``WRITES_IN_FLIGHT`` earlier ones are written
(:mod:`collector.ingest.writes`; docs/performance.md, #6).

Threads: paho's network loop runs in the event loop (:mod:`collector.ingest.mqtt_loop`), so
its callbacks run in the loop thread; with ``mqtt_thread`` (A/B measurements only) it runs in
its own thread (``loop_start``) and hands messages to the event loop with
``call_soon_threadsafe``. Registry calls (sqlite3) run in a single worker thread so they never
interleave (:mod:`collector.ingest.registry_calls`).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collector.ingest.acks import AckOrder
from collector.ingest.admission import Admission, Quarantine, Received, Verified
from collector.ingest.confirmations import Confirmations
from collector.ingest.mqtt_loop import PahoOnLoop
from collector.ingest.registry_calls import IngestRegistry, RegistryCalls
from collector.ingest.rollups import RollupDebounce, RollupQueue
from collector.ingest.settings import IngestSettings
from collector.ingest.stats import IngestStats
from collector.ingest.writes import WRITES_IN_FLIGHT, Writes
from collector.store import InfluxStore, WindowRecord
from contract import wire
from contract.keys import load_private_key

__all__ = ["Ingest"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)


class Ingest:
    """One ingest replica. ``await run(stop)`` until ``stop`` is set."""

    def __init__(self, settings: IngestSettings, registry: IngestRegistry, store: InfluxStore):
        self.settings = settings
        self.registry = registry
        self.store = store
        self.stats = IngestStats()
        self._queue: asyncio.Queue[Received] = asyncio.Queue()
        # Messages from paho's thread wait here until the loop drains them: one wake-up of
        # the loop per burst, not per message (a wake-up per message was ~5 % of ingest's
        # CPU in a py-spy profile under the bench, docs/performance.md).
        self._inbox: collections.deque[Received] = collections.deque()
        self._inbox_lock = threading.Lock()
        self._drain_pending = False
        self._acks: AckOrder[Received] = AckOrder(self._ack)
        #: Broker links lost so far; each message carries the count it arrived under.
        self._link = 0
        # Half the receive maximum: the broker sends the next batch while one is written.
        self._batch_messages = max(1, settings.inflight // 2)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retired = False
        #: Set when this replica disconnects on purpose: its own DISCONNECT is no lost link.
        self._leaving = False
        self._connected_once = asyncio.Event()
        self._calls = RegistryCalls(self.stats)
        self._quarantine = Quarantine(settings, registry, self._calls, self.stats)
        self._confirmations = self._make_confirmations()
        self._admission = Admission(
            registry,
            self._calls,
            self.stats,
            self._quarantine,
            self._acks.settle,
            None if self._confirmations is None else self._seal_stored,
            None if self._confirmations is None else self._refused_for_good,
        )
        self._rollups = RollupQueue(settings, registry, store, self._calls, self.stats)
        self._writes = Writes(
            store,
            self._calls,
            self.stats,
            self._quarantine,
            self._acks.settle,
            self._rollups.mark_days,
            None if self._confirmations is None else self._records_stored,
        )
        self._client = self._make_client()
        self._network = self._driver()

    # --- delivery confirmations (#19) -----------------------------------------------------

    def _make_confirmations(self) -> Confirmations | None:
        path = self.settings.confirmation_key_path
        if path is None:
            return None
        key = load_private_key(
            Path(path), create_with=f"retrofit-collector confirmation-key generate --out {path}"
        )
        return Confirmations(key, self._publish, self.stats, self.settings.confirm_every_s)

    def _records_stored(self, records: list[WindowRecord]) -> None:
        if self._confirmations is not None:
            self._confirmations.stored((r.platform, r.enterprise, r.agent, r.seq) for r in records)

    def _seal_stored(self, seal: wire.DaySeal) -> None:
        if self._confirmations is not None:
            self._confirmations.stored([(seal.platform, seal.enterprise, seal.agent, seal.seq)])

    def _refused_for_good(self, body: Verified, reason: str) -> None:
        if self._confirmations is not None:
            recipient = (body.platform, body.enterprise, body.agent)
            self._confirmations.refused(*recipient, body.seq, reason)

    def _publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 while linked; False (nothing sent) otherwise. In the loop thread."""
        network = self._network
        if network is None:
            if not self._client.is_connected():
                return False
        elif not network.linked:
            return False
        info = self._client.publish(topic, payload, qos=1)
        if network is not None:
            network.flush()
        return info.rc == mqtt.MQTT_ERR_SUCCESS

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

    def _driver(self) -> PahoOnLoop | None:
        # None: paho's own thread drives the client (mqtt_thread).
        if self.settings.mqtt_thread:
            return None
        return PahoOnLoop(self._client, self.settings.inflight)

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
        # Day seals share the replicas' group like windows: each is kept by one replica.
        shared = [
            wire.shared_filter(self.settings.group, kind) for kind in ("windows", "day_seals")
        ]
        if self.settings.retire:
            # Retiring: take no new share of the windows, only what the session holds.
            client.unsubscribe([*shared, wire.STATUS_FILTER])
        else:
            client.subscribe([*((topic, 1) for topic in shared), (wire.STATUS_FILTER, 1)])
        self._call_soon(self._note_connected, flags.session_present)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        # In paho's thread (or the loop's), before any reconnect: from here on, a message of
        # the lost link is never acknowledged (see _ack).
        self._link += 1
        if self._leaving:
            log.info("disconnected from the broker (%s)", reason)
            return
        self._call_soon(self._note_disconnected, str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        received = Received(
            mid=message.mid,
            qos=message.qos,
            topic=message.topic,
            payload=bytes(message.payload),
            received_at=dt.datetime.now(dt.UTC),
            link=self._link,
        )
        if self._network is not None:  # in the loop thread
            self._network.messages += 1
            self._queue.put_nowait(received)
            return
        with self._inbox_lock:
            self._inbox.append(received)
            wake, self._drain_pending = not self._drain_pending, True
        if wake and not self._call_soon(self._drain_inbox):
            with self._inbox_lock:  # no loop to drain it (not running yet, or ended)
                self._drain_pending = False

    def _drain_inbox(self) -> None:
        with self._inbox_lock:
            self._drain_pending = False
            arrived = list(self._inbox)
            self._inbox.clear()
        for received in arrived:  # in arrival order, as paho delivered them
            self._queue.put_nowait(received)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> bool:
        # paho runs the on_* callbacks in its network thread, and asyncio's queue, events and
        # counters are not thread-safe: hand the work to the event loop. A callback that comes
        # after run() has ended (the loop closed) has nothing left to tell.
        # Says whether the callback was handed over. Driven by the event loop, paho calls
        # them in the loop thread: run them now.
        if self._network is not None:
            callback(*args)
            return True
        if self._loop is None or self._loop.is_closed():
            return False
        self._loop.call_soon_threadsafe(callback, *args)
        return True

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
        self.stats.note_error(message)
        log.error("%s", message)

    def _ack(self, message: Received) -> None:
        # A packet id names a message only on the connection that delivered it: after a lost
        # link the broker either delivers the message again (a resumed session: that copy is
        # acknowledged when settled, a duplicate by seq) or lost it with its state (restarted
        # empty: the agent's confirmations cover that, #19). Acknowledging it by id on the next
        # connection would acknowledge whatever that connection delivered under the same id,
        # before it is stored. The AckOrder is not reset: a lost link's messages still settle
        # in order, only their PUBACK is dropped.
        network = self._network
        if message.qos > 0 and message.link != self._link:
            self.stats.acks_dropped += 1
        elif message.qos > 0:
            if network is None:
                self._client.ack(message.mid, message.qos)
            elif network.linked:  # else the link is gone: the broker delivers it again
                self._client.ack(message.mid, message.qos)
                network.flush()
        self.stats.inflight -= 1

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
        network = None
        if self._network is None:
            self._client.loop_start()
        else:
            network = asyncio.create_task(self._network.run(), name="mqtt")
        worker = asyncio.create_task(self._work(), name="ingest")
        refresher = asyncio.create_task(self._rollups.refresh_forever(), name="rollups")
        confirmer = asyncio.create_task(self._confirm_forever(), name="confirmations")
        stopping = asyncio.create_task(
            self._drained() if self.settings.retire else stop.wait(), name="stop"
        )
        try:
            # The worker runs until stopped; if it ends by itself it failed, and the replica
            # must not stay connected looking healthy while it stores nothing: the error goes
            # up (logged, non-zero exit) and the unacknowledged messages wait at the broker.
            services = [worker, refresher, confirmer] + ([] if network is None else [network])
            await asyncio.wait({*services, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for service in services:
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
            tasks = (worker, refresher, confirmer, stopping)
            for pending in tasks:  # not the network: DISCONNECT first
                pending.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._confirmations is not None:  # what is stored, confirmed before leaving
                self._confirmations.send()
            # A plain DISCONNECT keeps the session (expiry as connected), so whatever was
            # received and not acknowledged is delivered again to whichever replica is next.
            # Retiring ends it on purpose (session expiry 0): mosquitto would otherwise go on
            # queueing this id's share of the windows for nobody (docs/scaling.md).
            self._leaving = True
            if network is None:
                self._client.disconnect(properties=self._disconnect_properties())
                self._client.loop_stop()
            else:
                await self._disconnect(network)
            self._release_client()
            self._calls.shutdown()
            self._quarantine.summarise()

    def _release_client(self) -> None:
        """Close paho's socket pair now, leaving a fresh client for a later ``run``."""
        # paho closes the socket pair of loop_start() only in reinitialise() or when the client
        # is garbage-collected (eclipse-paho/paho.mqtt.python#627); our bound callbacks keep it
        # in a cycle with this replica, so that would be whenever the cycle collector runs,
        # with a ResourceWarning. reinitialise() closes them and resets every setting, so the
        # client is built again (it opens no socket until connected).
        self._client.reinitialise()
        self._client = self._make_client()
        self._network = self._driver()

    async def _disconnect(self, network: asyncio.Task[None]) -> None:
        # Linked, the DISCONNECT leaves by a direct send, or when the socket is writable: give
        # it up to a second (paho closes the socket once it is written), then stop the driver.
        # Not linked (a reconnect under way, in its thread), stop the driver first: it waits
        # for the attempt to end, and the client is nobody else's when disconnect() runs.
        linked = self._network is not None and self._network.linked
        if linked:
            self._client.disconnect(properties=self._disconnect_properties())
            for _ in range(100):
                if self._network is None or not self._network.linked:
                    break
                await asyncio.sleep(0.01)
        network.cancel()
        await asyncio.gather(network, return_exceptions=True)
        if not linked:
            self._client.disconnect(properties=self._disconnect_properties())

    def _disconnect_properties(self) -> Properties | None:
        return self._end_session() if self._retired else None

    async def _confirm_forever(self) -> None:
        if self._confirmations is None:
            await asyncio.Event().wait()  # nothing to confirm: wait to be cancelled
        else:
            await self._confirmations.send_forever()

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
                accepted = await self._admission.admit(batch)
                if accepted:
                    await slots.acquire()
                    writes.create_task(self._writes.write_batch(accepted, slots))

    async def _next_batch(self) -> list[Received]:
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

    async def refresh_rollups(self, debounce: RollupDebounce | None = None) -> int:
        """Recompute the rollups of the days marked dirty; returns how many were done.

        With ``debounce``, only the days it finds due (settled, or changing for too long);
        without, every marked day (a retiring replica's last round, tests).
        """
        return await self._rollups.refresh(debounce)
