"""The day ledger on a real SQLite outbox: when days close, what a seal commits to, the chain."""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent import day_ledger
from agent.day_ledger import DayDraft, LedgerDay, closed_days, waiting_reason
from agent.outbox import Outbox, OutboxError
from agent.publish import Identity, sign_day_seal
from contract import days, merkle, quantities, wire
from contract.daysums import float_tolerance, ideal_count_s
from tests.agent.test_outbox import sealer
from tests.contract.test_wire import KEY, make_window

IDENTITY = Identity("plat-a", "ent-01", "gw-01")
SHANGHAI = "Asia/Shanghai"
#: 2026-11-25 00:00 in Shanghai (UTC+8).
DAY_START = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
DAY_END = DAY_START + timedelta(days=1)
GRACE_S = 300


def span(
    device: str, start: datetime, minutes: int, provenance: str = "measured", **changes: Any
) -> wire.KpiWindow:
    """A window of ``minutes`` whose figures are a one-minute window's times ``minutes``."""
    m = minutes
    fields: dict[str, Any] = {
        "device": device,
        "start": start,
        "end": start + timedelta(minutes=m),
        "provenance": provenance,
        "scheduled_s": 60.0 * m,
        "planned_s": 60.0 * m,
        "run_s": 48.5 * m,
        "idle_s": 6.5 * m,
        "down_s": 5.0 * m,
        "total_count": 12 * m,
        "good_count": 11 * m,
        "reject_count": m,
        "energy_kwh": 0.25 * m,
        "quality": wire.DataQuality(
            samples=60 * m,
            missed_polls=0,
            bad_values=0,
            comm_loss_s=0.0,
            scheduled_comm_loss_s=0.0,
            counter_resets=0,
            meter_resets=0,
            clock_jumps=0,
        ),
    }
    fields.update(changes)
    return make_window(**fields)


def hours(
    device: str, start: datetime, count: int, provenance: str = "measured"
) -> list[wire.KpiWindow]:
    return [span(device, start + timedelta(hours=i), 60, provenance) for i in range(count)]


def day_sealer(draft: DayDraft) -> bytes:
    return sign_day_seal(draft, IDENTITY, KEY, DAY_END + timedelta(days=3))


def drain(outbox: Outbox, max_records: int = 500) -> None:
    """Batch everything pending, as the publisher does."""
    while outbox.seal_batch(max_records, sealer) is not None:
        pass


def seal(
    outbox: Outbox, now: datetime, devices: Sequence[str] = ("press-1",)
) -> list[wire.DaySeal]:
    sealed = outbox.seal_days(
        now=now.timestamp(), grace_s=GRACE_S, devices=devices, make_day_seal=day_sealer
    )
    return [wire.decode_day_seal(batch.envelope) for batch in sealed]


def after_grace(end: datetime = DAY_END) -> datetime:
    return end + timedelta(seconds=GRACE_S)


def sent_records(outbox: Outbox) -> list[tuple[int, bytes]]:
    """(seq, record) of every window batch still in the outbox, as published."""
    out: list[tuple[int, bytes]] = []
    for batch in outbox.unacked():
        if batch.kind == "windows":
            envelope = json.loads(batch.envelope)
            out += [(batch.seq, wire.canonical_bytes(r)) for r in envelope["records"]]
    return out


# --- when a day is closed --------------------------------------------------------------------


def _day(device: str = "press-1") -> LedgerDay:
    return LedgerDay(
        end_ms=round(DAY_END.timestamp() * 1000),
        device=device,
        tz=SHANGHAI,
        day="2026-11-25",
        start_ms=round(DAY_START.timestamp() * 1000),
    )


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def test_a_day_waits_for_its_grace_then_its_progress_then_its_pending_windows() -> None:
    day = _day()
    reached = {"press-1": day.end_ms}
    behind = {"press-1": day.end_ms - 60_000}
    now = _ms(after_grace())

    def reason(
        now_ms: int = now,
        progress: dict[str, int] = reached,
        pending: set[LedgerDay] | None = None,
        devices: frozenset[str] = frozenset({"press-1"}),
    ) -> str | None:
        return waiting_reason(day, now_ms=now_ms, grace_s=GRACE_S, progress=progress,
                              pending=pending or set(), devices=devices)  # fmt: skip

    assert reason(now_ms=now - 1) == "grace"
    assert reason() is None
    assert reason(progress=behind) == "progress"
    assert reason(pending={day}) == "pending"
    assert waiting_reason(day, now_ms=now, grace_s=GRACE_S, progress=reached, pending=set(),
                          devices={"press-1"}, queued={day}) == "fold"  # fmt: skip
    # Import-only history (no measured progress) waits for nothing but grace and pending.
    assert reason(progress={}) is None
    # A device removed from agent.yaml never progresses again: its days do not wait for it.
    assert reason(progress=behind, devices=frozenset()) is None


