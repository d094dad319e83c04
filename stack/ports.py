"""Free loopback TCP ports for local servers.

A port is handed out only after binding it once, and this module remembers every port it gave
out and never returns one twice in the same process: two servers started in one test cannot be
given the same port.

Ports are drawn at random from *below* the kernel's ephemeral range
(``/proc/sys/net/ipv4/ip_local_port_range``, 32768-60999 by default), from 10000 up. The kernel
gives every outgoing connection's source port, and every ``bind(port 0)``, from the ephemeral
range: a port probed there and released can be taken a moment later by any client connecting
anywhere (an agent to its broker, the ingest to influxd), and then stays taken for that
connection's life. A CI run lost a whole pipeline that way: the agent's metrics port had become
a client's source port, so the agent could not start, twice. Below the range only an explicit
bind can take a port, so the window left is another process probing the same port at the same
moment; servers started with automatic ports retry with fresh ones when that happens. Where the
range leaves fewer than 1000 ports below it (or cannot be read), the kernel's choice is used.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

from stack.errors import StackError

__all__ = ["LOOPBACK_HOST", "free_port", "free_ports", "listening_span"]

LOOPBACK_HOST = "127.0.0.1"

#: Where the kernel says which ports it picks for outgoing connections and ``bind(0)``.
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: The lowest port handed out: above the well-known ports and the services usually found there.
LOWEST_PORT = 10_000
#: Fewer ports than this below the ephemeral range: use the kernel's choice instead.
MIN_SPAN = 1_000

# Enough to step past every port this process already holds without looping forever.
_MAX_PROBES = 200

_lock = threading.Lock()
_handed_out: set[int] = set()
_random = random.Random()  # noqa: S311  # spreads probes; nothing secret


def listening_span(range_file: Path = EPHEMERAL_RANGE_FILE) -> range | None:
    """The ports free_port draws from: LOWEST_PORT up to the ephemeral range's first port, or
    None when that is unknown or shorter than MIN_SPAN (then the kernel chooses)."""
    try:
        first = int(range_file.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None
    span = range(LOWEST_PORT, first)
    return span if len(span) >= MIN_SPAN else None


def _bindable(host: str, port: int) -> int | None:
    """``port`` bound once on ``host`` and released (0: the kernel's choice); None if taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return None
        bound: int = sock.getsockname()[1]
        return bound


def free_port(host: str = LOOPBACK_HOST) -> int:
    """Return a TCP port on `host` that is free now and was never returned before in this
    process, from below the ephemeral range where there is one (see the module's doc).

    Raises StackError if no fresh port is found in _MAX_PROBES tries.
    """
    span = listening_span()
    with _lock:
        for _ in range(_MAX_PROBES):
            candidate = _random.choice(span) if span is not None else 0
            if candidate in _handed_out:
                continue
            port = _bindable(host, candidate)
            if port is not None and port not in _handed_out:
                _handed_out.add(port)
                return port
    raise StackError(f"no fresh free port on {host} after {_MAX_PROBES} probes")


def free_ports(count: int, host: str = LOOPBACK_HOST) -> list[int]:
    """Return `count` distinct free TCP ports on `host` (see free_port)."""
    return [free_port(host) for _ in range(count)]
