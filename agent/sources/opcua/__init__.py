"""OPC UA source: session and node lookup, status codes to quality, the supervised source.

``session`` (client, security, login, node ids and browse paths), ``values`` (data values to
samples), ``backoff`` and ``source`` (the :class:`~agent.sources.base.Source` implementation).
"""

from .session import NodeLookup, application_uri_of, new_client, resolve
from .source import CLOSED, CONNECTION_LOST, NOT_CONNECTED, OpcUaSource, describe
from .values import Sample, quality_of, sample_from_data_value, scaled_value

__all__ = [
    "CLOSED",
    "CONNECTION_LOST",
    "NOT_CONNECTED",
    "NodeLookup",
    "OpcUaSource",
    "Sample",
    "application_uri_of",
    "describe",
    "new_client",
    "quality_of",
    "resolve",
    "sample_from_data_value",
    "scaled_value",
]
