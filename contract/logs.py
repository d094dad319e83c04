"""Logging for the command-line entry points: one line per event, library noise kept down."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]

#: Libraries that log every timeout or dropped connection themselves (pymodbus an ERROR per
#: timeout, asyncua a traceback when a server stops), or every request (httpx at INFO). Our
#: code logs one line per change of state, so without --verbose these are held to a level.
NOISY_LIBRARIES = {
    "pymodbus": logging.CRITICAL,
    "asyncua": logging.CRITICAL,
    "httpx": logging.WARNING,
    # python-snap7 logs INFO lines for every client made and every disconnect: three lines per
    # reconnect attempt while a PLC is away.
    "snap7": logging.WARNING,
}


def configure_logging(verbose: bool) -> None:
    """Log to stderr at INFO (DEBUG with ``verbose``), timestamped, one line per record."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for name, level in NOISY_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else level)
