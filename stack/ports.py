"""Free loopback TCP ports for local servers.

A port is found by binding 127.0.0.1:0 and letting the kernel choose. The kernel may hand the same
port out again once the probe socket is closed, so this module remembers every port it gave out
and never returns one twice in the same process: two servers started in one test cannot be given
the same port. Another process can still take a port between our probe and the server's bind;
servers started with automatic ports retry with fresh ones when that happens.
"""

from __future__ import annotations

import socket
import threading

from stack.errors import StackError

__all__ = ["LOOPBACK_HOST", "free_port", "free_ports"]

LOOPBACK_HOST = "127.0.0.1"

# Enough to step past every port this process already holds without looping forever.
_MAX_PROBES = 200

_lock = threading.Lock()
_handed_out: set[int] = set()


def _probe_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port(host: str = LOOPBACK_HOST) -> int:
    """Return a TCP port on `host` that is free now and was never returned before in this process.

    Raises StackError if the kernel keeps offering ports this process already handed out.
    """
    with _lock:
        for _ in range(_MAX_PROBES):
            port = _probe_port(host)
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise StackError(f"no fresh free port on {host} after {_MAX_PROBES} probes")


def free_ports(count: int, host: str = LOOPBACK_HOST) -> list[int]:
    """Return `count` distinct free TCP ports on `host` (see free_port)."""
    return [free_port(host) for _ in range(count)]
