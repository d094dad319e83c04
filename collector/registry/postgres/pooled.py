"""Pooled connections checked as they leave the pool, so a PostgreSQL restart fails no call.

A server's fast or immediate shutdown (a restart, a fail-over) or an operator's
``pg_terminate_backend`` ends the backend of every idle pooled connection. The backend's last
words (``FATAL 57P01 terminating connection due to administrator command``) and the end of the
stream wait unread in the client's socket: psycopg learns of them only when the connection is
next used, and that use fails. Without a check each dead connection failed the one call that
drew it from the pool (the ingest held and retried, a web request answered 503).

:func:`check_before_use` runs on each connection the registry draws from the pool
(:mod:`~collector.registry.postgres.database` replaces one that fails it). It costs no round
trip on the hot path: an idle connection in autocommit receives nothing from the
server unasked, so one that was used less than :data:`IDLE_CHECK_S` ago and has nothing to read
is used as it is. One with something to read (a shutdown's FATAL, the socket's end, a keepalive
failure), or idle for longer, answers an empty query first (psycopg_pool's own
``check_connection``): one round trip, paid once per quiet spell.
"""

from __future__ import annotations

import select
import time
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

__all__ = ["IDLE_CHECK_S", "PooledConnection", "check_before_use", "mark_idle"]

#: A connection idle in the pool for longer than this (seconds) answers an empty query before it
#: is used, even with nothing to read: a quiet web app pays one round trip per request, the
#: ingest under load none.
IDLE_CHECK_S = 1.0


class PooledConnection(psycopg.Connection[Any]):
    """A psycopg connection that knows since when it has been idle in the pool."""

    #: time.monotonic() when it was last returned to the pool (or opened).
    idle_since: float = 0.0


def mark_idle(conn: PooledConnection) -> None:
    """Note that ``conn`` is idle from now: as it is opened (the pool's ``configure``) and as
    the registry gives it back."""
    conn.idle_since = time.monotonic()


def check_before_use(conn: PooledConnection) -> None:
    """Return quietly if ``conn`` may be used; raise psycopg.OperationalError if it is broken.

    A round trip only when the server said something unasked or the connection was idle past
    :data:`IDLE_CHECK_S`.
    """
    if time.monotonic() - conn.idle_since < IDLE_CHECK_S and not _has_input(conn):
        return
    ConnectionPool.check_connection(conn)


def _has_input(conn: PooledConnection) -> bool:
    """Whether the server sent anything (or closed the stream) since the last exchange."""
    # poll, not select: a busy collector's descriptors may exceed select's FD_SETSIZE (1024).
    waiting = select.poll()
    waiting.register(conn.fileno(), select.POLLIN)
    return bool(waiting.poll(0))
