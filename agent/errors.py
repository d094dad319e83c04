"""The agent's errors: what a caller may catch, and the data it needs to decide what to do.

::

    AgentError
    ├── SourceError               a device source failed in a way the caller must handle
    │   └── UnsupportedProtocolError   no source implementation for a configured protocol
    ├── OutboxInUseError          another process (a running agent, a retire) holds the outbox
    └── AgentRetiredError         the outbox's agent was retired: it never runs again

:class:`KeyFileError` (the agent's key file is missing, unreadable, too open, or not an Ed25519
key) is :class:`contract.errors.KeyFileError`, re-exported here: the collector's bundle key is
loaded by the same code (:mod:`contract.keys`).

A configuration file that cannot be used raises :class:`contract.errors.ConfigError` (its
``ConfigFileError``: ``check-config`` exits 2; ``ConfigInvalidError``: exits 1), and a file the
user names that is not a readable regular file :class:`contract.errors.InputFileError`: both are
the shared package's, as the collector's files raise them too.

Runtime device faults (timeouts, Modbus exceptions, OPC UA bad status codes) are not raised:
they become bad-quality readings (see :mod:`agent.sources.base`). ``SourceError`` is for what
cannot be a reading, such as a protocol this build cannot speak.
"""

from __future__ import annotations

from contract.errors import KeyFileError

__all__ = [
    "AgentError",
    "AgentRetiredError",
    "KeyFileError",
    "OutboxInUseError",
    "SourceError",
    "UnsupportedProtocolError",
]


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


class SourceError(AgentError):
    """A device source failed in a way that cannot be expressed as a bad-quality reading.

    ``retryable`` says whether trying again later can help; ``retry_after_s`` is the suggested
    delay when it can.
    """

    def __init__(
        self,
        device: str,
        detail: str,
        *,
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        self.device = device
        self.detail = detail
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        super().__init__(f"device {device}: {detail}")


class UnsupportedProtocolError(SourceError):
    """This build has no source for the device's protocol; not retryable."""

    def __init__(self, device: str, protocol: str) -> None:
        self.protocol = protocol
        super().__init__(device, f"protocol {protocol} is not yet supported by this agent build")


class OutboxInUseError(AgentError):
    """Another process holds the outbox's run lock: an agent running on it, or a retire."""

    def __init__(self, outbox: str) -> None:
        self.outbox = outbox
        super().__init__(
            f"outbox {outbox} is in use by another process (a running agent or a retire): stop "
            "that first"
        )


class AgentRetiredError(AgentError):
    """``retrofit-agent retire`` retired the outbox's agent: ``run`` refuses it for good."""

    def __init__(self, agent: str, outbox: str, retired_at: str) -> None:
        self.agent = agent
        self.outbox = outbox
        self.retired_at = retired_at
        super().__init__(
            f"agent {agent} was retired at {retired_at} (outbox {outbox}): its last days are "
            "sealed and it must not send again; a replacement gateway needs a new agent id, "
            "key and outbox (docs/operations.md, Retiring an agent)"
        )
