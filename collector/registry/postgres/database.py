"""The registry on PostgreSQL: a pool of psycopg connections, each transaction on one of them.

A :class:`PostgresDatabase` is the :class:`~collector.registry.sql.Database` of a PostgreSQL
URL. Every collector host (ingest replicas, the web app, the command line) opens its own and
they share the database; what SQLite's file lock gave for free is done here per concern:

- a write runs in READ COMMITTED and first takes a transaction-scoped advisory lock on each
  name the repository passes (``seq:<agent>``, ``plans``, ``run_slots``, ``login:<key>``...),
  in sorted order so two writers never wait for each other in a circle. Every statement after
  the lock sees what the previous holder committed, so a read-check-write under it is atomic
  across connections and hosts; writes under other names (other agents' seqs) go on beside it;
- a read is one REPEATABLE READ, READ ONLY transaction: its statements see one snapshot;
- a lock waited for longer than ``lock_timeout_s`` (the busy timeout's counterpart), a lost
  connection, a server that is restarting and a deadlock all raise RegistryUnavailable with
  ``retryable`` set, and the transaction is rolled back: the caller may run it again.

A restart of the server costs no call that could safely run again. A pooled connection is
checked before use (:mod:`~collector.registry.postgres.pooled`), and the first one found
broken drains the pool (every connection replaced by a new one, those in use as they come
back), so the call that found it draws a new connection rather than every dead one in turn.
Draining, not checking each (``ConnectionPool.check``): a restart or a cut network kills them
all, and on a dark link each check would wait out ``tcp_user_timeout`` (10 s) in turn. That
new connection is waited for at most ``connect_timeout_s`` (10 s): a restart is over by then,
and a server still down is RegistryUnavailable (``retryable``) soon enough for the ingest to
say so and retry (the pool's own wait, ``connect_timeout_s`` + ``lock_timeout_s``, is for
connections busy in other calls). The check runs here rather than as the pool's ``check``
callback, whose wait for a replacement is that longer one.
A connection that breaks between the check and the call is caught at the call's opening: a
transaction whose BEGIN (and SET TRANSACTION or advisory locks) failed on a broken connection
runs once more on a fresh one, since nothing of the caller's had been sent; so is a lookup's
SELECT (:meth:`statement`). A transaction broken after the caller's statements ran is never
run again here: it may have committed, so the caller decides (RegistryUnavailable,
``retryable``).

The repositories write ``?`` placeholders; this module turns them into psycopg's ``%s`` (and a
literal ``%`` into ``%%``). PostgreSQL's text cannot hold NUL: a NUL in a text value is written
as the four characters ``\\x00`` (stored and looked up alike; SQLite keeps NUL as it is, and the
quarantine and status texts from the network are escaped the same way on both). The password
comes from the URL or from the ``password`` argument (the configuration takes it from the
environment or a file); :attr:`location` never shows it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from collector.errors import RegistryUnavailable
from collector.registry.postgres.pooled import PooledConnection, check_before_use, mark_idle
from collector.registry.postgres.schema import grant_dml, migrate

__all__ = ["DEFAULT_POOL_SIZE", "TCP_BOUNDS", "PostgresDatabase", "display_url", "tcp_bounds"]

log = logging.getLogger(__name__)

#: Connections a process keeps open at most (ingest: paho's thread and a few worker threads).
DEFAULT_POOL_SIZE = 4

#: Errors after which the same call may succeed: the server, the network or a lock was busy.
_RETRYABLE = (
    psycopg.OperationalError,  # connection lost, server shutting down or starting, lock timeout
    psycopg.errors.SerializationFailure,
    psycopg.errors.DeadlockDetected,
    PoolTimeout,
)


@functools.lru_cache(maxsize=1024)
def _pyformat(sql: str) -> str:
    # The repositories' SQL has no '?' or '%' inside string literals (checked by the registry
    # tests, which run every statement on both engines).
    return sql.replace("%", "%%").replace("?", "%s")


def _storable(parameters: Sequence[Any]) -> tuple[Any, ...]:
    # PostgreSQL's text cannot hold NUL (SQLite's can): it is written as the four characters
    # \x00, in the values stored and in the values looked up alike, so lookups still match.
    return tuple(
        value.replace("\x00", "\\x00") if isinstance(value, str) and "\x00" in value else value
        for value in parameters
    )


class _BrokenAtOpening(Exception):
    """The connection was found broken while a transaction was opened, before anything of the
    caller's was sent."""

    def __init__(self, error: psycopg.OperationalError) -> None:
        super().__init__(str(error))
        #: psycopg's error, raised to the caller if the fresh connection breaks too.
        self.error = error


