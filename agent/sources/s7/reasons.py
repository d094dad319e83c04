"""Why an S7 value is bad, in words an installer can act on.

python-snap7 raises ``S7ConnectionError``, ``S7TimeoutError`` and ``S7ProtocolError`` with its
own text; a read refused by the PLC carries the S7 item return code (``... (0x05)``) or the
PDU header's error class and code. The usual causes on S7-1200/1500 CPUs are that PUT/GET
access is not enabled (the CPU answers 0x8104, "service not implemented", or "object access
not allowed") and that the data block uses optimized block access, so it has no absolute
addresses (the CPU answers "invalid address" or "object does not exist").
"""

from __future__ import annotations

import re

__all__ = [
    "ADDRESS_OUT_OF_RANGE",
    "CONNECTION_LOST",
    "OBJECT_DOES_NOT_EXIST",
    "connect_reason",
    "read_code",
    "read_reason",
]

CONNECTION_LOST = "connection lost"
ADDRESS_OUT_OF_RANGE = 0x05
OBJECT_DOES_NOT_EXIST = 0x0A
_ACCESS_DENIED = 0x03
_SERVICE_NOT_IMPLEMENTED = 0x8104
_RETURN_CODE_RE = re.compile(r"\(0x([0-9a-fA-F]{2})\)\s*$")

_PUT_GET = (
    "enable 'Permit access with PUT/GET communication from remote partner' in the CPU's "
    "Protection & Security properties (S7-1200/1500)"
)
_OPTIMIZED = (
    "or the data block has 'Optimized block access' on and so no absolute addresses: turn it "
    "off in the block's Attributes"
)
_HINTS = {
    ADDRESS_OUT_OF_RANGE: f"the address is beyond the end of the block or area, {_OPTIMIZED}",
    OBJECT_DOES_NOT_EXIST: f"the data block does not exist in the PLC, {_OPTIMIZED}",
    _ACCESS_DENIED: f"the PLC refused access: {_PUT_GET}",
    _SERVICE_NOT_IMPLEMENTED: f"the PLC refused the read service: {_PUT_GET}",
}
_HANDSHAKE_CLOSED = (
    "the PLC closed the connection during the handshake: its connections of this type may all "
    "be in use (max clients reached; S7-200 SMART and S7-300 CPUs allow few connections of "
    "each type: try another connection_type, op, basic or pg), or rack/slot do not name the CPU"
)


def read_code(exc: BaseException) -> int | None:
    """The S7 item return code or header error code of a refused read, if the error has one."""
    code = getattr(exc, "error_code", None)
    if isinstance(code, int) and code:
        return code
    match = _RETURN_CODE_RE.search(str(exc))
    return int(match.group(1), 16) if match else None


def read_reason(exc: BaseException) -> str:
    """``PLC refused the read: Invalid address (0x05): <hint>`` or the library's text."""
    code = read_code(exc)
    text = str(exc).strip() or type(exc).__name__
    hint = _HINTS.get(code) if code is not None else None
    if hint is None:
        return f"PLC refused the read: {text}"
    return f"PLC refused the read: {text}: {hint}"


def connect_reason(exc: BaseException, where: str, timeout_s: float) -> str:
    """Why connecting to ``where`` failed, with what to check."""
    text = str(exc)
    # snap7 re-raises the socket error as text: "Connection failed: [Errno 111] Connect call
    # failed (...)" for a refused connection.
    refused = "refused" in text.lower() or "Connect call failed" in text
    if isinstance(exc, ConnectionRefusedError) or refused:
        return f"connection refused by {where} (nothing listening: wrong host or port?)"
    if isinstance(exc, TimeoutError) or "timeout" in text.lower():
        return f"no answer from {where} within {timeout_s:g} s"
    # The CPU closes at once: a FIN reads as "closed by peer", and if our connection request
    # was already in its buffer the close is a reset.
    if any(sign in text for sign in ("closed by peer", "Connection closed", "reset by peer")):
        return f"{_HANDSHAKE_CLOSED} ({where})"
    return f"cannot connect to {where}: {text or type(exc).__name__}"
