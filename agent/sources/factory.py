"""Choosing and building the source for each configured device.

The one place that maps a device's configuration to a :class:`~agent.sources.base.Source`;
``check-config``, ``probe`` and ``run`` all go through :class:`SourceFactory` (or
:func:`make_source` for a single device).

Devices on one RS-485 line (Modbus RTU, one ``serial_port``) share one link: a serial port can
be opened once, and the line carries one request at a time anyway. Each such device gets a
:class:`SharedLinkSource` view onto one :class:`~agent.sources.modbus.ModbusSource` that reads
every device of the line in one pass, at most once per tick, and hands each device its own tags.
Modbus TCP devices behind one gateway (same host and port) that set ``share_connection`` share
one TCP connection the same way: one request at a time, the strictest timing of them applying.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from agent.config import (
    DeviceConfig,
    ModbusRtuDeviceConfig,
    ModbusTcpDeviceConfig,
    OpcUaDeviceConfig,
    S7DeviceConfig,
)
from agent.errors import UnsupportedProtocolError
from agent.sources.base import Reading, Source
from agent.sources.modbus import (
    ByteOrder,
    DataType,
    ModbusConnection,
    ModbusPoint,
    ModbusSource,
    RegisterType,
    RtuLink,
    TcpLink,
    WordOrder,
)
from contract.clock import Clock, WallClock

__all__ = ["SharedLinkSource", "SourceFactory", "make_source"]

_PARITY: dict[str, Literal["N", "E", "O"]] = {"none": "N", "even": "E", "odd": "O"}


def make_source(device: DeviceConfig, clock: Clock | None = None) -> Source:
    """A source for one ``device``, not yet connected, stamping readings with ``clock``."""
    return SourceFactory(clock).make(device)


class SourceFactory:
    """Builds sources for the devices of one agent, sharing serial lines between them."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock
        self._lines: dict[str, _SharedLink] = {}

    def make(self, device: DeviceConfig) -> Source:
        """A source for ``device``; raises UnsupportedProtocolError for an unknown protocol."""
        if isinstance(device, OpcUaDeviceConfig):
            # Imported here so that a gateway reading only Modbus never imports asyncua.
            from agent.sources.opcua import OpcUaSource

            return OpcUaSource(device, self.clock)
        if isinstance(device, S7DeviceConfig):
            # Likewise: snap7 is imported only by a gateway that reads an S7 PLC.
            from agent.sources.s7 import s7_source

            return s7_source(device, self.clock)
        if isinstance(device, ModbusTcpDeviceConfig) and device.share_connection:
            return self._shared_line(device).view(device)
        if isinstance(device, ModbusTcpDeviceConfig):
            link = TcpLink(host=device.host, port=device.port)
            return ModbusSource(
                device.id, _connection([device], link), _points(device, ""), clock=self.clock
            )
        if isinstance(device, ModbusRtuDeviceConfig):
            return self._shared_line(device).view(device)
        raise UnsupportedProtocolError(device.id, device.protocol)

    def make_all(self, devices: Sequence[DeviceConfig]) -> list[Source]:
        """Sources for every device, serial lines shared; all lines built before any is used."""
        for device in devices:
            if isinstance(device, _SharingDevice) and _shares_link(device):
                self._line(device).add(device)
        return [self.make(device) for device in devices]

    def _line(self, device: _SharingDevice) -> _SharedLink:
        key = _link_key(device)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = _SharedLink(device, self.clock)
        return line

    def _shared_line(self, device: _SharingDevice) -> _SharedLink:
        line = self._line(device)
        line.add(device)
        return line


_SharingDevice = ModbusRtuDeviceConfig | ModbusTcpDeviceConfig


def _shares_link(device: _SharingDevice) -> bool:
    """Devices on a serial line, and TCP devices that asked to share their gateway's connection."""
    if isinstance(device, ModbusTcpDeviceConfig):
        return device.share_connection
    return True


def _link_key(device: _SharingDevice) -> str:
    if isinstance(device, ModbusTcpDeviceConfig):
        return f"tcp {device.host}:{device.port}"
    return device.serial_port


def _connection(
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


def _points(
    device: ModbusTcpDeviceConfig | ModbusRtuDeviceConfig, prefix: str
) -> list[ModbusPoint]:
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


class _SharedLink:
    """One serial line: the devices on it and, once the first view reads, one source for all."""

    def __init__(self, first: _SharingDevice, clock: Clock | None) -> None:
        self.first = first
        self.clock = clock
        self.devices: dict[str, _SharingDevice] = {}
        self._source: Source | None = None
        self._lock = asyncio.Lock()
        self._last: tuple[float, list[Reading]] | None = None
        self._users = 0

    def add(self, device: _SharingDevice) -> None:
        if self._source is not None and device.id not in self.devices:
            raise RuntimeError(f"link {_link_key(device)} already in use")
        self.devices[device.id] = device

    def view(self, device: _SharingDevice) -> SharedLinkSource:
        return SharedLinkSource(self, device.id, list(device.tags))

    def source(self) -> Source:
        if self._source is None:
            link = _shared_link(self.first)
            devices = list(self.devices.values())
            points = [p for d in devices for p in _points(d, f"{d.id}\x1f")]
            self._source = ModbusSource(
                f"line {_link_key(self.first)}",
                _connection(devices, link),
                points,
                clock=self.clock,
            )
        return self._source

    async def read_for(self, device_id: str, min_age_s: float) -> list[Reading]:
        """Latest readings of ``device_id``'s tags; a fresh pass over the line if too old.

        The age counts from when the last pass began to when this device asked, not to when it
        got the line: a device polled on the same tick waits for the whole pass, and a slow pass
        (a unit timing out, a slow line) must not make it send a second one.
        """
        clock = self.clock or WallClock()
        asked = clock.timestamp()
        async with self._lock:
            if self._last is None or asked - self._last[0] >= min_age_s:
                self._last = (clock.timestamp(), list(await self.source().read()))
            readings = self._last[1]
        prefix = f"{device_id}\x1f"
        return [
            _renamed(reading, reading.tag[len(prefix) :])
            for reading in readings
            if reading.tag.startswith(prefix)
        ]

    async def connect(self) -> None:
        async with self._lock:
            self._users += 1
            await self.source().connect()

    async def close(self) -> None:
        async with self._lock:
            self._users -= 1
            if self._users <= 0 and self._source is not None:
                await self._source.close()


def _shared_link(first: _SharingDevice) -> TcpLink | RtuLink:
    if isinstance(first, ModbusTcpDeviceConfig):
        return TcpLink(host=first.host, port=first.port)
    # check-config makes every device of a serial line agree on its settings
    return RtuLink(
        port=first.serial_port,
        baudrate=first.baudrate,
        parity=_PARITY[first.parity],
        stopbits=first.stop_bits,
        bytesize=first.byte_size,
    )


def _renamed(reading: Reading, tag: str) -> Reading:
    return replace(reading, tag=tag)


class SharedLinkSource:
    """One device's view of a shared serial line (see the module docstring)."""

    def __init__(self, line: _SharedLink, device_id: str, tags: list[str]) -> None:
        self.device_id = device_id
        self._line = line
        self._tags = tags
        # Devices polled on the same tick share one pass over the line (plant seconds).
        self._min_age_s = 0.5 * line.devices[device_id].poll_interval_s

    async def connect(self) -> None:
        await self._line.connect()

    async def read(self) -> Sequence[Reading]:
        return await self._line.read_for(self.device_id, self._min_age_s)

    async def close(self) -> None:
        await self._line.close()
