"""Shared fixtures: real mosquitto, influxd and PostgreSQL servers on free loopback ports.

`mosquitto` / `influxd` / `postgres` give one fresh, started server per test. The factories give
as many as a test needs, with custom arguments (`start=False` to get one unstarted). Every server
made here is stopped at teardown, also when the test failed. Fault tests call `.kill()`,
`.start()` and `.restart()` on the server objects: ports and data directories stay the same.
"""

from __future__ import annotations

import itertools
import os
import tty
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from stack import InfluxServer, MosquittoServer, PostgresServer

# pytester runs an inner pytest session in this process: tests/stack/test_fixtures.py uses it to
# check that these fixtures leave no server process behind.
pytest_plugins = ("pytester",)

MosquittoFactory = Callable[..., MosquittoServer]
InfluxFactory = Callable[..., InfluxServer]
PostgresFactory = Callable[..., PostgresServer]


_Server = TypeVar("_Server", MosquittoServer, InfluxServer, PostgresServer)


@contextmanager
def _server_factory(
    kind: type[_Server], tmp_path: Path, name: str
) -> Iterator[Callable[..., _Server]]:
    """Make ``kind(workdir under tmp_path, **kwargs)``, started unless start=False; every one
    made is stopped when the test ends, also when it failed."""
    serial = itertools.count()
    with ExitStack() as teardown:

        def make(*, start: bool = True, **kwargs: Any) -> _Server:
            server = kind(tmp_path / f"{name}-{next(serial)}", **kwargs)
            if isinstance(server, PostgresServer):  # its cluster may live outside tmp_path
                teardown.callback(server.remove_data)
            teardown.callback(server.stop)
            if start:
                server.start()
            return server

        yield make


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Make MosquittoServer(workdir under tmp_path, **kwargs), started unless start=False."""
    with _server_factory(MosquittoServer, tmp_path, "mosquitto") as make:
        yield make


@pytest.fixture
def influxd_factory(tmp_path: Path) -> Iterator[InfluxFactory]:
    """Make InfluxServer(workdir under tmp_path, **kwargs), started unless start=False."""
    with _server_factory(InfluxServer, tmp_path, "influxd") as make:
        yield make


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[PostgresFactory]:
    """Make PostgresServer(workdir under tmp_path, **kwargs), started unless start=False."""
    with _server_factory(PostgresServer, tmp_path, "postgres") as make:
        yield make


@pytest.fixture
def mosquitto(mosquitto_factory: MosquittoFactory) -> MosquittoServer:
    """A started mosquitto broker with the default test config."""
    return mosquitto_factory()


@pytest.fixture
def influxd(influxd_factory: InfluxFactory) -> InfluxServer:
    """A started influxd with the default test config."""
    return influxd_factory()


@pytest.fixture
def postgres(postgres_factory: PostgresFactory) -> PostgresServer:
    """A started PostgreSQL cluster (superuser `rv`, password in `.url()`)."""
    return postgres_factory()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``pytest.mark.anyio``) run on asyncio, the loop the project uses."""
    return "asyncio"


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, int, str, str]]:
    """Two raw pseudo-terminals: (master_a, master_b, slave_a path, slave_b path).

    A pty master cannot be opened by path (``/dev/ptmx`` makes a new pair), so server and
    client each open a slave and :func:`tests.pty.relay` copies bytes between the masters:
    a null-modem cable in software, for Modbus RTU tests.
    """
    master_a, slave_a = os.openpty()
    master_b, slave_b = os.openpty()
    for descriptor in (master_a, slave_a, master_b, slave_b):
        tty.setraw(descriptor)
    try:
        yield master_a, master_b, os.ttyname(slave_a), os.ttyname(slave_b)
    finally:
        for descriptor in (master_a, slave_a, master_b, slave_b):
            os.close(descriptor)