def test_closed_days_are_the_due_ones_oldest_first() -> None:
    later = LedgerDay(_day().end_ms + 86_400_000, "press-1", SHANGHAI, "2026-11-26",
                      _day().end_ms)  # fmt: skip
    other = _day("press-2")
    now = later.end_ms + GRACE_S * 1000
    progress = {"press-1": later.end_ms, "press-2": other.end_ms - 1}
    due = closed_days([later, other, _day()], now_ms=now, grace_s=GRACE_S, progress=progress,
                      pending=(), devices={"press-1", "press-2"})  # fmt: skip
    assert due == [_day(), later]


def test_grace_and_progress_on_a_real_outbox(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 24))
    drain(outbox)
    assert seal(outbox, after_grace() - timedelta(seconds=1)) == []
    # Progress has reached the day's end, grace has passed: version 1.
    [first] = seal(outbox, after_grace())
    assert (first.day.isoformat(), first.version, first.index, first.tz) == ("2026-11-25", 1, 1,
                                                                           SHANGHAI)  # fmt: skip
    assert first.parts[0].windows == 24 and first.parts[0].sums.duration_ms == 86_400_000
    assert seal(outbox, after_grace() + timedelta(hours=1)) == []  # nothing changed since


def test_a_day_whose_device_has_not_reached_its_end_waits(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 23))  # killed at 23:00, not back yet
    drain(outbox)
    late = after_grace() + timedelta(hours=5)
    assert seal(outbox, late) == []
    assert outbox.day_seals(now=late.timestamp(), grace_s=GRACE_S, devices={"press-1"})[
        "press-1"
    ].waiting == {"2026-11-25": "progress"}
    # The next run fills the gap (a comm-loss window, here an ordinary one) and the day closes.
    outbox.add_windows(hours("press-1", DAY_START + timedelta(hours=23), 1))
    drain(outbox)
    [sealed] = seal(outbox, late)
    assert sealed.parts[0].windows == 24


def test_a_pending_window_of_the_day_holds_its_seal(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 24))
    outbox.seal_batch(20, sealer)  # the broker went away after one batch: 4 windows pending
    assert outbox.stats().pending_windows == 4
    now = after_grace() + timedelta(hours=2)
    assert seal(outbox, now) == []
    report = outbox.day_seals(now=now.timestamp(), grace_s=GRACE_S, devices={"press-1"})
    assert report["press-1"].waiting == {"2026-11-25": "pending"}
    drain(outbox)
    [sealed] = seal(outbox, now)
    assert sealed.parts[0].windows == 24


