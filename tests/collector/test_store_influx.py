"""InfluxStore against a real influxd: round trips, overwrite, refused writes, outages."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.store import (
    InfluxStore,
    NotFound,
    OutOfRange,
    QueryFailed,
    StoreUnavailable,
    WindowRecord,
    WriteRejected,
)
from contract import wire
from stack import InfluxServer
from tests.collector.store_helpers import count_windows, open_store, quality, record, window
from tests.contract.wire_strategies import identifiers, kpi_windows

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

END = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
END_MS = 1_795_593_600_000
_FAR = timedelta(days=365 * 200)


async def test_a_window_with_every_quantity_reads_back_equal(influxd: InfluxServer) -> None:
    written = [
        record(window(END), seq=7),
        record(
            window(END, partial=True, idle_s=5.5, quality=quality(comm_loss_s=1.5, clock_jumps=2)),
            8,
            agent="gw-02",
        ),
    ]
    async with open_store(influxd) as store:
        await store.write(written)
        back = await store.windows("ent-01", END - timedelta(minutes=1), END)
    assert sorted(back, key=lambda r: r.agent) == written


async def test_a_window_measuring_nothing_optional_reads_back_with_nones(
    influxd: InfluxServer,
) -> None:
    bare = window(
        END,
        run_s=None,
        idle_s=None,
        down_s=None,
        off_s=None,
        planned_stop_s=None,
        total_count=None,
        good_count=None,
        reject_count=None,
        energy_kwh=None,
        ideal_cycle_s=None,
        provenance="imported",
    )
    async with open_store(influxd) as store:
        await store.write([record(bare)])
        (back,) = await store.windows("ent-01", END - timedelta(days=1), END)
        rows = await store.query('SELECT * FROM "rv"."raw"."kpi_window"')
    assert back == record(bare)
    assert "run_s" not in rows[0] and "ideal_count_s" not in rows[0]  # never written: no null


@st.composite
def _record_lists(draw: st.DrawFn) -> list[WindowRecord]:
    # One window per identity: InfluxDB overwrites a point field by field, so two different
    # windows with one identity (the second missing a field) would read back as a mix of both.
    # Ingest never writes that: other content under a seen seq is quarantined as a replay.
    windows = draw(
        st.lists(
            kpi_windows(),
            min_size=1,
            max_size=8,
            unique_by=lambda w: (w.device, w.provenance, w.end),
        )
    )
    agent = draw(identifiers)
    return [
        WindowRecord("plat-a", "ent-01", agent, draw(st.integers(1, wire.MAX_SEQ)), w)
        for w in windows
    ]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=_record_lists())
def test_property_any_valid_window_reads_back_equal(
    influxd: InfluxServer, records: list[WindowRecord]
) -> None:
    expected = {(r.window.device, r.window.provenance, r.window.end): r for r in records}

    async def round_trip() -> list[WindowRecord]:
        # Windows from 2000 to 2100: no retention limit for this test.
        async with InfluxStore(
            influxd.url, "rv", raw_retention_policy=None, rollup_retention_policy=None
        ) as store:
            await store.query('DROP DATABASE "rv"')
            await store.ensure_database()
            await store.write(records)
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            return await store.windows("ent-01", epoch, epoch + _FAR)

    back = asyncio.run(round_trip())
    key = lambda r: (r.window.device, r.window.provenance, r.window.end)  # noqa: E731
    assert sorted(back, key=key) == sorted(expected.values(), key=key)


async def test_a_redelivered_window_overwrites_itself(influxd: InfluxServer) -> None:
    first = record(window(END), seq=5)
    async with open_store(influxd) as store:
        await store.write([first, record(window(END + timedelta(minutes=1)), seq=5)])
        await store.write([first])  # the same envelope again (lost PUBACK, replica restart)
        await store.write([first])
        assert await count_windows(store) == 2
        await store.write([record(window(END, device="press-2"), seq=6)])
        assert await count_windows(store) == 3  # another device is another window


async def test_batches_and_gzip_write_every_window(influxd: InfluxServer) -> None:
    records = [record(window(END + timedelta(minutes=i)), seq=i + 1) for i in range(23)]
    async with open_store(influxd, batch_size=5, gzip=True) as store:
        await store.write(records)
        assert await count_windows(store) == 23


async def test_a_partial_write_is_an_error_with_influxdb_message(influxd: InfluxServer) -> None:
    async with open_store(influxd) as store:
        await store.write([record(window(END))])
        series = "kpi_window,agent=x,device=d,enterprise=e,platform=p,provenance=measured"
        good = f"{series} run_s=1.0 {END_MS}"
        bad = f"{series} run_s=1i {END_MS + 1}"  # run_s is a float field
        with pytest.raises(WriteRejected) as refused:
            await store.write_lines([good, bad], retention_policy="raw")
    error = refused.value
    assert not error.retryable
    assert error.status_code == 400
    assert error.dropped == 1
    assert "partial write" in error.server_message
    assert "field type conflict" in str(error)


async def test_a_type_conflict_inside_a_new_batch_is_refused(influxd: InfluxServer) -> None:
    async with open_store(influxd) as store:
        with pytest.raises(WriteRejected) as refused:
            await store.write_lines(
                [f"m v=1i {END_MS}", f"m v=1.5 {END_MS + 1}"], retention_policy=None
            )
        assert "field type conflict" in refused.value.server_message
        assert not refused.value.retryable
        with pytest.raises(WriteRejected, match="unable to parse"):
            await store.write_lines(["not line protocol"], retention_policy=None)


async def test_a_window_older_than_raw_retention_is_refused_not_lost_silently(
    influxd: InfluxServer,
) -> None:
    # An import of a baseline older than the raw policy keeps: influxd drops it, we say so.
    async with open_store(influxd, raw_retention_days=30) as store:
        with pytest.raises(WriteRejected, match="beyond retention policy") as old:
            await store.write([record(window(datetime(2001, 1, 1, tzinfo=UTC)))])
    assert old.value.dropped == 1


async def test_missing_database_or_policy_is_not_found_not_retryable(
    influxd: InfluxServer,
) -> None:
    async with InfluxStore(influxd.url, "nowhere") as store:
        with pytest.raises(NotFound) as no_database:
            await store.write([record(window(END))])
    assert no_database.value.status_code == 404
    assert not no_database.value.retryable
    # influxd answers a missing retention policy with HTTP 500: still not retryable.
    async with InfluxStore(influxd.url, "rv", raw_retention_policy="gone") as store:
        await store.ensure_database()
        with pytest.raises(NotFound, match="retention policy not found") as no_policy:
            await store.write_lines(["m v=1 1"], retention_policy="gone")
    assert no_policy.value.status_code == 500


async def test_ensure_is_idempotent_and_reports_a_policy_that_differs(
    influxd: InfluxServer,
) -> None:
    async with open_store(influxd) as store:
        assert await store.ensure_retention() == []
        await store.ensure_database()
        policies = {
            row["name"]: row for row in await store.query('SHOW RETENTION POLICIES ON "rv"')
        }
    assert policies["raw"]["duration"] == "43920h0m0s"  # 1830 days
    assert policies["raw"]["default"] is True
    assert policies["rollup"]["duration"] == "0s"  # forever
    async with InfluxStore(influxd.url, "rv", raw_retention_days=365) as shorter:
        problems = await shorter.ensure_retention()
    assert problems == ["retention policy 'raw' keeps 43920h0m0s, configured 365d"]


async def test_queries_read_over_get_and_report_statement_errors(influxd: InfluxServer) -> None:
    async with open_store(influxd) as store:
        await store.write([record(window(END))])
        first, second = await store.query_statements(
            'SELECT SUM("run_s") FROM "rv"."raw"."kpi_window"; SHOW DATABASES'
        )
        assert first == [{"time": 0, "sum": 45}]
        assert {"name": "rv"} in second
        with pytest.raises(QueryFailed, match="error parsing query"):
            await store.query("SELECT FROM")
        with pytest.raises(QueryFailed, match="unsupported sum"):
            await store.query('SELECT SUM("partial") FROM "rv"."raw"."kpi_window"')


async def test_days_outside_influxdb_time_range_are_refused_typed(influxd: InfluxServer) -> None:
    # InfluxDB holds 1677-09-21 .. 2262-04-11; date.min and date.max overflowed datetime.
    async with open_store(influxd) as store:
        for first, last in (
            (datetime.min.date(), datetime(1, 1, 2).date()),
            (END.date(), datetime.max.date()),
            (datetime(2262, 4, 1).date(), datetime(2262, 4, 30).date()),
        ):
            with pytest.raises(OutOfRange, match="1677-09-22") as caught:
                await store.daily("e01", first, last)
            assert not caught.value.retryable
        assert await store.daily("e01", END.date(), END.date()) == []


async def test_influxd_stopped_makes_writes_retryable(influxd: InfluxServer) -> None:
    async with open_store(influxd) as store:
        await store.write([record(window(END))])
        influxd.stop()
        with pytest.raises(StoreUnavailable) as down:
            await store.write([record(window(END + timedelta(minutes=1)))])
        assert down.value.retryable
        assert down.value.status_code is None
        influxd.start()
        await store.write([record(window(END + timedelta(minutes=1)))])  # same store carries on
        assert await count_windows(store) == 2


async def test_a_hung_influxd_times_out_as_retryable(influxd: InfluxServer) -> None:
    async with open_store(influxd, timeout_s=0.5) as store:
        assert influxd.pid is not None
        os.kill(influxd.pid, signal.SIGSTOP)  # accepts connections (kernel), answers nothing
        try:
            with pytest.raises(StoreUnavailable, match="no answer in time") as hung:
                await store.write([record(window(END))])
            assert hung.value.retryable
        finally:
            os.kill(influxd.pid, signal.SIGCONT)
        await store.ping()
