"""retrofit-verify edge agent: device sources, KPI windows, outbox, signed publishing.

Importing this package has no side effects and pulls in no device or server library; the wire
contract lives in :mod:`agent.wire` and is imported by the collector too.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
