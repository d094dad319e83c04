"""The seal check on a real influxd: random windows written and rolled up, read back as rows
and raw windows, checked against seals computed from the same windows by ``contract.daysums``
(as an agent computes them): equal when nothing changed, every changed figure named when
something did, unsealed where no seal covers a row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.ingest.day_checks import check_day, checks_of_day, windows_root
from collector.registry import DaySealEntry
from collector.store import (
    DailyRow,
    DayKey,
    InfluxStore,
    WindowRecord,
    affected_days,
    day_bounds,
    day_marks,
    window_line,
)
from contract import wire
from contract.days import day_of, zone
from stack import InfluxServer
from tests.collector.seal_helpers import SealChain
from tests.collector.store_helpers import open_store, record
from tests.collector.test_store_daily import _random_window

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

ZONE = "Asia/Shanghai"
#: 2026-10-30 00:00 Shanghai: two local days of 10-minute windows from here.
T0 = dt.datetime(2026, 10, 29, 16, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 10, 30)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
NOW = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)


def _records(seed: int) -> list[WindowRecord]:
    """Measured windows (seq = step) and every 7th step an imported one on another minute."""
    rng = random.Random(seed)
    records = []
    for step in range(1, 2 * 144 + 1):
        end = T0 + dt.timedelta(minutes=10 * step)
        if rng.random() < 0.8:
            records.append(
                record(_random_window(rng, end, "press-1"), seq=step, enterprise="ent-sh")
            )
        if step % 7 == 0:
            imported = _random_window(rng, end - dt.timedelta(minutes=5), "press-1")
            imported = imported.model_copy(
                update={"provenance": "imported", "end": end - dt.timedelta(minutes=5)}
            )
            records.append(record(imported, seq=1000 + step, enterprise="ent-sh"))
    return records


def _of_day(records: list[WindowRecord], provenance: str) -> list[tuple[int, wire.KpiWindow]]:
    return [
        (r.seq, r.window)
        for r in records
        if isinstance(r.window, wire.KpiWindow)
        and r.window.provenance == provenance
        and day_of(r.window.end, zone(ZONE)) == DAY
    ]


def _entry(raw: bytes) -> DaySealEntry:
    seal = wire.decode_day_seal(raw)
    return DaySealEntry(
        seal_sha256=wire.day_seal_sha256(raw), agent_id=seal.agent, platform=seal.platform,
        enterprise=seal.enterprise, device=seal.device, day=seal.day, tz=seal.tz,
        version=seal.version, chain_index=seal.index, prev_sha256=seal.prev,
        supersedes_sha256=seal.supersedes, seq=seal.seq, received_at=NOW, raw=raw,
    )  # fmt: skip


async def _stored(
    store: InfluxStore, records: list[WindowRecord]
) -> tuple[list[DailyRow], list[WindowRecord]]:
    """Write ``records``, refresh DAY's rollup, read its rows and raw windows back."""
    if records:
        await store.write(records)
    await store.refresh_days(affected_days(records, {"ent-sh": ZONE}) or [_KEY])
    rows = await store.daily("ent-sh", DAY, DAY)
    windows = await store.windows("ent-sh", *day_bounds(DAY, zone(ZONE)), device="press-1")
    return rows, windows


_KEY = DayKey("ent-sh", "press-1", DAY, ZONE)


def _chain() -> SealChain:
    return SealChain(KEY, "plat-a", "ent-sh", "gw-01", "press-1")


