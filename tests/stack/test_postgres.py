"""stack.postgres: a real PostgreSQL cluster as a child process, never as root, never orphaned."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stack import LOOPBACK_HOST, PostgresError, PostgresServer, StackError
from tests.conftest import PostgresFactory

pytestmark = pytest.mark.timeout(120)

_DEADLINE_S = 20.0


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_dead(pid: int) -> bool:
    deadline = time.monotonic() + _DEADLINE_S
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_sql_round_trip_over_tcp_with_a_password(postgres: PostgresServer) -> None:
    postgres.create_database("registry")
    postgres.sql("CREATE TABLE seq (agent text PRIMARY KEY, n bigint)", "registry")
    postgres.sql("INSERT INTO seq VALUES ('a1', 7), ('a2', 9)", "registry")
    assert postgres.sql("SELECT agent, n FROM seq ORDER BY agent", "registry") == [
        ["a1", "7"],
        ["a2", "9"],
    ]
    assert postgres.url("registry").startswith(f"postgresql://rv:{postgres.password}@127.0.0.1:")


def test_a_wrong_password_is_refused(postgres: PostgresServer) -> None:
    wrong = PostgresServer.__new__(PostgresServer)
    wrong.__dict__.update(postgres.__dict__)
    wrong.password = "not-the-password"
    with pytest.raises(PostgresError, match="password authentication failed"):
        wrong.sql("SELECT 1")


def test_never_runs_as_root(postgres: PostgresServer) -> None:
    assert postgres.pid is not None
    uid = _uid_of(postgres.pid)
    assert uid != 0
    if os.geteuid() == 0:
        assert postgres.run_as == "postgres"
    else:
        assert uid == os.geteuid()


def test_listens_on_loopback_tcp_only(postgres: PostgresServer) -> None:
    assert postgres.host == LOOPBACK_HOST
    assert postgres.sql("SELECT current_setting('unix_socket_directories') = ''") == [["t"]]
    assert not list(postgres.data_dir.resolve().glob(".s.PGSQL.*"))
    (durability,) = postgres.sql(
        "SELECT current_setting('fsync'), current_setting('synchronous_commit')"
    )
    assert durability == ["on", "on"]


def test_committed_rows_survive_sigkill_and_restart(postgres: PostgresServer) -> None:
    postgres.sql("CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
    port, first_pid = postgres.port, postgres.pid
    postgres.kill()
    postgres.start()  # crash recovery replays the WAL
    assert (postgres.port, postgres.pid != first_pid) == (port, True)
    postgres.sql("INSERT INTO t VALUES (2)")
    postgres.restart()
    assert postgres.sql("SELECT v FROM t ORDER BY v") == [["1"], ["2"]]


def test_stop_is_a_fast_shutdown_even_with_a_client_connected(postgres: PostgresServer) -> None:
    # A smart shutdown (SIGTERM to the postmaster) would wait for this idle client forever.
    with subprocess.Popen(
        [str(postgres.bindir / "psql"), "-X", "-q", postgres.url()],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as client:
        try:
            _wait_for_a_client(postgres)
            postgres.stop(grace_s=30)
            assert postgres.returncode == 0, postgres.log_tail()
        finally:
            client.kill()


def _wait_for_a_client(postgres: PostgresServer) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql'"
    deadline = time.monotonic() + _DEADLINE_S
    while postgres.sql(query) == [["1"]] and time.monotonic() < deadline:
        time.sleep(0.05)  # the helper's own psql is the one counted: wait for a second
    while postgres.sql(query) != [["2"]]:
        assert time.monotonic() < deadline, "the idle client never connected"
        time.sleep(0.05)


def test_two_clusters_run_side_by_side(postgres_factory: PostgresFactory) -> None:
    first, second = postgres_factory(), postgres_factory()
    assert first.port != second.port
    first.sql("CREATE TABLE only_here (v int)")
    with pytest.raises(PostgresError, match="only_here"):
        second.sql("SELECT * FROM only_here")


def test_remove_data_deletes_the_cluster(postgres_factory: PostgresFactory) -> None:
    server = postgres_factory()
    cluster = server.data_dir.resolve()
    server.remove_data()
    assert not server.is_running
    assert not cluster.exists()
    if server.run_as is not None:  # the account's private directory goes with it
        assert not cluster.parent.exists()
    assert not server.data_dir.exists() and not server.data_dir.is_symlink()


def test_an_unknown_account_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="no account 'no-such-user-rv'"):
        PostgresServer(tmp_path / "pg", run_as="no-such-user-rv")


_ORPHAN_SCRIPT = """
import sys, time
from pathlib import Path
from stack import PostgresServer
server = PostgresServer(Path(sys.argv[1]))
server.start()
print(server.pid, flush=True)
time.sleep(600)
"""


def test_the_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(tmp_path / "orphan")],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert parent.stdout is not None
        postmaster = int(parent.stdout.readline())
        assert _alive(postmaster)
    finally:
        parent.kill()
        parent.communicate()
    try:
        assert _wait_dead(postmaster), f"postmaster {postmaster} outlived its SIGKILLed parent"
    finally:
        link = tmp_path / "orphan" / "pgdata"
        if link.is_symlink():  # the cluster of a dropped-privileges run lives outside tmp_path
            shutil.rmtree(link.resolve().parent, ignore_errors=True)
