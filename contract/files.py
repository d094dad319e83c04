"""Reading a file the user named, as hostile input: only a regular file, never past a limit.

``Path.read_bytes()`` reads to the end: ``/dev/zero`` grows without bound until the kernel kills
the process, and opening a FIFO blocks until some writer appears. :func:`read_bounded` checks
the path is a regular file, opens it with ``O_NONBLOCK`` (so a FIFO swapped in after the check
cannot hang the open), checks again with ``fstat`` on the opened descriptor (what is read is
what was checked), and reads at most ``limit + 1`` bytes. Both the agent and the collector
read user-named files through it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from contract.errors import InputFileError

__all__ = ["open_regular", "read_bounded"]

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


#: Read only; on POSIX also non-blocking (a FIFO), no controlling terminal, closed on exec; on
#: Windows, where those three do not exist, binary (no CRLF translation). ``getattr`` because
#: each platform lacks the other's flags: the reviewer's verifier loads plans on Windows too.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def open_regular(path: Path, limit: int, *, expected: str = "a file") -> BinaryIO:
    """``path`` opened for reading, after checking it is a regular file of at most ``limit`` bytes.

    For a caller that streams the file: it must still stop after ``limit + 1`` bytes, since a
    file can grow after the check. Raises InputFileError as :func:`read_bounded` does.
    """
    try:
        # Checked before the open too: opening some devices acts (a watchdog starts counting).
        _check_regular(path, path.stat(), limit, expected)
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise InputFileError(path, "missing", "no such file") from None
    except IsADirectoryError:
        raise _directory(path, expected) from None
    except OSError as exc:
        raise InputFileError(path, "unreadable", _cannot_read(exc)) from None
    try:
        _check_regular(path, os.fstat(fd), limit, expected)
        return os.fdopen(fd, "rb")
    except BaseException as exc:
        os.close(fd)
        if isinstance(exc, OSError):
            raise InputFileError(path, "unreadable", _cannot_read(exc)) from None
        raise


def read_bounded(path: Path, limit: int, *, expected: str = "a file") -> bytes:
    """The whole content of the regular file at ``path``, at most ``limit`` bytes.

    ``expected`` names what the file should be (``a CSV file``) in the refusal. Raises
    InputFileError: missing, a directory or another kind of file than a regular one (a FIFO,
    a device, a socket), unreadable, or larger than ``limit`` bytes (its size from ``fstat``,
    or found by reading ``limit + 1`` bytes when the file grows while it is read).
    """
    with open_regular(path, limit, expected=expected) as stream:
        try:
            content = stream.read(limit + 1)
        except OSError as exc:
            raise InputFileError(path, "unreadable", _cannot_read(exc)) from None
    if len(content) > limit:  # it grew after the check
        raise InputFileError(path, "too_large", f"more than the limit of {limit:,} bytes")
    return content


def _directory(path: Path, expected: str) -> InputFileError:
    return InputFileError(path, "directory", f"is a directory, expected {expected}")


def _check_regular(path: Path, status: os.stat_result, limit: int, expected: str) -> None:
    """InputFileError unless ``status`` is of a regular file of at most ``limit`` bytes."""
    mode = status.st_mode
    if stat.S_ISDIR(mode):
        raise _directory(path, expected)
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "an unknown kind of file")
        detail = f"not a regular file ({kind}), expected {expected}"
        raise InputFileError(path, "not_regular", detail)
    if status.st_size > limit:
        detail = f"{status.st_size:,} bytes, more than the limit of {limit:,}"
        raise InputFileError(path, "too_large", detail)


def _cannot_read(exc: OSError) -> str:
    return f"cannot be read: {exc.strerror or exc}"