async def test_a_day_equal_to_its_seal_and_a_row_no_seal_covers(influxd: InfluxServer) -> None:
    records = _records(seed=17)
    measured, imported = _of_day(records, "measured"), _of_day(records, "imported")
    async with open_store(influxd) as store:
        rows, windows = await _stored(store, records)
    assert {r.provenance for r in rows} == {"measured", "imported"}
    chain = _chain()
    v1 = _entry(chain.seal(DAY, measured, seq=5000, tz=ZONE))
    v2 = _entry(chain.seal(DAY, measured + imported, seq=5001, tz=ZONE))

    first = checks_of_day([v1], rows, windows, checked_at=NOW)
    assert [(c.provenance, c.outcome, c.seal_sha256) for c in first] == [
        ("imported", "unsealed", None),
        ("measured", "sealed_equal", v1.seal_sha256),
    ]
    assert first[1].differences == () and first[1].root_checked
    # Version 2 seals both parts: the latest version is the one checked.
    both = checks_of_day([v1, v2], rows, windows, checked_at=NOW)
    assert [(c.provenance, c.outcome, c.seal_sha256) for c in both] == [
        ("imported", "sealed_equal", v2.seal_sha256),
        ("measured", "sealed_equal", v2.seal_sha256),
    ]


async def test_a_day_merged_window_by_window_is_equal_to_its_seal(influxd: InfluxServer) -> None:
    # As the ingest refreshes in steady flow: each window written, its day marked with its end
    # and refreshed with that mark, so most refreshes only add the new window to the stored
    # rows (collector.store.rollup_merge). The sums then add in another order than one SUM
    # over the day: the check must still find the rows equal to the seal.
    records = sorted(_records(seed=17), key=lambda r: r.window_end)
    measured, imported = _of_day(records, "measured"), _of_day(records, "imported")
    merged = 0
    async with open_store(influxd) as store:
        for one in records:
            await store.write([one])
            marks = day_marks([one], {"ent-sh": ZONE})
            merged += (await store.refresh_days(list(marks), dict(marks))).merged
        rows = await store.daily("ent-sh", DAY, DAY)
        windows = await store.windows("ent-sh", *day_bounds(DAY, zone(ZONE)), device="press-1")
    assert merged > len(records) // 2
    seal = _entry(_chain().seal(DAY, measured + imported, seq=5000, tz=ZONE))
    checks = checks_of_day([seal], rows, windows, checked_at=NOW)
    assert [(c.provenance, c.outcome, c.differences) for c in checks] == [
        ("imported", "sealed_equal", ()),
        ("measured", "sealed_equal", ()),
    ]


async def test_every_changed_figure_is_named(influxd: InfluxServer) -> None:
    records = _records(seed=23)
    measured = _of_day(records, "measured")
    async with open_store(influxd) as store:
        rows, windows = await _stored(store, records)
    row = next(r for r in rows if r.provenance == "measured")
    stored = [w for w in windows if w.window.provenance == "measured"]
    assert (
        windows_root(stored)
        == wire.decode_day_seal(_chain().seal(DAY, measured, seq=5000, tz=ZONE))
        .parts[0]
        .merkle_root
    )

    # The agent sealed one window with 1 ms more down time than InfluxDB holds (1e-3 s, far
    # above the float bound of ~1e-13 relative): the sum and the root are named.
    index = next(i for i, (_, w) in enumerate(measured) if w.down_s is not None)
    seq, changed = measured[index]
    edited = changed.model_copy(update={"down_s": changed.down_s + 1e-3})  # type: ignore[operator]
    sealed = [*measured[:index], (seq, edited), *measured[index + 1 :]]
    entry = _entry(_chain().seal(DAY, sealed, seq=5000, tz=ZONE))
    part = entry.message().parts[0]
    check = check_day(entry, part, row, stored, checked_at=NOW)
    assert check.outcome == "sealed_different"
    assert [d.field for d in check.differences] == ["down_s", "merkle_root"]
    assert check.differences[0].stored == row.down_s

    # A sealed part with no stored row and no windows: its windows are named, 0 stored.
    missing = check_day(entry, part, None, [], checked_at=NOW)
    assert [(d.field, d.stored) for d in missing.differences] == [
        ("windows", 0), ("merkle_root", None), ("seq_first", None), ("seq_last", None)
    ]  # fmt: skip