def test_a_day_is_not_sealed_while_a_batch_of_it_waits_to_be_folded(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows(hours("press-1", DAY_START, 24))
    outbox.seal_batch(23, sealer)
    assert outbox.fold_batches() == 23  # the day is in the ledger, 23 windows of it
    outbox.seal_batch(23, sealer)  # the day's last window, sent and only queued
    assert outbox.stats().unfolded_windows == 1
    now = after_grace() + timedelta(hours=2)
    # Judged without folding first (a second connection, as another process would): the day
    # is otherwise due, and waits for its queued window.
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    sealed = day_ledger.seal_due_days(
        db, now_ms=_ms(now), grace_s=GRACE_S, devices={"press-1"},
        take_seq=lambda _db: 99, make_day_seal=day_sealer, limit=8,
    )  # fmt: skip
    db.execute("ROLLBACK")
    assert sealed == []
    report = day_ledger.ledger_report(db, now_ms=_ms(now), grace_s=GRACE_S, devices={"press-1"})
    assert report["press-1"].waiting == {"2026-11-25": "fold"}
    db.close()
    # The outbox folds first, in the sealing transaction: the seal holds all 24 windows.
    [seal_of_day] = seal(outbox, now)
    assert seal_of_day.parts[0].windows == 24
    records = [record for _, record in sent_records(outbox)]
    assert seal_of_day.parts[0].merkle_root == merkle.root(records).hex()
    assert outbox.stats().unfolded_windows == 0


def test_each_window_sent_is_folded_once_however_the_folds_fall(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows(hours("press-1", DAY_START, 24) + hours("press-2", DAY_START, 24))
    for round_no in itertools.count():
        if outbox.seal_batch(5, sealer) is None:
            break
        if round_no % 3 == 1:
            outbox.fold_batches()
        if round_no == 4:  # a restart: the queue and the parts are read back from the file
            outbox.close()
            outbox = Outbox(path)
    assert outbox.fold_batches() > 0 and outbox.fold_batches() == 0
    seals = seal(outbox, after_grace(), devices=("press-1", "press-2"))
    assert sorted(s.device for s in seals) == ["press-1", "press-2"]
    sent = sent_records(outbox)
    for day_seal in seals:
        mine = [r for _, r in sent if json.loads(r)["device"] == day_seal.device]
        assert day_seal.parts[0].windows == 24
        assert day_seal.parts[0].merkle_root == merkle.root(mine).hex()


def test_a_queued_record_that_cannot_be_folded_is_named_and_holds_every_seal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows(hours("press-1", DAY_START, 24))
    drain(outbox)
    with sqlite3.connect(path) as db:  # a bit flipped on disk after the batch was sent
        db.execute("UPDATE fold_queue SET record = CAST('{\"device\":1}' AS BLOB) "
                   "WHERE rowid = (SELECT max(rowid) FROM fold_queue)")  # fmt: skip
    db.close()
    with pytest.raises(ValueError, match=r"batch seq 1, device press-1, window ending .*folded"):
        outbox.fold_batches()
    with pytest.raises(ValueError, match="batch seq 1"):
        seal(outbox, after_grace())
    assert outbox.stats().unfolded_windows == 24  # nothing folded, nothing lost
    assert [b.kind for b in outbox.unacked()] == ["windows"]  # and no seal issued


def test_a_device_removed_from_the_config_has_its_open_day_sealed(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 10) + hours("press-2", DAY_START, 24))
    drain(outbox)
    now = after_grace()
    both = ("press-1", "press-2")
    assert [s.device for s in seal(outbox, now, both)] == ["press-2"]
    # press-1 left agent.yaml at 10:00: at the next start its day is sealed as it stands.
    [removed] = seal(outbox, now, ("press-2",))
    assert (removed.device, removed.parts[0].windows) == ("press-1", 10)


def test_import_only_history_is_sealed_without_progress(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 24, provenance="imported"))
    drain(outbox)
    assert outbox.resume_points() == {}
    [sealed] = seal(outbox, after_grace())
    assert [p.provenance for p in sealed.parts] == ["imported"]


@pytest.mark.parametrize(
    ("local_day", "day_hours"), [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)]
)
def test_a_daylight_saving_day_holds_its_23_or_25_hours(
    tmp_path: Path, local_day: str, day_hours: int
) -> None:
    berlin = days.zone("Europe/Berlin")
    start, end = days.day_bounds(datetime.fromisoformat(local_day).date(), berlin)
    outbox = Outbox(tmp_path / "outbox.sqlite", timezone="Europe/Berlin")
    # The hour before and after the day too: they belong to the days around it.
    outbox.add_windows(hours("press-1", start - timedelta(hours=1), day_hours + 2))
    drain(outbox)
    sealed = {s.day.isoformat(): s for s in seal(outbox, end + timedelta(hours=2))}
    part = sealed[local_day].parts[0]
    assert (part.windows, part.sums.duration_ms) == (day_hours, day_hours * 3_600_000)
    assert (part.first_start, part.last_end) == (start, end)
    assert sealed[local_day].tz == "Europe/Berlin"
    # The day before is sealed too; the day after (one hour so far) waits for its end.
    before = days.day_of(start, berlin).isoformat()
    assert sorted(sealed) == [before, local_day]


