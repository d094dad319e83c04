"""A PostgreSQL restart costs the registry no call that could safely be run again.

A fast shutdown ends every backend: each pooled connection is dead from then on, but the
client only learns it when it next uses the connection. Before the pool checked connections,
each dead one failed the one call that drew it (the ingest retried it, a web request got 503).
Now a connection is checked as it leaves the pool (and the pool drained of the other dead ones),
and a transaction whose opening fails on a broken connection runs once more on a fresh one;
a transaction broken after the caller's statements ran is never run again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from collector.errors import RegistryUnavailable
from collector.registry.ports import Repositories
from collector.registry.postgres import DEFAULT_POOL_SIZE, PostgresDatabase
from collector.registry.sql import repositories
from stack import PostgresServer

pytestmark = pytest.mark.timeout(120)


def _sha(agent: str, seq: int) -> str:
    return hashlib.sha256(f"{agent}/{seq}".encode()).hexdigest()


@pytest.fixture
def database(postgres: PostgresServer) -> Iterator[PostgresDatabase]:
    """The registry's database on a server of its own (the test restarts it)."""
    postgres.create_database("registry")
    db = PostgresDatabase(postgres.url("registry"), lock_timeout_s=10.0)
    try:
        yield db
    finally:
        db.close()


def _open_connections(db: PostgresDatabase, count: int) -> None:
    """Make the pool hold ``count`` idle connections: hold that many transactions at once."""
    with ExitStack() as held:
        for _ in range(count):
            held.enter_context(db.read())


def _backend_pids(server: PostgresServer) -> set[str]:
    rows = server.sql(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'retrofit-collector'"
    )
    return {row[0] for row in rows}


def _ingest_and_web_calls(repos: Repositories, calls: int) -> list[str]:
    """``calls`` registry calls as the ingest and the web app make them, in turn: a seq batch
    (a write under advisory locks), an agent lookup (one autocommit statement), the
    quarantine's counts (a read-only transaction)."""
    made: list[str] = []
    for number in range(calls):
        kind = number % 3
        if kind == 0:
            outcome = repos.seqs.record([("gw-a", number + 1, _sha("gw-a", number + 1))])
            made.append(f"seqs:{outcome[0]}")
        elif kind == 1:
            made.append(f"identity:{repos.agents.identity('gw-a')}")
        else:
            made.append(f"quarantine:{sorted(repos.quarantine.counts())}")
    return made


def test_a_restart_fails_no_call_with_every_pooled_connection_broken(
    database: PostgresDatabase, postgres: PostgresServer
) -> None:
    repos = repositories(database)
    _open_connections(database, DEFAULT_POOL_SIZE)
    before = _backend_pids(postgres)
    assert len(before) == DEFAULT_POOL_SIZE  # each one is broken by the restart below

    postgres.restart()  # fast shutdown and start, same port and data directory

    made = _ingest_and_web_calls(repos, DEFAULT_POOL_SIZE + 2)
    assert made == [
        "seqs:new",
        "identity:None",
        "quarantine:[]",
        "seqs:new",
        "identity:None",
        "quarantine:[]",
    ]
    assert not before & _backend_pids(postgres)  # served by new connections only
    assert repos.seqs.highest("gw-a") == 4


def test_a_transaction_broken_after_its_statements_ran_is_never_run_again(
    database: PostgresDatabase, postgres: PostgresServer
) -> None:
    """The connection dies inside the caller's transaction, after its INSERT ran: it may have
    been about to commit, so it is RegistryUnavailable for the caller to decide, not a retry."""
    runs = 0
    with pytest.raises(RegistryUnavailable) as lost, database.write("seq:gw-a") as conn:
        runs += 1
        conn.execute(
            "INSERT INTO agent_seqs (agent_id, seq, sha256, first_at) VALUES (?, ?, ?, ?)",
            ("gw-a", 1, _sha("gw-a", 1), "2026-12-08T00:00:00Z"),
        )
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        pid = int(row[0])
        postgres.sql(f"SELECT pg_terminate_backend({pid})")
        conn.execute("SELECT 1")
    assert lost.value.retryable
    assert runs == 1
    # Rolled back with its backend, and not written a second time.
    assert postgres.sql("SELECT count(*) FROM agent_seqs", "registry") == [["0"]]


def test_a_statement_on_a_connection_killed_while_idle_is_answered(
    database: PostgresDatabase, postgres: PostgresServer
) -> None:
    """One backend terminated by an operator (pg_terminate_backend) while its connection sat
    in the pool: the next lookup is served by another connection."""
    repos = repositories(database)
    _open_connections(database, 2)
    for pid in _backend_pids(postgres):
        postgres.sql(f"SELECT pg_terminate_backend({int(pid)})")
    assert repos.agents.identity("gw-a") is None
    assert repos.seqs.record([("gw-a", 1, _sha("gw-a", 1))]) == ["new"]


@pytest.mark.parametrize("call", ["write", "read", "lookup"])
def test_a_call_on_a_connection_broken_after_its_check_runs_once_more(
    database: PostgresDatabase,
    postgres: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    call: str,
) -> None:
    """A connection can break between the pool's check and the call (the server stops in that
    instant). The check is switched off here to stand for that window, which no test can hit
    on purpose: the call's opening (BEGIN, or a lookup's SELECT) fails on the broken
    connection, nothing of the call has run, and it runs once more on a fresh one."""
    monkeypatch.setattr("collector.registry.postgres.database.check_before_use", lambda conn: None)
    repos = repositories(database)
    _open_connections(database, DEFAULT_POOL_SIZE)
    for pid in _backend_pids(postgres):
        postgres.sql(f"SELECT pg_terminate_backend({int(pid)})")
    if call == "write":
        assert repos.seqs.record([("gw-a", 1, _sha("gw-a", 1))]) == ["new"]
    elif call == "read":
        assert repos.quarantine.counts() == {}
    else:
        assert repos.agents.identity("gw-a") is None