async def test_a_raw_window_edited_in_influxdb_is_named_after_the_next_refresh(
    influxd: InfluxServer,
) -> None:
    records = _records(seed=29)
    measured = _of_day(records, "measured")
    entry = _entry(_chain().seal(DAY, measured, seq=5000, tz=ZONE))
    target = next(
        r for r in records
        if isinstance(r.window, wire.KpiWindow) and r.window.provenance == "measured"
        and r.window.run_s is not None and day_of(r.window.end, zone(ZONE)) == DAY
    )  # fmt: skip
    assert isinstance(target.window, wire.KpiWindow) and target.window.run_s is not None
    edited = record(
        target.window.model_copy(update={"run_s": target.window.run_s + 60.0}),
        seq=target.seq,
        enterprise="ent-sh",
    )
    async with open_store(influxd) as store:
        rows, windows = await _stored(store, records)
        assert [c.outcome for c in checks_of_day([entry], rows, windows, checked_at=NOW)] == [
            "unsealed", "sealed_equal"
        ]  # fmt: skip
        # Someone with write access to InfluxDB rewrites one point, same seq, 60 s more run.
        await store.write_lines([window_line(edited)], retention_policy=store.raw_retention_policy)
        rows, windows = await _stored(store, [])
    checks = checks_of_day([entry], rows, windows, checked_at=NOW)
    measured_check = next(c for c in checks if c.provenance == "measured")
    assert measured_check.outcome == "sealed_different"
    named = {d.field: (d.stored, d.sealed) for d in measured_check.differences}
    assert set(named) == {"run_s", "merkle_root"}
    stored_run, sealed_run = named["run_s"]
    assert stored_run - sealed_run == pytest.approx(60.0)


async def test_a_held_seal_that_no_longer_decodes_is_named_not_skipped(
    influxd: InfluxServer,
) -> None:
    records = _records(seed=31)
    async with open_store(influxd) as store:
        rows, windows = await _stored(store, records)
    good = _entry(_chain().seal(DAY, _of_day(records, "measured"), seq=5000, tz=ZONE))
    broken = dataclasses.replace(good, raw=good.raw.replace(b'"v":1', b'"v":9'))
    checks = checks_of_day([broken], rows, windows, checked_at=NOW)
    assert [(c.provenance, c.outcome) for c in checks] == [
        ("imported", "sealed_different"), ("measured", "sealed_different")
    ]  # fmt: skip
    assert [d.field for d in checks[1].differences] == ["seal"]
    assert "unreadable" in checks[1].differences[0].sealed


async def test_a_25_hour_day_is_read_and_checked_whole(influxd: InfluxServer) -> None:
    """Europe/Berlin's 2026-10-25 lasts 25 hours (clocks go back at 03:00 CEST): the check
    reads the same windows as the rollup (end in (midnight, next midnight]), all 150."""
    berlin, day = "Europe/Berlin", dt.date(2026, 10, 25)
    midnight, next_midnight = day_bounds(day, zone(berlin))
    assert next_midnight - midnight == dt.timedelta(hours=25)
    rng = random.Random(41)
    steps = range(1, 151)
    records = [
        record(_random_window(rng, midnight + dt.timedelta(minutes=10 * n), "press-1"), seq=n,
               enterprise="ent-be")
        for n in steps
    ]  # fmt: skip
    sealed = [(r.seq, r.window) for r in records if isinstance(r.window, wire.KpiWindow)]
    chain = SealChain(KEY, "plat-a", "ent-be", "gw-01", "press-1")
    entry = _entry(chain.seal(day, sealed, seq=5000, tz=berlin))
    async with open_store(influxd) as store:
        await store.write(records)
        await store.refresh_days(affected_days(records, {"ent-be": berlin}))
        rows = await store.daily("ent-be", day, day)
        windows = await store.windows("ent-be", midnight, next_midnight, device="press-1")
    assert [r.windows for r in rows] == [150] and len(windows) == 150
    (check,) = checks_of_day([entry], rows, windows, checked_at=NOW)
    assert (check.outcome, check.differences) == ("sealed_equal", ())
