"""Modbus TCP/RTU source: points, read coalescing, decoding and the polling source.

``points`` (where a tag lives), ``settings`` (how to reach the device), ``plan`` (which reads go on
the wire), ``decode`` (words to values), ``reasons`` (why a value is bad), ``backoff`` and
``source`` (the :class:`~agent.sources.base.Source` implementation).
"""

from .coalesce import ReadRequest, plan_reads, split_request
from .decode import Decoded, decode_bit, decode_registers, registers_to_bytes
from .points import ByteOrder, DataType, ModbusPoint, RegisterType, WordOrder
from .reasons import connect_failure, exception_reason
from .settings import ModbusConnection, RtuLink, TcpLink
from .source import ModbusSource

__all__ = [
    "ByteOrder",
    "DataType",
    "Decoded",
    "ModbusConnection",
    "ModbusPoint",
    "ModbusSource",
    "ReadRequest",
    "RegisterType",
    "RtuLink",
    "TcpLink",
    "WordOrder",
    "connect_failure",
    "decode_bit",
    "decode_registers",
    "exception_reason",
    "plan_reads",
    "registers_to_bytes",
    "split_request",
]
