"""Errors raised by the local server harness.

```
StackError                   base: anything the harness itself cannot do
├── ServerStartError         a server exited or did not become ready in time (carries its log tail)
├── InfluxHTTPError          influxd answered a helper request with an error (carries status, body)
└── PostgresError            psql reported an error for SQL a helper ran (carries the message)
```
"""

from __future__ import annotations

import re

__all__ = ["InfluxHTTPError", "PostgresError", "ServerStartError", "StackError"]

# mosquitto says "Address already in use", Go's net package "address already in use".
_ADDRESS_IN_USE = re.compile(r"address already in use", re.IGNORECASE)


class StackError(Exception):
    """Base of every error the stack harness raises."""


class ServerStartError(StackError):
    """A server process exited during start-up or did not become ready before its deadline.

    `exit_code` is None when the process was still running at the deadline (it is then stopped).
    `log_tail` holds the last lines the process wrote in this run.
    """

    def __init__(self, server: str, reason: str, exit_code: int | None, log_tail: str) -> None:
        self.server = server
        self.reason = reason
        self.exit_code = exit_code
        self.log_tail = log_tail
        tail = log_tail.rstrip() or "(log is empty)"
        super().__init__(f"{server}: {reason}; last log lines:\n{tail}")

    @property
    def address_in_use(self) -> bool:
        """True when the log says a listen port was taken (another process won the port)."""
        return _ADDRESS_IN_USE.search(self.log_tail) is not None


class InfluxHTTPError(StackError):
    """influxd answered a helper request with an error status or a statement error."""

    def __init__(self, url: str, status_code: int, body: str) -> None:
        self.url = url
        self.status_code = status_code
        self.body = body
        super().__init__(f"influxd {url}: HTTP {status_code}: {body.strip()[:500]}")


class PostgresError(StackError):
    """SQL run through the harness's psql helper failed (ON_ERROR_STOP)."""

    def __init__(self, statements: str, message: str) -> None:
        self.statements = statements
        self.message = message.strip()
        super().__init__(f"postgres: {self.message[:500]} (running: {statements[:200]})")
