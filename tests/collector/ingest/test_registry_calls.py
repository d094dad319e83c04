"""Registry calls: in one thread, held and retried while the registry is locked too long.

The calls here are plain functions that fail the way ``Registry`` fails past its busy timeout
(``RegistryUnavailable``); the locked SQLite file end to end is
tests/collector/faults/test_registry_locked.py.
"""

from __future__ import annotations

import threading

import pytest

from collector.errors import RegistryUnavailable
from collector.ingest import Holding, IngestStats
from collector.ingest.registry_calls import RegistryCalls

pytestmark = pytest.mark.anyio


async def test_a_locked_registry_is_held_and_the_call_retried() -> None:
    stats = IngestStats()
    calls = RegistryCalls(stats)
    threads: list[str] = []

    def lookup(agent: str) -> str:
        threads.append(threading.current_thread().name)
        if len(threads) == 1:
            raise RegistryUnavailable("database is locked", retryable=True)
        return f"entry of {agent}"

    try:
        assert await calls.run(lookup, "gw-1") == "entry of gw-1"
    finally:
        calls.shutdown()
    assert len(threads) == 2
    assert all(name.startswith("registry") for name in threads)
    assert stats.registry_retries == 1
    assert (stats.holding, stats.last_error) == (
        Holding.REGISTRY,
        "registry unavailable: database is locked",
    )


async def test_a_registry_that_cannot_be_used_is_no_hold() -> None:
    stats = IngestStats()
    calls = RegistryCalls(stats)

    def broken() -> None:
        raise RegistryUnavailable("no such table: agents", retryable=False)

    try:
        with pytest.raises(RegistryUnavailable):
            await calls.run(broken)
    finally:
        calls.shutdown()
    assert (stats.holding, stats.last_error, stats.registry_retries) == (None, None, 0)


async def test_registry_calls_sum_their_cpu_apart_from_their_wall_time() -> None:
    stats = IngestStats()
    calls = RegistryCalls(stats)

    def waits() -> str:  # a call that waits (as in COMMIT's fsync), spending next to no CPU
        threading.Event().wait(0.05)
        return "done"

    try:
        assert await calls.run(waits) == "done"
    finally:
        calls.shutdown()
    assert 0 <= stats.registry_cpu_s < stats.registry_wall_s
