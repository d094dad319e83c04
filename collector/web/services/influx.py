"""The app's InfluxDB client for a request: there, or a 503 that says none is configured."""

from __future__ import annotations

from collector.store import InfluxStore
from collector.web.problems import Problem
from collector.web.state import WebState

__all__ = ["influx_store"]


def influx_store(state: WebState) -> InfluxStore:
    """The app's InfluxDB client; Problem 503 if the app has none (no ``influx:`` section)."""
    if state.store is None:
        raise Problem(503, "no InfluxDB is configured for this app (influx: in the config)")
    return state.store
