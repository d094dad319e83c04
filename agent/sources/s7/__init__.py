"""Siemens S7 source (ISO-on-TCP through python-snap7): points, read coalescing, decoding.

``points`` (where a value lives), ``settings`` (how to reach the PLC), ``coalesce`` (which reads
go on the wire), ``decode`` (bytes to values), ``reasons`` (why a value is bad) and ``source``
(the :class:`~agent.sources.base.Source` implementation). Imported only when a configuration
has an S7 device.
"""

from .build import s7_source
from .coalesce import READ_OVERHEAD_BYTES, S7ReadRequest, max_read_bytes, plan_reads, split_read
from .decode import S7Decoded, decode_point
from .points import S7DataType, S7MemoryArea, S7Point
from .reasons import connect_reason, read_reason
from .settings import S7Connection, S7ConnectionType
from .source import S7Source

__all__ = [
    "READ_OVERHEAD_BYTES",
    "S7Connection",
    "S7ConnectionType",
    "S7DataType",
    "S7Decoded",
    "S7MemoryArea",
    "S7Point",
    "S7ReadRequest",
    "S7Source",
    "connect_reason",
    "decode_point",
    "max_read_bytes",
    "plan_reads",
    "read_reason",
    "s7_source",
    "split_read",
]
