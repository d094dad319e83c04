"""Seq records written concurrently through separate connections decide exactly as one writer.

Two writers (threads, each with its own Registry: its own SQLite connection, or its own
PostgreSQL pool) record the same agents' seqs at once, interleaved and out of order, in batches
that mix agents, as two ingest replicas on two hosts do when the broker hands them one agent's
re-deliveries. The outcomes (new / duplicate / replay), the highest seq and the open gaps must
be those of one writer recording the same batches one after the other. On SQLite the file lock
serialises the writers; on PostgreSQL it is the per-agent advisory lock of
collector/registry/postgres/database.py, without which two connections both see a seq as
unrecorded (a unique-key error, or two gaps opened for one hole).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from collector.errors import RegistryUnavailable
from collector.registry import Registry, SeqOutcome
from collector.registry.postgres import DEFAULT_POOL_SIZE
from stack import PostgresServer

pytestmark = pytest.mark.timeout(300)

AGENTS = ("gw-a", "gw-b", "gw-c")
SEQS = 150
BATCH = 7

Item = tuple[str, int, str]


def _sha(agent: str, seq: int, content: str = "") -> str:
    return hashlib.sha256(f"{agent}/{seq}/{content}".encode()).hexdigest()


def _workload(rng: random.Random) -> tuple[list[list[Item]], list[list[Item]], set[Item]]:
    """Two writers' batches: each sends every seq not dropped (so one of the two copies is a
    duplicate), shuffled across agents; the first also sends a replay (other content) of some
    seqs after its own original, so the original always arrives first and the replay's outcome
    is fixed whatever the interleaving."""
    dropped = {(a, s) for a in AGENTS for s in range(2, SEQS) if rng.random() < 0.08}
    sent = [(a, s, _sha(a, s)) for a in AGENTS for s in range(1, SEQS + 1) if (a, s) not in dropped]
    first, second = sent[:], sent[:]
    rng.shuffle(first)
    rng.shuffle(second)
    replays = {(a, s, _sha(a, s, "forged")) for a, s, _ in rng.sample(sent, 40)}
    for agent, seq, sha in sorted(replays):
        original = first.index((agent, seq, _sha(agent, seq)))
        first.insert(rng.randint(original + 1, len(first)), (agent, seq, sha))
    batches = [
        [items[i : i + BATCH] for i in range(0, len(items), BATCH)] for items in (first, second)
    ]
    return batches[0], batches[1], replays


def _record_all(registry: Registry, batches: list[list[Item]], out: list[SeqOutcome]) -> None:
    for batch in batches:
        out.extend(registry.record_seqs(batch))


def _state(registry: Registry) -> dict[str, tuple[int | None, list[tuple[int, int]]]]:
    return {
        agent: (
            registry.highest_seq(agent),
            [(g.first_seq, g.last_seq) for g in registry.seq_gaps(agent)],
        )
        for agent in AGENTS
    }


def _expected_gaps(batches: list[list[Item]]) -> dict[str, list[tuple[int, int]]]:
    """Maximal runs of seqs never sent, below each agent's highest: what the gaps must be."""
    sent = {(a, s) for batch in batches for a, s, _ in batch}
    gaps: dict[str, list[tuple[int, int]]] = {}
    for agent in AGENTS:
        runs: list[tuple[int, int]] = []
        for seq in range(1, SEQS + 1):
            if (agent, seq) in sent:
                continue
            if runs and runs[-1][1] == seq - 1:
                runs[-1] = (runs[-1][0], seq)
            else:
                runs.append((seq, seq))
        gaps[agent] = runs
    return gaps


