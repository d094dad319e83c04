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

Each protocol's implementation is imported when the first device of that protocol is built
(:data:`SOURCE_BUILDERS`): an agent with only Modbus devices never imports asyncua, one with
only OPC UA devices never imports pymodbus. ``tests/agent/sources/test_lazy_imports.py`` runs
such agents in child processes and checks their ``sys.modules``.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, cast

from agent.config import DeviceConfig, ModbusRtuDeviceConfig, ModbusTcpDeviceConfig
from agent.errors import UnsupportedProtocolError
from agent.sources.base import Reading, Source
from contract.clock import Clock, WallClock

if TYPE_CHECKING:  # annotations only: pymodbus is imported when a shared link is built
    from agent.sources.modbus import RtuLink, TcpLink

__all__ = ["SOURCE_BUILDERS", "SharedLinkSource", "SourceBuilder", "SourceFactory", "make_source"]

#: ``builder(device, clock)``: a protocol's source for one device, not yet connected.
SourceBuilder = Callable[[DeviceConfig, Clock | None], Source]

#: Each protocol's builder as ``"module:function"``, imported on first use. A new protocol joins
#: with one entry (its ``protocol`` value and its builder). Modbus RTU is not here: the devices
#: of one serial line share one source (:class:`SharedLinkSource`).
SOURCE_BUILDERS: dict[str, str] = {
    "modbus_tcp": "agent.sources.modbus.configured:tcp_source",
    "opcua": "agent.sources.opcua.configured:opcua_source",
    "s7": "agent.sources.s7:s7_source",
}

_PARITY: dict[str, Literal["N", "E", "O"]] = {"none": "N", "even": "E", "odd": "O"}


def _builder(device: DeviceConfig) -> SourceBuilder:
    """The builder for the device's protocol, its module imported now if it was not yet."""
    target = SOURCE_BUILDERS.get(device.protocol)
    if target is None:
        raise UnsupportedProtocolError(device.id, device.protocol)
    module, _, name = target.partition(":")
    builder = getattr(importlib.import_module(module), name)
    if not callable(builder):
        raise TypeError(f"source builder {target} for {device.protocol} is not callable")
    return cast(SourceBuilder, builder)


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
        if isinstance(device, _SharingDevice) and _shares_link(device):
            return self._shared_line(device).view(device)
        return _builder(device)(device, self.clock)

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


class _SharedLink:
    """One shared link (a serial line or a TCP gateway): its devices and, once the first view
    reads, one source for all."""

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
            # Imported here, like SOURCE_BUILDERS' modules, only when a shared link is used.
            from agent.sources.modbus import ModbusSource
            from agent.sources.modbus.configured import connection_for, points_of

            devices = list(self.devices.values())
            points = [p for d in devices for p in points_of(d, f"{d.id}\x1f")]
            self._source = ModbusSource(
                f"line {_link_key(self.first)}",
                connection_for(devices, _shared_link(self.first)),
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
    from agent.sources.modbus import RtuLink, TcpLink

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
    return reading._replace(tag=tag)


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
