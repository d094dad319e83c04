"""The OPC UA source from the agent's configuration.

Imported by :mod:`agent.sources.factory` only when the configuration has an OPC UA device, so
an agent reading only Modbus never imports asyncua (about 20 MB of resident memory and a
second of start-up on a small gateway; bench/agent_footprint.py).
"""

from __future__ import annotations

from agent.config import DeviceConfig, OpcUaDeviceConfig
from agent.sources.base import Source
from contract.clock import Clock

from .source import OpcUaSource

__all__ = ["opcua_source"]


def opcua_source(device: DeviceConfig, clock: Clock | None) -> Source:
    """The source of one ``opcua`` device, not yet connected."""
    if not isinstance(device, OpcUaDeviceConfig):
        raise TypeError(f"device {device.id}: not an opcua device ({device.protocol})")
    return OpcUaSource(device, clock)