@pytest.mark.parametrize("seed", [1, 2])
def test_two_writers_decide_each_seq_as_one_writer_does(
    registry_location: Path | str, tmp_path: Path, seed: int
) -> None:
    first, second, replays = _workload(random.Random(seed))
    with Registry(tmp_path / "one-writer.sqlite") as alone:
        serial: list[SeqOutcome] = []
        _record_all(alone, first, serial)
        _record_all(alone, second, serial)
        expected_state = _state(alone)

    outcomes: list[list[SeqOutcome]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(index: int, batches: list[list[Item]]) -> None:
        try:
            with Registry(registry_location) as own:  # its own connection(s)
                start.wait()
                _record_all(own, batches, outcomes[index])
        except BaseException as exc:  # reported below with the test's own assertion
            errors.append(exc)
            start.abort()  # the other writer, waiting at the barrier, stops too

    threads = [
        threading.Thread(target=writer, args=(i, batches))
        for i, batches in enumerate((first, second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [e for e in errors if not isinstance(e, threading.BrokenBarrierError)] == []
    assert errors == []

    together = Counter(outcomes[0] + outcomes[1])
    assert together == Counter(serial)
    assert together["replay"] == len(replays)
    assert together["new"] == together["duplicate"] == sum(map(len, second))
    with Registry(registry_location) as check:
        assert _state(check) == expected_state
    assert {agent: gaps for agent, (_, gaps) in expected_state.items()} == _expected_gaps(second)
    assert all(high == SEQS for high, _ in expected_state.values())


def test_a_new_file_another_connection_is_creating_is_waited_for(tmp_path: Path) -> None:
    """Two replicas started together on a registry file that does not exist yet: the second
    waits for the first's lock within the busy timeout. SQLite does not call the busy handler
    for the switch to WAL, which failed at once with "database is locked" (seen in CI as one
    writer of the test above failing to open)."""
    path = tmp_path / "registry.sqlite"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE being_created (x INTEGER)")
    release = threading.Timer(0.5, other.execute, args=("COMMIT",))
    release.start()
    try:
        with Registry(path, busy_timeout_s=10.0) as registry:
            assert registry.record_seqs([("gw-a", 1, _sha("gw-a", 1))]) == ["new"]
    finally:
        release.join()
        other.close()
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    check.close()


def test_a_restarted_server_is_a_retryable_error_then_used_again(
    postgres_factory: Callable[..., PostgresServer],
) -> None:
    """PostgreSQL killed and started again under a Registry holding pooled connections: calls
    in between are RegistryUnavailable with ``retryable`` (the ingest retries those), and
    once it is back the registry works without being reopened, with nothing committed lost.

    A call while the server is down waits for a connection: the first, which finds the pooled
    ones broken, up to the connect timeout (10 s); later ones as long as the pool lets them
    (that plus the busy timeout). A short busy timeout keeps the test short, and the pool's
    reconnection back-off (1, 2, 4 s...) from growing far past the restart."""
    server = postgres_factory()
    server.create_database("registry")
    with Registry(server.url("registry"), busy_timeout_s=1.0) as registry:
        assert registry.record_seqs([("gw-a", 1, _sha("gw-a", 1))]) == ["new"]
        server.kill()
        with pytest.raises(RegistryUnavailable) as down:
            registry.record_seqs([("gw-a", 2, _sha("gw-a", 2))])
        assert down.value.retryable
        assert server.password not in str(down.value)
        server.start()
        outcome = _retrying(lambda: registry.record_seqs([("gw-a", 3, _sha("gw-a", 3))]))
        assert outcome == ["new"]
        assert registry.highest_seq("gw-a") == 3
        assert [(g.first_seq, g.last_seq) for g in registry.seq_gaps("gw-a")] == [(2, 2)]


def _retrying(call: Callable[[], list[SeqOutcome]]) -> list[SeqOutcome]:
    # The pool replaces the broken connections before use; a call may still time out waiting
    # for the pool's next reconnection attempt (its back-off grew while the server was down).
    for _ in range(DEFAULT_POOL_SIZE + 1):
        try:
            return call()
        except RegistryUnavailable as exc:
            assert exc.retryable, exc
    return call()


def _gap_rows(registry: Registry, agents: Sequence[str]) -> list[tuple[object, ...]]:
    return [
        (g.agent_id, g.first_seq, g.last_seq, g.opened_at, g.closed_at)
        for agent in agents
        for g in registry.seq_gaps(agent, include_closed=True)
    ]


def test_a_batch_decides_as_its_items_one_call_each(
    registry_location: Path | str, tmp_path: Path
) -> None:
    """record_seqs decides a whole batch in memory (collector/registry/sql/seq_batch.py); the
    same items one call each go through the database between every two. Both must agree on
    every outcome, highest seq and gap (with its times), including seqs repeated, replayed,
    opening a gap and filling it within one batch."""
    rng = random.Random(7)
    agents = ("gw-a", "gw-b")
    batches = [
        [
            (a, rng.randint(1, 40), _sha(a, 0, str(rng.randint(0, 4))))
            for a in rng.choices(agents, k=12)
        ]
        for _ in range(15)
    ]
    start = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    seen: Counter[SeqOutcome] = Counter()
    with Registry(registry_location) as batched, Registry(tmp_path / "one.sqlite") as single:
        for minute, batch in enumerate(batches):
            at = start + dt.timedelta(minutes=minute)
            together = batched.record_seqs(batch, received_at=at)
            one_by_one = [single.record_seq(a, s, sha, received_at=at) for a, s, sha in batch]
            assert together == one_by_one, minute
            seen.update(together)
        assert _gap_rows(batched, agents) == _gap_rows(single, agents)
        assert [batched.highest_seq(a) for a in agents] == [single.highest_seq(a) for a in agents]
        # The workload has something to agree on: every outcome, and gaps closed and open.
        assert set(seen) == {"new", "duplicate", "replay"}
        closed = [row for row in _gap_rows(single, agents) if row[4] is not None]
        assert closed and len(closed) < len(_gap_rows(single, agents))
