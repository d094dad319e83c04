"""Holding while InfluxDB is unavailable: the typed hold, the health page's text, one line each.

The attempts here are plain coroutines that fail the way ``InfluxStore`` fails (the store's
own errors): the stopped-InfluxDB case end to end is tests/collector/faults/test_influx_down.py.
"""

from __future__ import annotations

import logging

import pytest

from collector.ingest import Holding, IngestStats
from collector.ingest.writes import until_stored
from collector.store import AuthFailed, StoreError, StoreUnavailable, WriteRejected


class Attempts:
    """Fails with each of ``failures`` in turn, then succeeds; notes the hold it saw each time."""

    def __init__(self, stats: IngestStats, *failures: StoreError) -> None:
        self.stats = stats
        self.failures = list(failures)
        self.seen: list[tuple[Holding | None, str | None]] = []

    async def __call__(self) -> None:
        self.seen.append((self.stats.holding, self.stats.last_error))
        if self.failures:
            raise self.failures.pop(0)


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "collector.ingest"]


@pytest.mark.anyio
async def test_an_outage_is_held_once_and_released_when_writes_succeed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = IngestStats()
    attempts = Attempts(
        stats,
        StoreUnavailable("connection refused", retry_after_s=0.01),
        AuthFailed("401 unauthorized", retry_after_s=0.01),
    )
    with caplog.at_level(logging.INFO, logger="collector.ingest"):
        await until_stored(attempts, stats)
    assert attempts.seen == [
        (None, None),
        (Holding.INFLUXDB, "InfluxDB unavailable: connection refused"),
        (Holding.INFLUXDB, "InfluxDB unavailable: 401 unauthorized"),
    ]
    assert (stats.holding, stats.last_error, stats.store_retries) == (None, None, 2)
    assert lines(caplog) == [
        (logging.WARNING, "InfluxDB unavailable (connection refused); holding, retrying"),
        (logging.INFO, "InfluxDB writes succeed again"),
    ]


@pytest.mark.anyio
async def test_a_registry_hold_is_neither_released_nor_hidden_by_influxdb(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stats = IngestStats()
    stats.hold(Holding.REGISTRY, "registry unavailable: database is locked")
    with caplog.at_level(logging.INFO, logger="collector.ingest"):
        await until_stored(Attempts(stats), stats)
    assert (stats.holding, stats.last_error) == (
        Holding.REGISTRY,
        "registry unavailable: database is locked",
    )
    assert lines(caplog) == []

    with caplog.at_level(logging.INFO, logger="collector.ingest"):
        await until_stored(Attempts(stats, StoreUnavailable("timeout", retry_after_s=0.01)), stats)
    assert lines(caplog)[0] == (
        logging.WARNING,
        "InfluxDB unavailable (timeout); holding, retrying",
    )
    assert (stats.holding, stats.last_error) == (None, None)


def test_a_broker_error_is_no_hold() -> None:
    stats = IngestStats()
    stats.hold(Holding.INFLUXDB, "InfluxDB unavailable: timeout")
    stats.note_error("broker refused the connection: Not authorized")
    assert (stats.holding, stats.last_error) == (
        None,
        "broker refused the connection: Not authorized",
    )


@pytest.mark.anyio
async def test_a_point_refused_for_good_is_not_held() -> None:
    stats = IngestStats()
    with pytest.raises(WriteRejected):
        await until_stored(Attempts(stats, WriteRejected("field type conflict")), stats)
    assert (stats.holding, stats.last_error, stats.store_retries) == (None, None, 0)
