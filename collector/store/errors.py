"""The store's errors: what went wrong talking to InfluxDB, and whether trying again can help.

::

    StoreError                  base; ``retryable`` and ``retry_after_s`` say what to do next
    ├── StoreUnavailable        connection refused or reset, timeout, HTTP 5xx, 429: retryable
    ├── AuthFailed              HTTP 401 / 403: the credentials or their rights; not retryable
    ├── NotFound                database or retention policy missing (404, or 1.x's 500
    │                           "retention policy not found"): not retryable until created
    ├── WriteRejected           HTTP 400 / 413 on /write: bad line protocol, a field type
    │                           conflict, a partial write (``dropped`` points); not retryable
    ├── QueryFailed             InfluxQL refused (HTTP 400 or a statement error); not retryable
    └── OutOfRange              a time InfluxDB cannot hold (before 1677-09-22 or from
                                2262-04-11 UTC), refused before anything is sent; not retryable

Every HTTP failure becomes one of these at the boundary (``raise ... from exc``), carrying
InfluxDB's own message, so the caller decides from data, as Telegraf's ``APIError`` does:
retry later (and keep the MQTT message unacknowledged), or give up on the batch.
"""

from __future__ import annotations

__all__ = [
    "AuthFailed",
    "NotFound",
    "OutOfRange",
    "QueryFailed",
    "StoreError",
    "StoreUnavailable",
    "WriteRejected",
]


class StoreError(Exception):
    """Base of every store error.

    ``retryable``: the same request may succeed later unchanged. ``retry_after_s``: the wait
    the server asked for (a ``Retry-After`` header), None when it did not say (use your own
    backoff). ``status_code``: the HTTP status, None when no response came.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        server_message: str = "",
        retry_after_s: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.server_message = server_message
        self.retry_after_s = retry_after_s
        super().__init__(message)


class StoreUnavailable(StoreError):
    """InfluxDB could not be reached or failed on its side; the same request may succeed later."""

    retryable = True


class AuthFailed(StoreError):
    """InfluxDB refused the credentials (401) or their rights (403); fix the configuration."""


class NotFound(StoreError):
    """The database, retention policy or bucket mapping does not exist; create it first."""


class WriteRejected(StoreError):
    """InfluxDB refused (part of) a write; sending the same points again will fail again.

    ``dropped``: points InfluxDB says it dropped in a partial write ("dropped=N"), None when
    it did not say. The points of the batch that were not dropped *were* written.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        server_message: str = "",
        dropped: int | None = None,
    ) -> None:
        self.dropped = dropped
        super().__init__(message, status_code=status_code, server_message=server_message)


class QueryFailed(StoreError):
    """InfluxDB refused an InfluxQL statement (syntax, unknown function, type error)."""


class OutOfRange(StoreError):
    """A time outside what InfluxDB can hold (nanoseconds in 64 bits); the caller's mistake."""
