"""What ingest asks of the registry, and the one thread those calls run in.

sqlite3 blocks, so registry calls leave the event loop for a single worker thread: one at a
time, never interleaved. While the registry stays locked past its busy timeout a call is
retried, and everything waits meanwhile (nothing is acknowledged), as while InfluxDB is down.

Two layers retry. On PostgreSQL the registry itself runs a transaction once more only when
its connection broke before any of the call's statements were sent, so it cannot have
committed (collector/registry/postgres/database.py). Anything else (a server still down after
the wait for a new connection, a lock timeout, a connection lost mid-transaction or during
COMMIT) reaches :meth:`RegistryCalls.run` as a retryable RegistryUnavailable, and the whole
call runs again. That is safe for every call here even if the first run did commit: a seq
batch recorded twice comes back as duplicates (written again, the same points), the status,
dirty-day and day-check writes are upserts (and clearing a dirty day deletes only the version
it rolled up), a day seal stored twice is a duplicate. The one exception is the quarantine: a
quarantined message whose COMMIT's answer was lost can be kept twice.

:class:`IngestRegistry` is all ingest uses of ``collector.registry.Registry``: the seam a
second registry backend plugs into (docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from collector.errors import RegistryUnavailable
from collector.ingest.stats import Holding, IngestStats
from collector.registry import DayCheck, DaySealEntry, SealStored
from contract import wire

__all__ = ["AgentIdentity", "IngestRegistry", "RegistryCalls", "SeqOutcome"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)

SeqOutcome = Literal["new", "duplicate", "replay"]
_T = TypeVar("_T")


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

    def mark_days_dirty(
        self, days: Iterable[tuple[str, str, dt.date, str, int | None]]
    ) -> None: ...

    def dirty_days(
        self, limit: int = 1000
    ) -> list[tuple[str, str, dt.date, str, int, int | None]]: ...

    def clear_dirty_days(self, done: Iterable[tuple[str, str, dt.date, int]]) -> None: ...

    def add_day_seal(
        self, seal: wire.DaySeal, raw: bytes, *, received_at: dt.datetime
    ) -> SealStored: ...

    def day_seals_of_days(self, days: Iterable[tuple[str, str, dt.date]]) -> list[DaySealEntry]: ...

    def put_day_checks(self, checks: Sequence[DayCheck]) -> None: ...


class RegistryCalls:
    """Runs registry calls in the replica's registry thread, retrying while it is locked."""

    def __init__(self, stats: IngestStats) -> None:
        self._stats = stats
        # One worker: sqlite3 calls from ingest never interleave (and never block the loop).
        self._thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="registry"
        )

    async def run(self, call: Callable[..., _T], *args: Any) -> _T:
        """Run a registry call in its thread; retry while the registry is locked too long."""
        loop = asyncio.get_running_loop()
        delay_s = 0.5
        while True:
            try:
                return await loop.run_in_executor(self._thread, self._timed, call, args)
            except RegistryUnavailable as exc:
                if not exc.retryable:
                    raise
                self._stats.registry_retries += 1
                self._stats.hold(Holding.REGISTRY, f"registry unavailable: {exc}")
                log.warning("registry unavailable (%s); holding, retrying in %.1f s", exc, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 15.0)

    def _timed(self, call: Callable[..., _T], args: tuple[Any, ...]) -> _T:
        # In the registry thread: its CPU (thread_time) apart from its wall time, so a profile
        # that counts a thread waiting in COMMIT's fsync as busy can be told apart from CPU
        # spent (docs/performance.md). The loop only reads these sums; this thread alone adds.
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        try:
            return call(*args)
        finally:
            self._stats.registry_cpu_s += time.thread_time() - cpu0
            self._stats.registry_wall_s += time.perf_counter() - wall0

    def shutdown(self) -> None:
        """Wait for the call in flight, if any, and end the thread."""
        self._thread.shutdown(wait=True)
