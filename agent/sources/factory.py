"""Choosing the source implementation for a configured device.

The one place that maps a device's ``protocol`` to a :class:`~agent.sources.base.Source`;
``check-config`` and ``run`` both go through :func:`make_source`.
"""

from __future__ import annotations

from agent.config import DeviceConfig, OpcUaDeviceConfig
from agent.errors import UnsupportedProtocolError
from agent.sources.base import Source

__all__ = ["make_source"]


def make_source(device: DeviceConfig) -> Source:
    """A source for ``device``, not yet connected.

    Raises UnsupportedProtocolError while the device's protocol has no source wired in.
    """
    if isinstance(device, OpcUaDeviceConfig):
        # Imported here so that a gateway reading only Modbus never imports asyncua.
        from agent.sources.opcua import OpcUaSource

        return OpcUaSource(device)
    # The Modbus source is wired in here once it lands; until then other protocols report
    # themselves as unsupported rather than failing obscurely later.
    raise UnsupportedProtocolError(device.id, device.protocol)
