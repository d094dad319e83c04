"""Errors of the bundle step.

::

    CollectorError (collector.errors)
    └── BundleError          a bundle cannot be written where asked (``retrofit-collector
                             evidence`` exits 3): a directory that is not empty and holds no
                             earlier bundle, a file that cannot be written

    Exception
    └── BundleDamaged        a stored bundle's files do not match its manifest, or the
                             manifest its id (:class:`collector.bundle.BundleStore`): the
                             bundle is left out of lists and never shown
"""

from __future__ import annotations

from collector.errors import CollectorError

__all__ = ["BundleDamaged", "BundleError"]


class BundleError(CollectorError):
    """The bundle cannot be written to the directory asked for; nothing more was written."""


class BundleDamaged(Exception):
    """A bundle's files do not match its manifest, or the manifest its id."""
