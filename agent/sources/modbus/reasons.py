"""Why a reading is bad: the reason strings a Modbus failure becomes, one wording per cause.

Reasons travel on :class:`agent.sources.base.Reading` to the KPI data-quality counts and to the
installer's ``check-config`` table, so each says what happened in words a technician can look up.
"""

from __future__ import annotations

import errno

__all__ = ["connect_failure", "exception_reason"]

# Modbus Application Protocol V1.1b3, section 7 ("MODBUS Exception Responses"), spec wording.
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    7: "negative acknowledge",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

ILLEGAL_DATA_ADDRESS = 2

_ERRNO_WORDS: dict[int, str] = {
    errno.ECONNREFUSED: "connection refused",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "connect timeout",
    errno.ENOENT: "no such serial port",
    errno.EACCES: "permission denied",
    errno.EBUSY: "serial port busy",
}


def exception_reason(code: int) -> str:
    """``modbus exception 2 (illegal data address)`` for an exception response's code."""
    return f"modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown code')})"


def connect_failure(exc: BaseException | None, where: str, timeout_s: float) -> str:
    """Why a connect attempt to ``where`` failed; ``exc`` None means it timed out."""
    if exc is None:
        return f"connect timeout after {timeout_s:g} s ({where})"
    if isinstance(exc, OSError) and exc.errno in _ERRNO_WORDS:
        return f"{_ERRNO_WORDS[exc.errno]} ({where})"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused ({where})"
    return f"connect failed: {exc} ({where})"
