"""The agent's errors: what a caller may catch, and the data it needs to decide what to do.

::

    AgentError
    ├── ConfigError               the configuration cannot be used; ``issues`` lists why
    │   ├── ConfigFileError       the file could not be read at all (missing, a directory,
    │   │                         binary, too large): ``check-config`` exits 2
    │   └── ConfigInvalidError    the file was read but its content is wrong: exits 1
    ├── SourceError               a device source failed in a way the caller must handle
    │   └── UnsupportedProtocolError   no source implementation for a configured protocol
    ├── KeyFileError              the agent's key file is missing, unreadable, too open, or
    │                             not an Ed25519 key
    └── InputFileError            a file named by the user is missing, not a regular file
                                  (a FIFO, a device, a directory), unreadable or too large:
                                  ``reason`` says which (agent.files.read_bounded)

Runtime device faults (timeouts, Modbus exceptions, OPC UA bad status codes) are not raised:
they become bad-quality readings (see :mod:`agent.sources.base`). ``SourceError`` is for what
cannot be a reading, such as a protocol this build cannot speak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "AgentError",
    "ConfigError",
    "ConfigFileError",
    "ConfigInvalidError",
    "ConfigIssue",
    "InputFileError",
    "KeyFileError",
    "SourceError",
    "UnsupportedProtocolError",
]


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem (or warning) found in a configuration file.

    ``line`` is 1-based and None when the problem has no place in the file (it cannot be read);
    ``path`` is the key path such as ``devices[2].tags.count.address``, empty for the whole file.
    """

    source: str
    line: int | None
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        label = "warning: " if self.severity == "warning" else ""
        if self.path:
            return f"{where} {self.path}: {label}{self.message}"
        return f"{where}: {label}{self.message}"


class ConfigError(AgentError):
    """The configuration cannot be used; ``issues`` holds every problem found, in file order."""

    def __init__(self, issues: tuple[ConfigIssue, ...]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class ConfigFileError(ConfigError):
    """The configuration file could not be read (missing, a directory, binary, too large)."""


class ConfigInvalidError(ConfigError):
    """The configuration file was read, but its content is not a valid configuration."""


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


class KeyFileError(AgentError):
    """A key file that is missing, unreadable, too open, or not an Ed25519 key."""


#: Why a file given to read was refused (:class:`InputFileError`).
InputFileReason = Literal["missing", "directory", "not_regular", "too_large", "unreadable"]


class InputFileError(AgentError):
    """A file named by the user cannot be read as one: see ``reason`` and ``detail``.

    ``detail`` says what was found without the path (``not a regular file (a FIFO)``), so a
    caller can put it in its own message; ``str()`` is ``<path>: <detail>``.
    """

    def __init__(self, path: Path, reason: InputFileReason, detail: str) -> None:
        self.path = path
        self.reason: InputFileReason = reason
        self.detail = detail
        super().__init__(f"{path}: {detail}")
