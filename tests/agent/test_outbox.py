"""The outbox: durable windows, seq assigned at sealing and never reused, the full policy."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from agent.outbox import (
    COMPACT_TO_S,
    SCHEMA_VERSION,
    Outbox,
    OutboxError,
    SealedBatch,
    merge_windows,
)
from contract import wire
from tests.contract.test_wire import KEY, T0, make_window


def minute(device: str, index: int, **changes: object) -> wire.KpiWindow:
    start = T0 + timedelta(minutes=index)
    return make_window(device=device, start=start, end=start + timedelta(minutes=1), **changes)


def sealer(seq: int, records: list[bytes]) -> bytes:
    """Seal as the publisher does: from the records' stored canonical bytes."""
    return wire.seal_envelope_bytes(
        platform="plat-a",
        enterprise="ent-01",
        agent="gw-01",
        seq=seq,
        sent=T0 + timedelta(days=1),
        records=records,
        key=KEY,
    )


def test_seq_starts_at_one_survives_reopen_and_batches_leave_in_order(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows([minute("press-1", i) for i in range(5)])
    first = outbox.seal_batch(2, sealer)
    second = outbox.seal_batch(2, sealer)
    assert first is not None and second is not None
    assert (first.seq, second.seq) == (1, 2)
    records = wire.decode_envelope(first.envelope).records
    assert [r.start for r in records] == [T0, T0 + timedelta(minutes=1)]
    outbox.ack(1)
    outbox.close()

    reopened = Outbox(path)
    assert [b.seq for b in reopened.unacked()] == [2]
    assert reopened.unacked()[0].envelope == second.envelope  # a resend is the same bytes
    third = reopened.seal_batch(10, sealer)
    assert third is not None and third.seq == 3 and third.records == 1
    assert reopened.seal_batch(10, sealer) is None
    reopened.ack(2)
    reopened.ack(3)
    stats = reopened.stats()
    assert (stats.pending_windows, stats.sealed_batches, stats.next_seq) == (0, 0, 4)
    assert reopened.resume_points() == {"press-1": (T0 + timedelta(minutes=5)).timestamp()}


def test_an_acked_batch_goes_with_the_next_transaction_and_again_if_the_agent_dies_first(
    tmp_path: Path,
) -> None:
    # ack() writes nothing: the row goes in the next write transaction (an fsync less an edge).
    # Until then another process (an agent started after a power cut) still has it to send.
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows([minute("press-1", i) for i in range(3)])
    first, second = outbox.seal_batch(1, sealer), outbox.seal_batch(1, sealer)
    assert first is not None and second is not None
    outbox.ack(first.seq)
    assert [b.seq for b in outbox.unacked()] == [second.seq]  # this run sends it no more
    assert outbox.stats().sealed_batches == 1
    after_a_power_cut = Outbox(path)  # what the file holds: committed state only
    assert after_a_power_cut.unacked() == [first, second]  # same seq, same bytes: a duplicate
    assert outbox.seal_batch(1, sealer) is not None  # the next transaction deletes it
    assert [b.seq for b in after_a_power_cut.unacked()] == [second.seq, second.seq + 1]
    outbox.ack(second.seq)
    outbox.close()  # a clean stop deletes what was acknowledged
    assert [b.seq for b in after_a_power_cut.unacked()] == [second.seq + 1]
    after_a_power_cut.close()


def test_a_store_seals_in_its_transaction_and_a_seal_that_fails_rolls_back_only_itself(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows([minute("press-1", 0)])
    result = outbox.add_windows([minute("press-1", 1)], seal=(10, sealer))
    assert result.sealed is not None and result.sealed.records == 2  # the older window too
    assert outbox.stats().pending_windows == 0 and outbox.unacked() == [result.sealed]

    def broken(seq: int, records: list[bytes]) -> bytes:
        raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError):
        outbox.add_windows([minute("press-1", 2)], seal=(10, broken))
    assert outbox.stats().pending_windows == 0  # nothing of it committed
    assert outbox.stats().next_seq == 2
    outbox.close()


def test_a_failed_seal_consumes_no_seq_and_keeps_the_windows(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows([minute("press-1", 0)])

    def broken(seq: int, records: list[bytes]) -> bytes:
        raise RuntimeError("signing failed")

    with pytest.raises(RuntimeError):
        outbox.seal_batch(10, broken)
    assert outbox.stats().pending_windows == 1
    batch = outbox.seal_batch(10, sealer)
    assert batch is not None and batch.seq == 1


def test_merging_keeps_every_sum() -> None:
    windows = [minute("press-1", i, run_s=40.0 + i / 10, total_count=i) for i in range(15)]
    merged = merge_windows(windows)
    assert merged.duration_s == 15 * 60
    assert merged.run_s == pytest.approx(sum(w.run_s or 0 for w in windows))
    assert merged.total_count == sum(range(15))
    assert merged.quality.samples == 15 * 60
    with pytest.raises(ValueError):
        merge_windows([minute("press-1", 0), minute("press-1", 2)])  # not contiguous
    with pytest.raises(ValueError):
        merge_windows([minute("press-1", 0), minute("press-1", 1, provenance="imported")])


def test_when_full_old_windows_are_merged_before_anything_is_dropped(tmp_path: Path) -> None:
    per_block = COMPACT_TO_S // 60
    outbox = Outbox(tmp_path / "outbox.sqlite", capacity_windows=20)
    windows = [minute("press-1", i, total_count=1) for i in range(3 * per_block)]
    result = outbox.add_windows(windows[:per_block])
    assert (result.merged, result.dropped) == (0, 0)
    result = outbox.add_windows(windows[per_block:])
    assert result.dropped == 0 and result.merged > 0
    stats = outbox.stats()
    assert stats.pending_windows <= 20 and stats.merged_total == result.merged
    batch = outbox.seal_batch(100, sealer)
    assert batch is not None
    records = wire.decode_envelope(batch.envelope).records
    assert sum(r.total_count or 0 for r in records) == 3 * per_block  # nothing lost
    assert records[0].duration_s == COMPACT_TO_S  # the oldest block was merged


def test_when_even_merged_windows_fill_it_the_oldest_are_dropped_and_recorded(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", capacity_windows=3)
    # Every other minute only: nothing is contiguous, so nothing can merge.
    result = outbox.add_windows([minute("press-1", 2 * i) for i in range(5)])
    assert result.dropped == 2
    assert outbox.stats().dropped_total == 2
    gaps = outbox.gaps()
    assert [g[1] for g in gaps] == [T0.timestamp(), (T0 + timedelta(minutes=2)).timestamp()]
    assert all(reason == "outbox full" for *_, reason in gaps)


CHILD = """
import sys, time
from pathlib import Path
from agent.outbox import Outbox
from tests.agent.test_outbox import minute, sealer
from tests.contract.test_wire import T0
outbox = Outbox(Path(sys.argv[1]))
resume = outbox.resume_points().get("press-1")  # go on where the killed run stopped
i = 0 if resume is None else round((resume - T0.timestamp()) / 60)
while True:
    outbox.add_windows([minute("press-1", i), minute("press-2", i)])
    batch = outbox.seal_batch(2, sealer)
    print(batch.seq, flush=True)
    i += 1
"""


@pytest.mark.parametrize("run", range(5))
def test_sigkill_while_sealing_never_reuses_a_seq(tmp_path: Path, run: int) -> None:
    path = tmp_path / "outbox.sqlite"
    promised: list[int] = []
    delays = random.Random(run)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        assert child.stdout is not None
        promised.append(int(child.stdout.readline()))  # it is sealing: now kill it mid-loop
        time.sleep(delays.uniform(0.0, 0.2))
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate(timeout=10)
        promised += [int(line) for line in out.split()]
    outbox = Outbox(path)
    stored = outbox.unacked()
    seqs = [b.seq for b in stored]
    assert seqs == sorted(set(seqs)) == list(range(1, len(seqs) + 1))
    assert set(promised) <= set(seqs)  # every seal the child saw commit is on disk
    assert outbox.stats().next_seq == seqs[-1] + 1
    decoded = [wire.decode_envelope(b.envelope) for b in stored]
    assert [d.seq for d in decoded] == seqs
    ends = [json.loads(b.envelope)["records"][0]["end"] for b in stored]
    assert ends == sorted(ends)


def test_a_long_outage_fills_the_outbox_with_whole_blocks_before_dropping(tmp_path: Path) -> None:
    # Ten 15-minute blocks fit a ten-row outbox: 150 one-minute windows arriving one at a time
    # (as during a broker outage) must all be kept, merged, none dropped. (Found by
    # tests/agent/faults/test_outbox_full.py: merged rows never took in later windows.)
    outbox = Outbox(tmp_path / "outbox.sqlite", capacity_windows=10)
    for i in range(150):
        result = outbox.add_windows([minute("press-1", i, total_count=1)])
        assert result.dropped == 0, f"dropped at minute {i}"
    stats = outbox.stats()
    assert stats.pending_windows == 10 and stats.full and stats.merged_pending == 10
    batch = outbox.seal_batch(100, sealer)
    assert batch is not None
    records = wire.decode_envelope(batch.envelope).records
    assert [r.duration_s for r in records] == [900.0] * 10
    assert sum(r.total_count or 0 for r in records) == 150
    outbox.ack(batch.seq)
    assert not outbox.stats().full  # sent: the policy is no longer in effect


#: The outbox's first layout (schema version 0): what agents before the day ledger wrote.
_FIRST_LAYOUT = """
CREATE TABLE pending (id INTEGER PRIMARY KEY AUTOINCREMENT, device TEXT NOT NULL,
    start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, merged INTEGER NOT NULL DEFAULT 0,
    record BLOB NOT NULL);
CREATE TABLE batches (seq INTEGER PRIMARY KEY, sealed_ms INTEGER NOT NULL,
    records INTEGER NOT NULL, envelope BLOB NOT NULL);
CREATE TABLE progress (device TEXT PRIMARY KEY, end_ms INTEGER NOT NULL);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def test_an_outbox_of_the_first_layout_migrates_keeping_its_batches_and_seq(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite"
    old_batch = sealer(7, [wire.canonical_bytes(minute("press-1", 0).model_dump(mode="json"))])
    with sqlite3.connect(path) as db:
        db.executescript(_FIRST_LAYOUT)
        db.execute("INSERT INTO batches VALUES (7, 0, 1, ?)", (old_batch,))
        db.execute("INSERT INTO counters VALUES ('next_seq', 8)")
        db.execute(
            "INSERT INTO pending (device, start_ms, end_ms, record) VALUES (?, ?, ?, ?)",
            ("press-1", 60_000, 120_000,
             wire.canonical_bytes(minute("press-1", 1).model_dump(mode="json"))),
        )  # fmt: skip
    db.close()
    outbox = Outbox(path)
    assert outbox.unacked() == [SealedBatch(seq=7, envelope=old_batch, records=1, kind="windows")]
    batch = outbox.seal_batch(10, sealer)
    assert batch is not None and (batch.seq, batch.kind) == (8, "windows")
    assert outbox.fold_batches() == 1
    outbox.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT count(*) FROM day_parts").fetchone()[0] == 1
    db.close()
    Outbox(path).close()  # opening a migrated file again changes nothing


def test_an_outbox_of_schema_1_gains_the_fold_queue_keeping_its_ledger(tmp_path: Path) -> None:
    # Schema 1 (the ledger folded each batch in its own transaction) is schema 2 without
    # fold_queue (and schema 3 without batches.acked_ms): make one, as an agent of that
    # version left it, and open it with this one.
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows([minute("press-1", i) for i in range(3)])
    first = outbox.seal_batch(2, sealer)
    outbox.fold_batches()
    outbox.close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE fold_queue")
        db.execute("ALTER TABLE batches DROP COLUMN acked_ms")
        db.execute("PRAGMA user_version = 1")
        state_before = db.execute("SELECT state FROM day_parts").fetchall()
    db.close()
    upgraded = Outbox(path)
    assert first is not None and upgraded.unacked()[0].seq == first.seq
    second = upgraded.seal_batch(10, sealer)
    assert second is not None and second.seq == first.seq + 1
    assert upgraded.stats().unfolded_windows == 1
    assert upgraded.fold_batches() == 1
    upgraded.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        [(state_after,)] = db.execute("SELECT state FROM day_parts").fetchall()
        assert json.loads(state_after)["windows"] == 3  # the old part went on, not anew
        assert state_after != state_before[0][0]
    db.close()


def test_an_outbox_of_schema_2_keeps_its_batches_waiting_for_their_puback(
    tmp_path: Path,
) -> None:
    # Schema 2 is schema 3 without batches.acked_ms (#19): its batches were all waiting for a
    # PUBACK, and still are after the upgrade; none is taken for awaiting a confirmation.
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.add_windows([minute("press-1", i) for i in range(4)])
    first, second = outbox.seal_batch(2, sealer), outbox.seal_batch(2, sealer)
    outbox.close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE batches DROP COLUMN acked_ms")
        db.execute("PRAGMA user_version = 2")
    db.close()
    upgraded = Outbox(path)
    assert first is not None and second is not None
    assert [b.seq for b in upgraded.unacked()] == [first.seq, second.seq]
    assert upgraded.stats().awaiting_confirmation == 0
    upgraded.await_confirmation(first.seq, acked_ms=1_000)
    assert [b.seq for b in upgraded.unacked()] == [second.seq]
    assert upgraded.stats().awaiting_confirmation == 1
    upgraded.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    db.close()


def test_a_batch_awaiting_confirmation_is_kept_until_confirmed_and_due_again_after(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add_windows([minute("press-1", i) for i in range(6)])
    batches = [outbox.seal_batch(2, sealer) for _ in range(3)]
    seqs = [b.seq for b in batches if b is not None]
    assert seqs == [1, 2, 3]
    for seq, acked_ms in zip(seqs, (1_000, 2_000, 3_000), strict=True):
        outbox.await_confirmation(seq, acked_ms)
    assert outbox.unacked() == []  # the broker has them all: none goes again on a reconnect
    assert outbox.awaiting_confirmation() == 3
    # Due again: acknowledged before the cut-off, oldest seq first, at most the limit.
    assert [b.seq for b in outbox.unconfirmed(2_500, limit=10)] == [1, 2]
    assert [b.seq for b in outbox.unconfirmed(9_999, limit=1)] == [1]
    again = outbox.unconfirmed(9_999, limit=10)
    assert [b.envelope for b in again] == [b.envelope for b in batches if b is not None]
    # A confirmation of seqs 1 and 3 (and seqs it never had) forgets exactly those.
    assert outbox.confirm([(1, 1), (3, 7)]) == [1, 1]
    assert [b.seq for b in outbox.unconfirmed(9_999, limit=10)] == [2]
    assert outbox.confirm([(1, 1)]) == [0]  # confirmed twice: nothing more to forget
    stats = outbox.stats()
    assert (stats.sealed_batches, stats.awaiting_confirmation) == (1, 1)
    # Confirmations turned off: a PUBACK is enough again.
    assert outbox.forget_awaiting() == 1
    assert outbox.stats().sealed_batches == 0
    outbox.close()


def test_an_outbox_of_a_newer_agent_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    Outbox(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(OutboxError, match=f"schema version {SCHEMA_VERSION + 1}.*newer agent"):
        Outbox(path)


def test_one_outbox_used_from_two_threads_at_once_keeps_every_window(tmp_path: Path) -> None:
    """Storing in one thread while another seals, acks and reads: each call whole, none
    inside another's transaction on the shared connection ('cannot commit - no transaction
    is active' in stop 26's CI, a test that stored without the service's asyncio lock)."""
    outbox = Outbox(tmp_path / "outbox.sqlite")
    errors: list[BaseException] = []
    sent: list[int] = []
    storing_done = threading.Event()

    def store() -> None:
        try:
            for i in range(300):
                outbox.add_windows([minute("press-1", i)])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            storing_done.set()

    def send() -> None:
        try:
            while True:
                done = storing_done.is_set()
                outbox.stats()
                outbox.unacked()
                while (batch := outbox.seal_batch(7, sealer)) is not None:
                    sent.append(len(wire.decode_envelope(batch.envelope).records))
                    outbox.ack(batch.seq)
                if done:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=store), threading.Thread(target=send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(sent) == 300
    assert outbox.stats().pending_windows == 0
    outbox.close()
