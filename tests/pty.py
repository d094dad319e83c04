"""The software null modem for Modbus RTU tests: now ``sim.pty`` (the simulator's
``--rtu-pty`` uses it too); re-exported here for the tests that import it from this place."""

from __future__ import annotations

from sim.pty import relay

__all__ = ["relay"]
