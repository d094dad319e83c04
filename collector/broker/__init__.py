"""The MQTT broker's files that the registry decides: mosquitto's access list.

Pure: registry entries in, file text out; ``retrofit-collector broker acl`` writes them.
May import ``contract`` and the registry's records, nothing that opens a connection.
"""

from collector.broker.acl import acl_text

__all__ = ["acl_text"]
