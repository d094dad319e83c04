"""Keep library log lines out of a probe's output unless the installer asked for them (-v)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["quiet_logs"]


@contextlib.contextmanager
def quiet_logs(*names: str) -> Iterator[None]:
    """Raise the named loggers to CRITICAL while inside, unless the root logger is at DEBUG.

    The probe prints every outcome in its own tables; the sources' and libraries' warnings
    ("retrying in 0.5 s", "Failed to connect") would repeat them and promise retries a one-shot
    probe never makes, and pymodbus logs every timeout as an ERROR with hex dumps of the last
    frames. An unexpected error inside a source still shows: it becomes the reading's reason
    ("internal error: ..."). With ``retrofit-agent -v`` the logs stay, for debugging.
    """
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
