"""The S7 half of ``agent_poll.py``: the agent's S7 source against a bare snap7 loop.

Both read the simulator's S7 machines (one 50-byte data block each, docs/simulator.md) from
the same python-snap7 server in the simulator's process, one connection per device, every
device polled concurrently and back to back. 13 tags per device: state, five status bits,
three counters, energy, power, cycle time and the machine id string.

- ours: ``agent.sources.s7.S7Source`` built by ``SourceFactory`` from the validated device
  config; counts good readings (decoded, scaled, stamped); its plan is one read per poll;
- limit: a bare ``snap7.async_client.AsyncClient`` reading the same 50 bytes in a loop;
  tags/s = answered reads/s x 13 (no decoding).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from snap7.async_client import AsyncClient

from agent.config import S7DeviceConfig
from agent.sources.base import Source
from agent.sources.factory import SourceFactory
from agent.sources.s7 import S7Source

__all__ = ["S7_DEVICES", "S7Bench"]

#: The simulator's S7 PLC serves eight connections at most, as a small CPU does.
S7_DEVICES = 4
BLOCK_BYTES = 50
Loop = Callable[[Callable[[], bool]], Awaitable[tuple[int, int]]]


def s7_device_config(n: int, db: int, host: str, port: int) -> dict[str, Any]:
    """Device ``n``'s 13 tags over its machine's data block."""
    block = {"area": "db", "db": db}
    tags: dict[str, dict[str, Any]] = {
        "state": {"role": "state", **block, "byte": 0, "data_type": "int",
                  "state_map": {0: "off", 1: "running", 2: "idle", 3: "down", 4: "planned_stop"}},
        "total": {"role": "total_count", **block, "byte": 4, "data_type": "dword", "width": 32},
        "rejects": {"role": "reject_count", **block, "byte": 8, "data_type": "dword",
                    "width": 32},
        "good": {**block, "byte": 12, "data_type": "dword"},
        "energy": {"role": "energy_kwh", **block, "byte": 16, "data_type": "lreal"},
        "power": {"role": "power_kw", **block, "byte": 24, "data_type": "real"},
        "cycle_time": {"role": "cycle_time_s", **block, "byte": 28, "data_type": "real"},
        "machine_id": {**block, "byte": 32, "data_type": "string", "length": 16},
    }  # fmt: skip
    for bit in range(5):
        tags[f"status_{bit}"] = {**block, "byte": 2, "bit": bit, "data_type": "bool"}
    return {"id": f"s7-{n:02d}", "protocol": "s7", "host": host, "port": port,
            "connection_type": "op", "timeout_s": 1.0, "tags": tags}  # fmt: skip


class S7Bench:
    """The agent's S7 sources and bare snap7 clients on one simulated PLC, connected once."""

    def __init__(self, host: str, port: int, first_db: int) -> None:
        self.host, self.port = host, port
        self.dbs = [first_db + n for n in range(S7_DEVICES)]
        configs = [
            S7DeviceConfig.model_validate(s7_device_config(n + 1, db, host, port))
            for n, db in enumerate(self.dbs)
        ]
        self.tags_per_device = len(configs[0].tags)
        factory = SourceFactory()
        self.sources = [factory.make(config) for config in configs]
        self.clients = [AsyncClient() for _ in configs]

    async def connect(self) -> None:
        """Open every connection (the PLC serves 8: 4 sources and 4 bare clients)."""
        for source, client in zip(self.sources, self.clients, strict=True):
            await source.connect()
            client.set_connection_type(2)
            await client.connect(self.host, 0, 1, self.port)
            await source.read()

    async def close(self) -> None:
        """Close every connection."""
        for source, client in zip(self.sources, self.clients, strict=True):
            await source.close()
            await client.disconnect()

    def plan_summary(self) -> str:
        """What one poll of the first device sends."""
        source = self.sources[0]
        if not isinstance(source, S7Source):
            raise TypeError(f"expected an S7Source, got {type(source).__name__}")
        return f"{', '.join(r.describe() for r in source.plan)} (PDU {source.pdu_size})"

    def loops(self, name: str, source_loop: Callable[[Source], Loop]) -> list[Loop]:
        """The per-device loops of phase ``name``: ``s7_ours`` (each source through
        ``source_loop``, the Modbus phase's own) or ``s7_bare``."""
        if name == "s7_ours":
            return [source_loop(source) for source in self.sources]
        pairs = zip(self.clients, self.dbs, strict=True)
        return [_bare_loop(client, db, self.tags_per_device) for client, db in pairs]


def _bare_loop(client: AsyncClient, db: int, tags: int) -> Loop:
    async def loop(going: Callable[[], bool]) -> tuple[int, int]:
        good = 0
        while going():
            data = await client.db_read(db, 0, BLOCK_BYTES)
            good += tags if len(data) == BLOCK_BYTES else 0
        return good, 0

    return loop
