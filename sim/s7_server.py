"""An S7 PLC's memory served over ISO-on-TCP by python-snap7's pure-Python server.

The server answers reads and writes of the areas registered with it (data blocks, merkers,
process inputs and outputs), refuses a read beyond an area with return code 0x05 ("invalid
address") and one of an unknown data block with 0x0A, and closes a connection above its
``max_clients`` right after accepting it, as a CPU whose connection resources are used up does.
Values are written under the server's own per-area lock, so a client never reads half a write.
"""

from __future__ import annotations

import logging
from typing import Literal

from snap7.server import Server
from snap7.type import SrvArea

__all__ = ["S7Sim", "SimArea"]

log = logging.getLogger(__name__)
# snap7's server logs every refused read as a WARNING; refusing is this PLC's job, and the
# client reports it, so only its errors are worth a line.
logging.getLogger("snap7.server").setLevel(logging.ERROR)

SimArea = Literal["db", "merker", "input", "output"]
_SRV_AREAS: dict[str, SrvArea] = {
    "db": SrvArea.DB,
    "merker": SrvArea.MK,
    "input": SrvArea.PE,
    "output": SrvArea.PA,
}


class S7Sim:
    """One simulated S7 PLC on ``host:port`` (port 0: a free one, kept across restarts)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_clients: int = 8) -> None:
        self.host = host
        self.port = port
        self.max_clients = max_clients
        self._areas: dict[tuple[SimArea, int], bytearray] = {}
        self._server: Server | None = None

    def add_area(self, area: SimArea, size: int, db: int = 0) -> None:
        """Register ``size`` zero bytes of ``area`` (data block ``db`` for ``db``)."""
        if size < 1:
            raise ValueError(f"area size: got {size}, expected at least 1 byte")
        self._areas[(area, db if area == "db" else 0)] = bytearray(size)
        if self._server is not None:
            self._register(self._server, area, db)

    def write(self, area: SimArea, start: int, data: bytes, db: int = 0) -> None:
        """Write ``data`` at byte ``start`` of an area; raises KeyError/ValueError if outside."""
        index = db if area == "db" else 0
        memory = self._areas[(area, index)]
        if start < 0 or start + len(data) > len(memory):
            raise ValueError(f"{area} {index}: bytes {start}..{start + len(data)} outside it")
        server = self._server
        if server is None:
            memory[start : start + len(data)] = data
            return
        server.lock_area(_SRV_AREAS[area], index)
        try:
            memory[start : start + len(data)] = data
        finally:
            server.unlock_area(_SRV_AREAS[area], index)

    def read(self, area: SimArea, start: int, size: int, db: int = 0) -> bytes:
        """The bytes a client would read (for tests and ground truth)."""
        memory = self._areas[(area, db if area == "db" else 0)]
        return bytes(memory[start : start + size])

    def start(self) -> tuple[str, int]:
        """Start serving; returns (host, port). Idempotent."""
        if self._server is None:
            server = Server(log=False, max_clients=self.max_clients)
            for area, index in self._areas:
                self._register(server, area, index)
            server.start_to(self.host, self.port)
            if server.server_socket is not None:
                self.port = int(server.server_socket.getsockname()[1])
            self._server = server
            log.info("S7 PLC simulator on %s:%d", self.host, self.port)
        return self.host, self.port

    def stop(self) -> None:
        """Stop serving and drop every client (a PLC switched off). Idempotent."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _register(self, server: Server, area: SimArea, index: int) -> None:
        # The server keeps the bytearray itself, so writes here are what clients read.
        server.register_area(_SRV_AREAS[area], index, self._areas[(area, index)])
