"""Day seals in the registry, on both backends: kept once by hash, one per chain index (a
second seal at an index is a conflict), append-only in the database itself, read back by day,
latest version and chain segment; each day's check upserted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.registry import DayCheck, Registry, SealDifference
from contract import wire
from contract.days import day_bounds, zone
from tests.collector.faults.harness import window
from tests.collector.registry_backends import RAW_ERRORS, raw_execute, raw_rows
from tests.collector.seal_helpers import ZONE, SealChain

T0 = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
DAY1, DAY2, DAY3 = dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 3)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.fixture
def registry(registry_location: Path | str) -> Iterator[Registry]:
    with Registry(registry_location) as opened:
        yield opened


def _windows(day: dt.date, first_seq: int, count: int) -> list[tuple[int, wire.KpiWindow]]:
    # 10:00 local onwards (02:00 UTC): well inside the local day.
    start = dt.datetime(day.year, day.month, day.day, 2, 0, tzinfo=dt.UTC)
    return [
        (first_seq + n, window("press-1", start + dt.timedelta(minutes=n))) for n in range(count)
    ]


def _chain(device: str = "press-1") -> SealChain:
    return SealChain(KEY, "plat-a", "ent-01", "gw-01", device)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _store(registry: Registry, raw: bytes) -> str:
    stored = registry.add_day_seal(wire.decode_day_seal(raw), raw, received_at=T0)
    return stored.outcome


def test_a_seal_is_kept_once_and_marks_its_day(registry: Registry) -> None:
    raw = _chain().seal(DAY1, _windows(DAY1, 1, 3), seq=4)
    stored = registry.add_day_seal(wire.decode_day_seal(raw), raw, received_at=T0)
    assert (stored.outcome, stored.seal_sha256) == ("new", wire.day_seal_sha256(raw))
    # A seal writes no window: its mark is after the day, so the refresh merges nothing.
    after_the_day = _ms(day_bounds(DAY1, zone(ZONE))[1]) + 1
    assert registry.dirty_days() == [("ent-01", "press-1", DAY1, ZONE, 1, after_the_day)]
    # Delivered again: a duplicate, nothing new kept; the day is marked again.
    assert _store(registry, raw) == "duplicate"
    assert registry.dirty_days() == [("ent-01", "press-1", DAY1, ZONE, 2, after_the_day)]
    entry = registry.day_seal(stored.seal_sha256)
    assert entry is not None
    assert (entry.agent_id, entry.device, entry.day, entry.tz, entry.version) == (
        "gw-01", "press-1", DAY1, ZONE, 1
    )  # fmt: skip
    assert (entry.chain_index, entry.prev_sha256, entry.seq, entry.received_at) == (1, None, 4, T0)
    assert entry.raw == raw and entry.message().parts[0].windows == 3
    assert registry.day_seal("0" * 64) is None


def test_another_seal_at_a_held_index_is_a_conflict(registry: Registry) -> None:
    chain = _chain()
    first = chain.seal(DAY1, _windows(DAY1, 1, 3), seq=4)
    assert _store(registry, first) == "new"
    other = chain.seal(DAY1, _windows(DAY1, 1, 2), seq=5, index=1)
    stored = registry.add_day_seal(wire.decode_day_seal(other), other, received_at=T0)
    assert stored.outcome == "conflict"
    assert stored.held_sha256 == wire.day_seal_sha256(first) != stored.seal_sha256
    assert registry.day_seal(stored.seal_sha256) is None
    # The same index of another device is another chain.
    assert _store(registry, _chain("press-2").seal(DAY1, _windows(DAY1, 1, 3), seq=4)) == "new"


def test_seals_are_append_only_in_the_database(
    registry: Registry, registry_location: Path | str
) -> None:
    raw = _chain().seal(DAY1, _windows(DAY1, 1, 3), seq=4)
    _store(registry, raw)
    for statement in ("UPDATE day_seals SET version = 2", "DELETE FROM day_seals"):
        with pytest.raises(RAW_ERRORS, match="day_seals is append-only"):
            raw_execute(registry_location, statement)
    if isinstance(registry_location, str):  # PostgreSQL: TRUNCATE too
        with pytest.raises(RAW_ERRORS, match="day_seals is append-only"):
            raw_execute(registry_location, "TRUNCATE day_seals")
    assert raw_rows(registry_location, "SELECT version FROM day_seals") == [(1,)]


def test_latest_versions_and_chain_segments(registry: Registry) -> None:
    chain = _chain()
    seals = [
        chain.seal(DAY1, _windows(DAY1, 1, 3), seq=4),  # index 1, day 1 v1
        chain.seal(DAY2, _windows(DAY2, 5, 3), seq=8),  # index 2, day 2 v1
        chain.seal(DAY1, _windows(DAY1, 1, 3) + _windows(DAY1, 9, 1), seq=10),  # 3: day 1 v2
        chain.seal(DAY3, _windows(DAY3, 11, 2), seq=13),  # index 4, day 3 v1
    ]
    for raw in seals:
        assert _store(registry, raw) == "new"
    hashes = [wire.day_seal_sha256(raw) for raw in seals]

    latest = registry.latest_day_seals("ent-01", DAY1, DAY2)
    assert [(e.day, e.version, e.chain_index) for e in latest] == [(DAY1, 2, 3), (DAY2, 1, 2)]
    assert latest[0].supersedes_sha256 == hashes[0]
    assert registry.latest_day_seals("ent-02", DAY1, DAY3) == []

    whole = registry.day_seal_chain("gw-01", "press-1")
    assert [e.chain_index for e in whole] == [1, 2, 3, 4]
    assert [e.prev_sha256 for e in whole] == [None, *hashes[:3]]
    assert [e.chain_index for e in registry.day_seal_chain("gw-01", "press-1", first_index=2,
                                                           last_index=3)] == [2, 3]  # fmt: skip
    # From day 2: starts at the last seal of an earlier day (index 3, day 1 v2).
    assert [e.chain_index for e in registry.day_seal_segment("gw-01", "press-1", DAY2)] == [3, 4]
    assert [e.chain_index for e in registry.day_seal_segment("gw-01", "press-1", DAY1)] == [
        1, 2, 3, 4
    ]  # fmt: skip
    of_day = registry.day_seals_of_days([("ent-01", "press-1", DAY1)])
    assert [(e.version, e.chain_index) for e in of_day] == [(1, 1), (2, 3)]


def _check(
    outcome: str, sha: str | None, *differences: SealDifference, full: bool = True
) -> DayCheck:
    return DayCheck(
        agent_id="gw-01",
        device="press-1",
        provenance="measured",
        day=DAY1,
        platform="plat-a",
        enterprise="ent-01",
        outcome=outcome,  # type: ignore[arg-type]  # the bad outcome case below is on purpose
        seal_sha256=sha,
        differences=differences,
        root_checked=full,
        checked_at=T0,
        checked_by="refresh" if full else "evidence",
    )


def test_a_days_check_is_upserted(registry: Registry) -> None:
    sha = "ab" * 32
    registry.put_day_checks([_check("unsealed", None)])
    assert registry.day_checks("ent-01", DAY1, DAY1) == [_check("unsealed", None)]
    different = _check(
        "sealed_different",
        sha,
        SealDifference("merkle_root", "00" * 32, "11" * 32),
        SealDifference("run_s", 3000.0, 3100.5),
        SealDifference("first_start", "2026-06-01T02:00:00.000Z", "2026-06-01T02:01:00.000Z"),
    )
    registry.put_day_checks([different])
    assert registry.day_checks("ent-01", DAY1, DAY3) == [different]
    assert registry.day_checks("ent-01", DAY1, DAY1, outcome="sealed_equal") == []
    assert registry.day_checks("ent-01", DAY2, DAY3) == []
    registry.put_day_checks([_check("sealed_equal", sha)])
    assert registry.day_checks("ent-01", DAY1, DAY1, outcome="sealed_equal") == [
        _check("sealed_equal", sha)
    ]
    for bad, message in (
        (_check("sealed_maybe", sha), "outcome"),
        (_check("sealed_equal", None), "names its seal"),
        (_check("unsealed", sha), "names its seal"),
    ):
        with pytest.raises(ValueError, match=message):
            registry.put_day_checks([bad])


def test_a_sums_only_check_keeps_what_the_full_check_found_in_the_raw_windows(
    registry: Registry,
) -> None:
    sha, root = "ab" * 32, SealDifference("merkle_root", "00" * 32, "11" * 32)
    registry.put_day_checks([_check("sealed_different", sha, root)])
    # The evidence gather finds the row's sums equal: the root difference stays.
    registry.put_day_checks([_check("sealed_equal", sha, full=False)])
    (held,) = registry.day_checks("ent-01", DAY1, DAY1)
    assert (held.outcome, held.differences, held.checked_by) == (
        "sealed_different", (root,), "evidence"
    )  # fmt: skip
    # It finds a sum different too: both are named.
    run = SealDifference("run_s", 10.0, 20.0)
    registry.put_day_checks([_check("sealed_different", sha, run, full=False)])
    assert registry.day_checks("ent-01", DAY1, DAY1)[0].differences == (run, root)
    # Against another seal (a new version), or after a full check, the new check stands.
    registry.put_day_checks([_check("sealed_equal", "cd" * 32, full=False)])
    assert registry.day_checks("ent-01", DAY1, DAY1)[0].outcome == "sealed_equal"
    registry.put_day_checks([_check("sealed_different", sha, root)])
    registry.put_day_checks([_check("sealed_equal", sha)])
    assert registry.day_checks("ent-01", DAY1, DAY1)[0].outcome == "sealed_equal"
