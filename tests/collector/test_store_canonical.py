"""The rebuild proof behind the seal check: any valid window written to a real influxd reads
back as the exact canonical bytes the agent signed, so the collector can rebuild a day's
Merkle root from what it stores and keeps no per-window digest (docs/storage.md, "Day seals").

Model equality is not enough here (``60 == 60.0``, ``0.0 == -0.0``): the bytes are compared.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.ingest.day_checks import windows_root
from collector.store import InfluxStore, WindowRecord
from contract import merkle, wire
from stack import InfluxServer
from tests.contract.wire_strategies import identifiers, kpi_windows

_FAR = timedelta(days=365 * 200)


@st.composite
def _records(draw: st.DrawFn) -> list[WindowRecord]:
    # One window per identity (series and end): two windows on one point merge field by field,
    # which is the tampering the seal check catches, not a rebuild.
    windows = draw(
        st.lists(
            kpi_windows(),
            min_size=1,
            max_size=6,
            unique_by=lambda w: (w.device, w.provenance, w.end),
        )
    )
    agent = draw(identifiers)
    return [
        WindowRecord("plat-a", "ent-01", agent, draw(st.integers(1, wire.MAX_SEQ)), w)
        for w in windows
    ]


def _canonical(record: WindowRecord) -> bytes:
    window = record.window
    if not isinstance(window, wire.KpiWindow):
        raise TypeError("expected a wire.KpiWindow")
    return wire.canonical_bytes(window.model_dump(mode="json"))


def _identity(record: WindowRecord) -> tuple[str, str, str, datetime | str]:
    return (record.agent, record.window.device, record.window.provenance, record.window.end)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=_records())
def test_any_valid_window_rebuilds_to_its_canonical_bytes(
    influxd: InfluxServer, records: list[WindowRecord]
) -> None:
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

    back = {_identity(r): r for r in asyncio.run(round_trip())}
    assert set(back) == {_identity(r) for r in records}
    for sent in records:
        rebuilt = back[_identity(sent)]
        assert _canonical(rebuilt) == _canonical(sent)
        assert rebuilt.seq == sent.seq
    # So the root over the stored windows is the root over what was sent, in ledger order
    # (seq, end). Within one sealed part (one device and provenance) (seq, end) is unique; the
    # drawn windows span several, so the order is only defined when it is unique here too.
    ordered = sorted(records, key=lambda r: (r.seq, r.window_end))
    if len({(r.seq, r.window_end) for r in records}) == len(records):
        assert (
            windows_root(list(back.values())) == merkle.root([_canonical(r) for r in ordered]).hex()
        )