# --- what a seal commits to ---------------------------------------------------------------


def test_an_import_into_a_sealed_day_gives_version_2_superseding_version_1(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START + timedelta(hours=10), 14))  # started at 10:00
    drain(outbox)
    [first] = seal(outbox, after_grace())
    # Historian data for 00:00-10:00 of the sealed day.
    outbox.add_windows(hours("press-1", DAY_START, 10, provenance="imported"))
    drain(outbox)
    [second] = seal(outbox, after_grace() + timedelta(days=2))
    assert (second.version, second.index) == (2, 2)
    assert second.supersedes == second.prev == wire.day_seal_sha256(wire.encode(first))
    imported, measured = second.parts
    assert (imported.provenance, imported.windows, measured.windows) == ("imported", 10, 14)
    assert measured == first.parts[0]  # the measured part, its root included, did not change


def test_the_chain_links_every_seal_of_a_device_in_issue_order(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 72) + hours("press-2", DAY_START, 24))
    drain(outbox)
    raws = [b.envelope for b in outbox.seal_days(
        now=after_grace(DAY_END + timedelta(days=2)).timestamp(), grace_s=GRACE_S,
        devices={"press-1", "press-2"}, make_day_seal=day_sealer)]  # fmt: skip
    seals = [wire.decode_day_seal(raw) for raw in raws]
    press_1 = [(s, r) for s, r in zip(seals, raws, strict=True) if s.device == "press-1"]
    assert [s.index for s, _ in press_1] == [1, 2, 3]
    assert [s.day.isoformat() for s, _ in press_1] == ["2026-11-25", "2026-11-26", "2026-11-27"]
    assert press_1[0][0].prev is None
    for (_, before), (after, _) in itertools.pairwise(press_1):
        assert after.prev == wire.day_seal_sha256(before)
    [press_2] = [s for s in seals if s.device == "press-2"]
    assert (press_2.index, press_2.prev) == (1, None)
    # Seqs follow the windows' and every seal verifies under the agent's key.
    last_window_seq = max(seq for seq, _ in sent_records(outbox))
    assert sorted(s.seq for s in seals) == list(range(last_window_seq + 1,
                                                      last_window_seq + 5))  # fmt: skip
    for s in seals:
        wire.verify(s, KEY.public_key())


