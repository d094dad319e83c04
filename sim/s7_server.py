"""An S7 PLC's memory served over ISO-on-TCP by python-snap7's pure-Python server.

The server answers reads and writes of the areas registered with it (data blocks, merkers,
process inputs and outputs), refuses a read beyond an area with return code 0x05 ("invalid
address") and one of an unknown data block with 0x0A, and closes a connection above its
``max_clients`` right after accepting it, as a CPU whose connection resources are used up does.
Values are written under the server's own per-area lock, so a client never reads half a write.
Before it answers a read of an area, the server calls ``before_read(area, db)`` (from the
client's thread: snap7 serves each connection in a thread of its own), so the simulator can
bring that area to the plant time of the read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from snap7.datatypes import S7Area
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
_SIM_AREAS: dict[S7Area, SimArea] = {
    S7Area.DB: "db",
    S7Area.MK: "merker",
    S7Area.PE: "input",
    S7Area.PA: "output",
}
#: Called with (area, data block number or 0) before a read of that area is answered.
BeforeRead = Callable[[SimArea, int], None]


class _Server(Server):
    """snap7's server, calling ``before_read`` before it copies an area for a client's read.

    python-snap7 3.x has no hook before a read (its read callback runs after the answer is
    built), so this overrides the one method every read goes through, single- and multi-item
    alike. It is private to python-snap7; ``tests/sim/test_runtime_reads.py`` fails if it is
    renamed or no longer called.
    """

    def __init__(self, before_read: BeforeRead | None, max_clients: int) -> None:
        super().__init__(log=False, max_clients=max_clients)
        self._before_read = before_read

    def _read_from_memory_area(
        self, area: S7Area, db_number: int, start: int, count: int
    ) -> tuple[int, bytearray]:
        sim_area = _SIM_AREAS.get(area)
        if self._before_read is not None and sim_area is not None:
            try:
                self._before_read(sim_area, db_number if sim_area == "db" else 0)
            except Exception:  # the read is still answered, with the values last written
                log.exception("S7 PLC: refreshing %s %d before a read failed", sim_area, db_number)
        return super()._read_from_memory_area(area, db_number, start, count)


class S7Sim:
    """One simulated S7 PLC on ``host:port`` (port 0: a free one, kept across restarts)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, max_clients: int = 8) -> None:
        self.host = host
        self.port = port
        self.max_clients = max_clients
        #: Called from a client's thread before each read is answered (see the module doc).
        self.before_read: BeforeRead | None = None
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
            server = _Server(self.before_read, self.max_clients)
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
