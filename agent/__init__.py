"""retrofit-verify edge agent: device sources, KPI windows, outbox, signed publishing.

Importing this package has no side effects and pulls in no device or server library. What the
agent shares with the collector (the wire contract, configuration files, clocks) is the
:mod:`contract` package's; the agent never imports the collector.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
