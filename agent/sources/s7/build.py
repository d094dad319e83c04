"""An :class:`S7Source` from an ``s7`` device of the agent's configuration."""

from __future__ import annotations

from agent.config import S7DeviceConfig
from contract.clock import Clock

from .points import S7DataType, S7MemoryArea, S7Point
from .settings import S7Connection, S7ConnectionType
from .source import S7Source

__all__ = ["s7_source"]

_CONNECTION_TYPES = {
    "pg": S7ConnectionType.PG,
    "op": S7ConnectionType.OP,
    "basic": S7ConnectionType.BASIC,
}


def s7_source(device: S7DeviceConfig, clock: Clock | None = None) -> S7Source:
    """The source for ``device``, not yet connected."""
    connection = S7Connection(
        host=device.host,
        port=device.port,
        rack=device.rack,
        slot=device.slot,
        connection_type=_CONNECTION_TYPES[device.connection_type],
        pdu_size=device.pdu_size_bytes,
        max_gap=device.max_gap_bytes,
        timeout_s=device.timeout_s,
    )
    points = [
        S7Point(
            tag=name,
            area=S7MemoryArea(tag.area),
            db=tag.db or 0,
            start=tag.byte,
            data_type=S7DataType(tag.data_type),
            bit=tag.bit,
            length=tag.length,
            scale=tag.scale,
            offset=tag.offset,
        )
        for name, tag in device.tags.items()
    ]
    return S7Source(device.id, connection, points, clock=clock)
