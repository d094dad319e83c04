"""Logging for the command-line entry points: one line per event, library noise kept down."""

from __future__ import annotations

import logging

__all__ = ["configure_logging"]

#: Libraries that log every timeout or dropped connection themselves (pymodbus an ERROR per
#: timeout, asyncua a traceback when a server stops). Our sources turn those faults into
#: bad readings and log one line per change of state, so without --verbose these are muted.
NOISY_LIBRARIES = ("pymodbus", "asyncua")


def configure_logging(verbose: bool) -> None:
    """Log to stderr at INFO (DEBUG with ``verbose``), timestamped, one line per record."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL)