def test_the_root_is_the_merkle_root_of_the_batched_records_in_seq_end_order(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    windows = hours("press-1", DAY_START, 24) + hours("press-2", DAY_START, 24)
    # Stored out of order and batched in small batches across both devices.
    outbox.add_windows(windows[30:] + windows[:30])
    drain(outbox, max_records=7)
    records = sent_records(outbox)
    [sealed] = [s for s in seal(outbox, after_grace(), ("press-1", "press-2"))
                if s.device == "press-1"]  # fmt: skip
    mine = [
        (seq, w.end, w.start, record)
        for seq, record in records
        if (w := wire.KpiWindow.model_validate_json(record)).device == "press-1"
    ]
    ordered = [record for *_, record in sorted(mine)]
    part = sealed.parts[0]
    assert part.merkle_root == merkle.root(ordered).hex()
    assert (part.seq_first, part.seq_last) == (min(s for s, *_ in mine), max(s for s, *_ in mine))
    _assert_sums_recomputed(part, [wire.KpiWindow.model_validate_json(r) for r in ordered])


def _assert_sums_recomputed(part: wire.DaySealPart, windows: list[wire.KpiWindow]) -> None:
    """The part's sums against a recompute from the windows, independent of contract.daysums."""
    sealed = part.sums.by_name()
    for q in quantities.DAY_SUMS:
        terms: list[Any]
        if q.name == "duration_ms":
            terms = [round((w.end - w.start).total_seconds() * 1000) for w in windows]
        elif q.name == "ideal_count_s":
            terms = [ideal_count_s(w) for w in windows]
        elif q.name in wire.DataQuality.model_fields:
            terms = [getattr(w.quality, q.name) for w in windows]
        else:
            terms = [getattr(w, q.name) for w in windows]
        present = [t for t in terms if t is not None]
        if not present:
            assert sealed[q.name] is None, q.name
        elif q.kind == "integer":
            assert sealed[q.name] == sum(present), q.name
        else:
            exact = math.fsum(present)
            got = sealed[q.name]
            assert got is not None
            assert abs(got - exact) <= float_tolerance(len(present), got, exact), q.name
    assert part.windows == len(windows)


def test_merged_windows_are_sealed_as_sent_and_dropped_ones_are_counted(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", capacity_windows=40)
    minutes = [span("press-1", DAY_START + timedelta(minutes=i), 1) for i in range(24 * 60)]
    for start in range(0, len(minutes), 60):  # an hour at a time, the broker away all day
        outbox.add_windows(minutes[start : start + 60])
    gaps = outbox.gaps()
    assert outbox.stats().merged_total > 0 and gaps  # both policies ran
    drain(outbox)
    records = [r for _, r in sent_records(outbox)]  # one device, one day: already in Merkle order
    [sealed] = seal(outbox, after_grace())
    part = sealed.parts[0]
    assert sealed.dropped_windows == len(gaps)
    assert part.windows == len(records) < 24 * 60 - len(gaps)  # merged: fewer, longer windows
    assert part.merkle_root == merkle.root(records).hex()
    kept = [wire.KpiWindow.model_validate_json(r) for r in records]
    # Dropped rows are merged 15-minute windows by then: the day is short by exactly their time.
    dropped_ms = sum(round((end - start) * 1000) for _, start, end, _ in gaps)
    assert part.sums.duration_ms == 86_400_000 - dropped_ms
    _assert_sums_recomputed(part, kept)


def test_a_rolled_back_seal_leaves_no_seal_and_consumes_no_seq(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows(hours("press-1", DAY_START, 24))
    drain(outbox)
    before = outbox.stats().next_seq

    def killed(draft: DayDraft) -> bytes:
        day_sealer(draft)  # signed, then the process "dies" before the commit
        raise RuntimeError("killed between statements")

    with pytest.raises(RuntimeError):
        outbox.seal_days(now=after_grace().timestamp(), grace_s=GRACE_S, devices={"press-1"},
                         make_day_seal=killed)  # fmt: skip
    assert outbox.stats().next_seq == before
    assert [b.kind for b in outbox.unacked()].count("day_seals") == 0
    with sqlite3.connect(tmp_path / "outbox.sqlite") as db:
        assert db.execute("SELECT count(*) FROM day_seals").fetchone()[0] == 0
    [sealed] = seal(outbox, after_grace())
    assert (sealed.seq, sealed.index, sealed.version) == (before, 1, 1)


def test_seals_wait_in_the_outbox_until_acknowledged_and_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows(hours("press-1", DAY_START, 24))
    drain(outbox)
    batches = outbox.seal_days(now=after_grace().timestamp(), grace_s=GRACE_S,
                               devices={"press-1"}, make_day_seal=day_sealer)  # fmt: skip
    outbox.close()
    reopened = Outbox(path)
    [unacked] = [b for b in reopened.unacked() if b.kind == "day_seals"]
    assert unacked == batches[0]
    reopened.ack(unacked.seq)
    report = reopened.day_seals(now=after_grace().timestamp(), grace_s=GRACE_S,
                                devices={"press-1"})  # fmt: skip
    assert (report["press-1"].newest_day, report["press-1"].newest_version) == ("2026-11-25", 1)
    assert report["press-1"].waiting == {}


def test_a_batch_whose_transaction_fails_after_ledgering_is_ledgered_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows(hours("press-1", DAY_START, 24))
    outbox.seal_batch(10, sealer)
    # The batch row's insert fails after the ledger folded the batch in (as a full disk would):
    # the transaction rolls back, and the ledger's parts in memory with it.
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON batches WHEN NEW.seq = 2 "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    db.close()
    with pytest.raises(OutboxError, match="disk full"):
        outbox.seal_batch(10, sealer)
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER refuse")
    db.close()
    drain(outbox, max_records=10)
    [sealed] = seal(outbox, after_grace())
    records = [r for _, r in sent_records(outbox)]
    assert sealed.parts[0].windows == 24
    assert sealed.parts[0].merkle_root == merkle.root(records).hex()
