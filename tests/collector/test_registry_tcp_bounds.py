"""The registry's PostgreSQL connections bound how long a dead network path can hold a call.

libpq waits on TCP's retransmissions otherwise (up to ~15 minutes on Linux, silently);
tests/collector/hosts/test_faults.py cuts a collector host's link to the database for 30 s with
the shipped defaults and with an operator's own options in the URL.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import make_conninfo

from collector.registry.postgres.database import TCP_BOUNDS, tcp_bounds
from stack import PostgresServer


def test_a_url_without_tcp_options_gets_the_bounds() -> None:
    assert tcp_bounds("postgresql://collector@db:5432/registry") == TCP_BOUNDS
    assert TCP_BOUNDS["tcp_user_timeout"] == 10_000 and TCP_BOUNDS["keepalives"] == 1


def test_the_operators_own_options_win() -> None:
    url = "postgresql://collector@db/registry?tcp_user_timeout=5000&keepalives_idle=5"
    bounds = tcp_bounds(url)
    assert "tcp_user_timeout" not in bounds and "keepalives_idle" not in bounds
    assert bounds["keepalives_count"] == TCP_BOUNDS["keepalives_count"]


def test_libpq_takes_every_bound_on_a_real_connection(postgres: PostgresServer) -> None:
    url = postgres.url("postgres")
    with psycopg.connect(make_conninfo(url, **tcp_bounds(url))) as conn:
        options = {option.keyword.decode(): option.val for option in conn.pgconn.info}
    for name, value in TCP_BOUNDS.items():
        assert options[name] == str(value).encode(), name
