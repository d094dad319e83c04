"""Modbus sources from the agent's configuration: points, link settings and the TCP builder.

Imported by :mod:`agent.sources.factory` only when the configuration has a Modbus device, so
an agent reading only OPC UA (or another protocol) never imports pymodbus.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.config import DeviceConfig, ModbusRtuDeviceConfig, ModbusTcpDeviceConfig
from agent.sources.base import Source
from contract.clock import Clock

from .points import ByteOrder, DataType, ModbusPoint, RegisterType, WordOrder
from .settings import ModbusConnection, RtuLink, TcpLink
from .source import ModbusSource

__all__ = ["connection_for", "points_of", "tcp_source"]


def tcp_source(device: DeviceConfig, clock: Clock | None) -> Source:
    """The source of one ``modbus_tcp`` device (its own connection), not yet connected."""
    if not isinstance(device, ModbusTcpDeviceConfig):
        raise TypeError(f"device {device.id}: not a modbus_tcp device ({device.protocol})")
    link = TcpLink(host=device.host, port=device.port)
    return ModbusSource(
        device.id, connection_for([device], link), points_of(device, ""), clock=clock
    )


def connection_for(
    devices: Sequence[ModbusTcpDeviceConfig | ModbusRtuDeviceConfig], link: TcpLink | RtuLink
) -> ModbusConnection:
    """Timing and read limits for a link; on a shared line the strictest device's apply."""
    return ModbusConnection(
        link=link,
        timeout_s=max(d.timeout_s for d in devices),
        retries=max(d.retries for d in devices),
        max_read_registers=min(d.max_read_registers for d in devices),
        max_read_bits=min(d.max_read_bits for d in devices),
        max_gap=min(d.max_gap for d in devices),
        pause_after_connect_s=max(d.pause_after_connect_s for d in devices),
        min_request_gap_s=max(d.min_request_gap_s for d in devices),
    )


def points_of(
    device: ModbusTcpDeviceConfig | ModbusRtuDeviceConfig, prefix: str
) -> list[ModbusPoint]:
    """The device's tags as points, each tag name prefixed with ``prefix``."""
    return [
        ModbusPoint(
            tag=prefix + name,
            register_type=RegisterType(tag.register_type),
            address=tag.address,
            data_type=DataType(tag.data_type),
            unit_id=device.unit_of(tag),
            bit_index=tag.bit,
            string_registers=tag.length,
            byte_order=ByteOrder(tag.byte_order),
            word_order=WordOrder(tag.word_order),
            scale=tag.scale,
            offset=tag.offset,
        )
        for name, tag in device.tags.items()
    ]
