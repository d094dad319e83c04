"""``retrofit-agent run``: sources → KPI windows → outbox → publisher, until told to stop.

One asyncio task per device polls its source on the clock's ticks and feeds its window builder;
closed windows go to the outbox at once (durably) and wake the publisher. A device that fails
never stops the others: its source turns faults into bad readings, and its task catches
anything unexpected, logs it, and goes on polling.

Stopping (SIGTERM): the device tasks end, windows they had already closed finish going into the
outbox (a stop never cancels a store), every open window is closed (``partial`` if the stop cut
it short) and stored, the publisher gets a few seconds to send what is pending, seals every day
the plant clock has closed without waiting out ``seal_grace_s`` and sends those seals (within the
same few seconds), says ``offline`` and disconnects. Anything not sent stays in the outbox for
the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agent import __version__
from agent.config import DeviceConfig, LoadedConfig
from agent.errors import AgentRetiredError
from agent.inference import StateInference, make_inference
from agent.keys import load_signing_key
from agent.kpi import WindowBuilder
from agent.metrics import render_metrics
from agent.outbox import Outbox, OutboxError
from agent.publish import publisher_for
from agent.retire import RunLock
from agent.samples import kpi_spec, to_sample
from agent.sources.base import Quality, Source
from agent.sources.factory import SourceFactory
from agent.storing import WindowStore
from contract import wire
from contract.clock import Clock
from contract.metrics import MetricsServer

__all__ = ["AgentService", "DeviceHealth"]

log = logging.getLogger(__name__)

#: Seconds a stopping task gets to end after its cancel before it is cancelled again.
STOP_RECANCEL_S = 1.0


@dataclass
class DeviceHealth:
    """One device as status and metrics see it."""

    polls: int = 0
    #: Grid points that passed while a poll overran (or the loop was starved): never polled.
    polls_skipped: int = 0
    missed_polls: int = 0
    bad_values: int = 0
    windows_closed: int = 0
    last_good_ts: float | None = None
    last_error: str | None = None


@dataclass
class _Device:
    config: DeviceConfig
    source: Source
    builder: WindowBuilder
    health: DeviceHealth = field(default_factory=DeviceHealth)
    inference: StateInference | None = None  # the ``state:`` block's, if the device has one


class AgentService:
    """The running agent; construct from a loaded configuration, then ``await run(stop)``.

    ``clock`` replaces the configured one (the wall clock, or the ``clock`` block's scaled
    clock): a test that runs the simulator in the same process gives both one plant clock.
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        metrics_port: int | None = None,
        health_path: Path | None = None,
        drain_timeout_s: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        config = loaded.config
        self.loaded = loaded
        self.clock: Clock = config.make_clock() if clock is None else clock
        self.key = load_signing_key(config.agent.key_path)
        self.outbox = Outbox(
            config.agent.outbox_path,
            capacity_windows=config.outbox_capacity(),
            timezone=config.agent.timezone,
        )
        self._refuse_if_retired()
        self.outbox_lock = asyncio.Lock()
        self.publisher = publisher_for(loaded, self.key, self.outbox, self.outbox_lock, self.clock)
        self.identity = self.publisher.identity
        resume = self.outbox.resume_points()
        sources = SourceFactory(self.clock).make_all(config.devices)
        self.devices = [
            _Device(
                config=device,
                source=source,
                builder=WindowBuilder(
                    kpi_spec(
                        device,
                        window_s=config.agent.window_s,
                        config_digest=loaded.digest,
                        clock_speed=self.clock.speed,
                    ),
                    resume_from=resume.get(device.id),
                ),
                inference=make_inference(device),
            )
            for device, source in zip(config.devices, sources, strict=True)
        ]
        self.metrics_port = metrics_port
        self.health_path = health_path
        self.drain_timeout_s = drain_timeout_s
        self.windows = WindowStore(
            self.outbox,
            self.outbox_lock,
            on_stored=self.publisher.wake,
            on_error=self._on_error,
            seal_with=self.publisher.sealing,
            on_sealed=self.publisher.publish_sealed,
        )
        self._storing: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.metrics: MetricsServer | None = None

    # --- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down cleanly.

        Raises OutboxInUseError if another process holds the outbox (an agent already running
        on it, or a ``retrofit-agent retire``).
        """
        with RunLock(self.outbox.path):
            self._refuse_if_retired()  # a retire may have run since __init__
            await self._run(stop)

    def _refuse_if_retired(self) -> None:
        retired_ms = self.outbox.retired_ms()
        if retired_ms is not None:
            self.outbox.close()
            raise AgentRetiredError(
                self.loaded.config.agent.id,
                str(self.outbox.path),
                datetime.fromtimestamp(retired_ms / 1000, UTC).isoformat(timespec="seconds"),
            )

    async def _run(self, stop: asyncio.Event) -> None:
        log.info(
            "agent %s starting: %d devices, config %s",
            self.identity.agent,
            len(self.devices),
            self.loaded.digest,
        )
        if self.metrics_port is not None:
            self.metrics = MetricsServer(
                lambda: render_metrics(self), self.health, self.metrics_port
            )
            await self.metrics.start()
        publisher = asyncio.create_task(self.publisher.run(), name="publisher")
        publisher.add_done_callback(_log_crash)
        polls = [
            asyncio.create_task(self._poll_forever(device), name=f"poll {device.config.id}")
            for device in self.devices
        ]
        health = asyncio.create_task(self._report_health(), name="health")
        _sd_notify("READY=1")
        await stop.wait()
        log.info("agent %s stopping", self.identity.agent)
        self._stopping = True
        await _end_tasks([*polls, health])
        await self._finish_storing()
        await self._close_partial_windows()
        # Every window of this run is in the outbox now, so the days the plant clock has
        # closed are sealed at once (Publisher.seal_closed_days), unless windows are held in
        # memory: they are lost at the exit and the next run refills their time.
        drained = await self.publisher.drain(
            self.drain_timeout_s, seal_closed_days=not self.unsaved
        )
        if not drained:
            log.warning("stopping with windows still in the outbox; they go on the next run")
        publisher.cancel()
        await asyncio.gather(publisher, return_exceptions=True)
        await self.publisher.close()
        for device in self.devices:
            with contextlib.suppress(Exception):
                await device.source.close()
        if self.metrics is not None:
            await self.metrics.stop()
        self._write_health()
        self.outbox.close()
        log.info("agent %s stopped", self.identity.agent)

    async def _poll_forever(self, device: _Device) -> None:
        interval, offset = device.config.poll_interval_s, device.config.poll_offset_s
        with contextlib.suppress(Exception):
            await device.source.connect()  # failures are the source's to retry
        # A demo's agent may start before its plant clock's anchor: it polls from plant start on.
        await self.clock.started()
        last_point: int | None = None  # the grid point (as a multiple of interval) last polled
        while not self._stopping:
            now = self.clock.timestamp()
            # Polls on the clock's grid (every `interval` from the epoch, shifted by `offset`:
            # devices given different offsets do not all ask at once), so a poll that ran
            # long does not shift every later one. The next point is strictly after `now`: at
            # epoch 1.8e9 a nudge of 1e-9 is below a float's resolution, so a poll that ended
            # exactly on a grid point (a plant clock held still while it polled) slept 0 s and
            # polled again at the same instant, forever.
            point = math.floor((now - offset) / interval) + 1
            if last_point is not None and point - last_point > 1:
                device.health.polls_skipped += point - last_point - 1
            last_point = point
            await self.clock.sleep(point * interval + offset - now)
            try:
                await self._poll_once(device)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not stop this device, let alone the others
                device.health.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("device %s: poll failed; polling goes on", device.config.id)

    async def _poll_once(self, device: _Device) -> None:
        asked = self.clock.timestamp()
        readings = await device.source.read()
        ts = self.clock.timestamp()
        mono = self.clock.monotonic()
        inferred = None if device.inference is None else device.inference.update(readings, ts)
        sample = to_sample(
            device.config, readings, ts=ts, mono=mono, inferred=inferred, asked_ts=asked
        )
        health = device.health
        health.polls += 1
        health.bad_values += sample.bad_values
        if sample.answered:
            health.last_good_ts = ts
        else:
            health.missed_polls += 1
            reasons = {r.reason for r in readings if r.quality is Quality.BAD and r.reason}
            health.last_error = "; ".join(sorted(reasons))[:300] or "no answer"
        device.builder.add(sample)
        closed = device.builder.close_due(ts)
        if closed:
            health.windows_closed += len(closed)
            self._store_in_background(closed)

    def _store_in_background(self, windows: list[wire.KpiWindow]) -> None:
        """Store windows the builder has handed over, in a task of their own; the poll goes on.

        The store may wait for the outbox (another device's windows at the same window edge,
        the publisher sealing or forgetting a batch) and then for an fsync: a poll that waited
        for it missed its next grid point whenever that wait was longer than the poll interval
        (at a demo's plant speed, 40 wall ms). Nothing is reported stored before its commit, and
        :class:`WindowStore` commits in the order the stores were started, so what a power cut
        may lose is unchanged (the next run fills the gap from the outbox's progress as comm
        loss). Stopping cannot cancel the task: ``run`` awaits every one before closing the
        outbox.
        """
        task = asyncio.create_task(self._store(windows), name=f"store {windows[0].device}")
        self._storing.add(task)
        task.add_done_callback(self._storing.discard)
        task.add_done_callback(_log_store_failure)

    async def _finish_storing(self) -> None:
        """Wait for the stores still running (each logs its own failure when it ends)."""
        await asyncio.gather(*self._storing, return_exceptions=True)

    async def _close_partial_windows(self) -> None:
        now = self.clock.timestamp()
        closed = [w for device in self.devices for w in device.builder.close_partial(now)]
        if closed:
            await self._store(closed)

    async def _store(self, windows: list[wire.KpiWindow]) -> None:
        """Windows into the outbox; if it cannot be written, hold them in memory and retry."""
        await self.windows.store(windows)

    def _on_error(self, message: str) -> None:
        self.publisher.state.last_error = message

    @property
    def unsaved(self) -> list[wire.KpiWindow]:
        """Closed windows held in memory because the outbox could not be written."""
        return self.windows.unsaved

    @property
    def windows_dropped_in_memory(self) -> int:
        """Windows dropped from memory while the outbox could not be written."""
        return self.windows.dropped_in_memory

    # --- health ---------------------------------------------------------------------------

    async def _report_health(self) -> None:
        while True:
            self._write_health()
            _sd_notify("WATCHDOG=1")
            await asyncio.sleep(5)

    def health(self) -> dict[str, object]:
        """What ``retrofit-agent status`` and the health file show."""
        stats = self.outbox.stats()
        return {
            "agent": self.identity.agent,
            "version": __version__,
            "config_digest": self.loaded.digest,
            "written_at": time.time(),
            "broker_connected": self.publisher.state.connected,
            "last_error": self.publisher.state.last_error,
            "last_ack_ts": self.publisher.state.last_ack_ts,
            "outbox": {
                "pending_windows": stats.pending_windows,
                "sealed_batches": stats.sealed_batches,
                "sealed_day_seals": stats.sealed_day_seals,
                "unfolded_windows": stats.unfolded_windows,
                "awaiting_confirmation": stats.awaiting_confirmation,
                "oldest_pending_end_ms": stats.oldest_pending_end_ms,
                "next_seq": stats.next_seq,
                "merged_total": stats.merged_total,
                "dropped_total": stats.dropped_total,
                "full": stats.full,
                "unsaved_in_memory": len(self.unsaved),
            },
            "day_seals": self._day_seals(),
            "devices": {
                device.config.id: {
                    "polls": device.health.polls,
                    "polls_skipped": device.health.polls_skipped,
                    "missed_polls": device.health.missed_polls,
                    "bad_values": device.health.bad_values,
                    "windows_closed": device.health.windows_closed,
                    "last_good_ts": device.health.last_good_ts,
                    "last_error": device.health.last_error,
                }
                for device in self.devices
            },
        }

    def _day_seals(self) -> dict[str, object]:
        """Per device: the newest sealed day (and its version) and the days waiting, and why."""
        config = self.loaded.config
        report = self.outbox.day_seals(
            now=self.clock.timestamp(),
            grace_s=config.agent.seal_grace_s,
            devices=[device.id for device in config.devices],
        )
        return {
            "timezone": config.agent.timezone,
            "acked": self.publisher.state.day_seals_acked,
            "devices": {
                device: {
                    "newest_day": seals.newest_day,
                    "newest_version": seals.newest_version,
                    "waiting": seals.waiting,
                }
                for device, seals in report.items()
            },
        }

    def _write_health(self) -> None:
        if self.health_path is None:
            return
        try:
            tmp = self.health_path.with_name(self.health_path.name + ".tmp")
            tmp.write_text(json.dumps(self.health(), indent=2) + "\n", encoding="utf-8")
            tmp.replace(self.health_path)
        except (OSError, OutboxError) as exc:
            log.warning("cannot write health file %s: %s", self.health_path, exc)


async def _end_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` until every one has ended; one that absorbed its cancel is cancelled again.

    A library can absorb a cancellation (Python 3.11's ``asyncio.wait_for``, which pymodbus and
    asyncua use, returns the result when it and the cancel arrive together): the task goes on
    as if nothing happened. ``_poll_forever`` also checks ``_stopping`` after each poll; this
    covers a task that absorbed it inside a wait.
    """
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=STOP_RECANCEL_S)
        if pending:
            names = ", ".join(sorted(task.get_name() for task in pending))
            log.warning("%s still running %g s after its cancel: cancelling again", names,
                        STOP_RECANCEL_S)  # fmt: skip


def _log_store_failure(task: asyncio.Task[None]) -> None:
    """A store failed for another reason than an unwritable outbox (which holds the windows)."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("storing closed windows failed: %r", error, exc_info=error)


def _log_crash(task: asyncio.Task[None]) -> None:
    """A task that should run until cancelled ended with an error: say so at once, loudly."""
    if not task.cancelled() and task.exception() is not None:
        log.critical("%s stopped: %r", task.get_name(), task.exception(), exc_info=task.exception())


def _sd_notify(message: str) -> None:
    """Tell systemd (Type=notify, WatchdogSec=) we are ready or alive; no-op without it."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
    except OSError as exc:
        log.debug("sd_notify failed: %s", exc)
