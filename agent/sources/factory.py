"""Choosing the source implementation for a configured device.

The one place that maps a device's ``protocol`` to a :class:`~agent.sources.base.Source`;
``check-config`` and ``run`` both go through :func:`make_source`.
"""

from __future__ import annotations

from agent.config import DeviceConfig
from agent.errors import UnsupportedProtocolError
from agent.sources.base import Source

__all__ = ["make_source"]


def make_source(device: DeviceConfig) -> Source:
    """A source for ``device``, not yet connected.

    Raises UnsupportedProtocolError while the device's protocol has no source wired in.
    """
    # The Modbus and OPC UA sources are wired in here once they land; until then every protocol
    # reports itself as unsupported rather than failing obscurely later.
    raise UnsupportedProtocolError(device.id, device.protocol)
