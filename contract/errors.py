"""Errors of what both sides share: configuration-like files and files the user names.

::

    ContractError
    ├── ConfigError               a configuration-like file cannot be used; ``issues`` lists why
    │   ├── ConfigFileError       the file could not be read at all (missing, a directory,
    │   │                         binary, too large): the checking commands exit 2
    │   └── ConfigInvalidError    the file was read but its content is wrong: exit 1
    ├── InputFileError            a file named by the user is missing, not a regular file
    │                             (a FIFO, a device, a directory), unreadable or too large:
    │                             ``reason`` says which (:func:`contract.files.read_bounded`)
    └── KeyFileError              a private key file (an agent's identity, the collector's
                                  bundle key) is missing, unreadable, too open, or not an
                                  Ed25519 key (:mod:`contract.keys`)

The wire contract's own refusals are :class:`contract.wire.WireError` (a ValueError with a
reason code), kept apart because a received message is never a user's file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "ConfigError",
    "ConfigFileError",
    "ConfigInvalidError",
    "ConfigIssue",
    "ContractError",
    "InputFileError",
    "InputFileReason",
    "KeyFileError",
]


class ContractError(Exception):
    """Base of every error the shared package raises on purpose."""


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


class ConfigError(ContractError):
    """The configuration cannot be used; ``issues`` holds every problem found, in file order."""

    def __init__(self, issues: tuple[ConfigIssue, ...]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class ConfigFileError(ConfigError):
    """The configuration file could not be read (missing, a directory, binary, too large)."""


class ConfigInvalidError(ConfigError):
    """The configuration file was read, but its content is not a valid configuration."""


#: Why a file given to read was refused (:class:`InputFileError`).
InputFileReason = Literal["missing", "directory", "not_regular", "too_large", "unreadable"]


class InputFileError(ContractError):
    """A file named by the user cannot be read as one: see ``reason`` and ``detail``.

    ``detail`` says what was found without the path (``not a regular file (a FIFO)``), so a
    caller can put it in its own message; ``str()`` is ``<path>: <detail>``.
    """

    def __init__(self, path: Path, reason: InputFileReason, detail: str) -> None:
        self.path = path
        self.reason: InputFileReason = reason
        self.detail = detail
        super().__init__(f"{path}: {detail}")


class KeyFileError(ContractError):
    """A key file that is missing, unreadable, too open, or not an Ed25519 key."""
