"""Errors of the bundle step.

::

    CollectorError (collector.errors)
    └── BundleError          a bundle cannot be written where asked (``retrofit-collector
                             evidence`` exits 3): a directory that is not empty and holds no
                             earlier bundle, a file that cannot be written
"""

from __future__ import annotations

from collector.errors import CollectorError

__all__ = ["BundleError"]


class BundleError(CollectorError):
    """The bundle cannot be written to the directory asked for; nothing more was written."""