class _Connection:
    """A psycopg connection that speaks the repositories' ``?`` placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self._conn.execute(_pyformat(sql).encode(), _storable(parameters))

    def executemany(
        self, sql: str, seq_of_parameters: Sequence[Sequence[Any]], /
    ) -> psycopg.Cursor[Any]:
        cursor = self._conn.cursor()
        cursor.executemany(_pyformat(sql).encode(), [_storable(p) for p in seq_of_parameters])
        return cursor


class _Lookup(_Connection):
    """:meth:`PostgresDatabase.statement`'s connection: a SELECT that fails on a connection
    found broken runs once more on a fresh one from the pool (``fresh``).

    Only a SELECT: in autocommit it is its own read-only transaction, so running it again is
    safe whether or not the server ran it before the connection broke. Anything else is not
    run again (it may have committed).
    """

    def __init__(
        self, conn: psycopg.Connection[Any], fresh: Callable[[], psycopg.Connection[Any]]
    ) -> None:
        super().__init__(conn)
        self._fresh: Callable[[], psycopg.Connection[Any]] | None = fresh

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        fresh, self._fresh = self._fresh, None  # once per lookup
        try:
            return super().execute(sql, parameters)
        except psycopg.OperationalError:
            if fresh is None or not self._conn.broken or not _is_select(sql):
                raise
            log.info("registry lookup on a broken pooled connection; once more on another")
            self._conn = fresh()
            return super().execute(sql, parameters)


def _is_select(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


#: libpq's TCP options a registry URL gets unless it names them itself: a statement sent on a
#: link gone dark fails after 10 s unacknowledged (``tcp_user_timeout``, ms), an idle
#: connection is probed after 10 s and dropped after three lost probes 3 s apart. Without them
#: a collector cut off from its database waits on TCP's retransmissions, silently, up to ~15
#: minutes on Linux (tests/collector/hosts/test_faults.py cuts a link for 30 s). Ten seconds is
#: far above a healthy network's round trip and a loaded server's ACK (the kernel sends it, not
#: PostgreSQL), so only a dead path trips it.
TCP_BOUNDS: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def tcp_bounds(url: str) -> dict[str, int]:
    """:data:`TCP_BOUNDS` except those ``url`` sets (the operator's word wins)."""
    given = conninfo_to_dict(url)
    return {name: value for name, value in TCP_BOUNDS.items() if name not in given}


def display_url(url: str) -> str:
    """``postgresql://user@host:port/dbname`` of ``url``, without its password.

    Raises ValueError for a URL psycopg cannot parse.
    """
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"not a PostgreSQL URL: {exc}") from None
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class PostgresDatabase:
    """The registry database at a ``postgresql://`` URL: :meth:`write`, :meth:`read`,
    :meth:`statement` over a connection pool.

    Opening creates or upgrades the schema. Raises RegistryUnavailable (``retryable`` when
    the server could not be reached) if the database cannot be used.
    """

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        lock_timeout_s: float,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._location = display_url(url)
        settings: dict[str, Any] = {
            "options": f"-c lock_timeout={int(lock_timeout_s * 1000)} -c TimeZone=UTC",
            "connect_timeout": max(1, round(connect_timeout_s)),
            "application_name": "retrofit-collector",
            **tcp_bounds(url),
        }
        if password is not None:
            settings["password"] = password
        try:
            with psycopg.connect(url, autocommit=True, **settings) as conn:
                migrate(conn)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None
        # Autocommit: a transaction is only what write() and read() open (BEGIN ... COMMIT), so
        # statement() is one round trip, not three. Checked as they leave the pool, so a
        # restarted server's dead connections are replaced, not used (pooled.py).
        self._pool: ConnectionPool[PooledConnection] = ConnectionPool(
            url,
            connection_class=PooledConnection,
            min_size=1,
            max_size=pool_size,
            kwargs={**settings, "autocommit": True},
            timeout=connect_timeout_s + lock_timeout_s,
            configure=mark_idle,  # not reset=: with one, every return goes through a worker
            open=True,
            name="registry",
        )
        #: How long a call that found a broken connection waits for a new one, in seconds.
        self._replacement_wait_s = connect_timeout_s

    @property
    def location(self) -> str:
        """The URL without its password, for messages."""
        return self._location

    def close(self) -> None:
        """Close every connection of the pool; the database cannot be used afterwards."""
        self._pool.close()

    def grant_dml(self, role: str) -> list[str]:
        """Grant ``role`` row access only to every registry table (run as their owner);
        return the tables. Raises RegistryUnavailable (an unknown role, not the owner)."""
        with self._connection() as conn:
            try:
                return grant_dml(conn, role)
            except psycopg.Error as exc:
                raise self._unavailable(exc) from exc

    @contextmanager
    def write(self, *locks: str) -> Iterator[_Connection]:
        """One READ COMMITTED transaction holding an advisory lock on each of ``locks``."""
        names = sorted(set(locks))
        with self._transaction(functools.partial(_take_locks, names=names)) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[_Connection]:
        """One REPEATABLE READ, READ ONLY transaction: its statements see one snapshot."""
        with self._transaction(_read_only_snapshot) as conn:
            yield conn

    @contextmanager
    def statement(self) -> Iterator[_Connection]:
        """A connection in autocommit mode, for one lookup (its own snapshot)."""
        with self._errors_mapped(), ExitStack() as held:
            conn = held.enter_context(self._pooled())
            yield _Lookup(conn, lambda: held.enter_context(self._pooled(replaced=True)))

    @contextmanager
    def _pooled(self, *, replaced: bool = False) -> Iterator[PooledConnection]:
        """A connection from the pool, checked before use, marked idle as it goes back;
        ``replaced``: a new one, the pool drained first (the caller found one broken)."""
        conn = self._replacement() if replaced else self._checked()
        try:
            yield conn
        finally:
            mark_idle(conn)
            self._pool.putconn(conn)  # one left in a transaction is rolled back; a broken one
            # is discarded and replaced

    def _checked(self) -> PooledConnection:
        """A pooled connection that passed :func:`check_before_use`, or a new one."""
        conn = self._pool.getconn()
        try:
            check_before_use(conn)
        except psycopg.Error as exc:
            self._pool.putconn(conn)
            log.warning(
                "registry %s: a pooled connection was broken (%s); replacing them all",
                self._location, str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
            )  # fmt: skip
            return self._replacement()
        except BaseException:
            self._pool.putconn(conn)
            raise
        return conn

    def _replacement(self) -> PooledConnection:
        """A new connection, the pool drained first: after a restart every pooled one is
        broken. Raises PoolTimeout if none comes within the replacement wait."""
        self._pool.drain()
        return self._pool.getconn(self._replacement_wait_s)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._errors_mapped(), self._pooled() as conn:
            yield conn

    @contextmanager
    def _transaction(
        self, opening: Callable[[psycopg.Connection[Any]], None]
    ) -> Iterator[_Connection]:
        """A transaction begun, then ``opening`` run in it, then the caller's block; a broken
        connection found before the block runs is replaced once (nothing of it was sent)."""
        with self._errors_mapped():
            try:
                held, conn = self._begin(opening)
            except _BrokenAtOpening as broken:
                log.info("registry %s: %s; once more on another connection", self._location,
                         broken)  # fmt: skip
                try:
                    held, conn = self._begin(opening, replaced=True)
                except _BrokenAtOpening as again:
                    raise again.error from None
            with held:  # the caller's exception rolls back; a clean exit commits
                yield _Connection(conn)

    def _begin(
        self, opening: Callable[[psycopg.Connection[Any]], None], *, replaced: bool = False
    ) -> tuple[ExitStack, psycopg.Connection[Any]]:
        """A pooled connection in a transaction begun and opened; its ExitStack ends both.

        Raises _BrokenAtOpening if the connection breaks before the caller's block: only BEGIN
        and ``opening`` (SET TRANSACTION, advisory locks: nothing written) were sent, and a
        backend that dies inside a transaction rolls it back, so nothing was committed.
        """
        with ExitStack() as attempt:
            conn = attempt.enter_context(self._pooled(replaced=replaced))
            try:
                attempt.enter_context(conn.transaction())
                opening(conn)
            except psycopg.OperationalError as exc:
                if conn.broken:  # not a lock timeout: the connection itself is gone
                    raise _BrokenAtOpening(exc) from exc
                raise
            return attempt.pop_all(), conn
        raise AssertionError("unreachable: ExitStack does not swallow exceptions")

    @contextmanager
    def _errors_mapped(self) -> Iterator[None]:
        try:
            yield
        except _RETRYABLE as exc:
            raise self._unavailable(exc) from exc
        except psycopg.InterfaceError as exc:  # a closed pool or connection
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> RegistryUnavailable:
        retryable = isinstance(exc, _RETRYABLE)
        then = "retry later" if retryable else "check the database and its URL"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return RegistryUnavailable(
            f"registry {self._location}: {text}; {then}", retryable=retryable
        )


def _take_locks(conn: psycopg.Connection[Any], *, names: Sequence[str]) -> None:
    """Take a write's advisory locks, ``names`` sorted: no two writers wait in a circle."""
    if names:
        # One round trip (pipeline); executed in this order.
        conn.cursor().executemany(
            b"SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [(name,) for name in names],
        )


def _read_only_snapshot(conn: psycopg.Connection[Any]) -> None:
    conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
