"""Package faces whose heavy names are imported on first use (PEP 562).

A package whose light part others must be able to import alone (``collector.config`` loads the
ingest's and the registry's settings) names its heavy members in a table and hands the
module-level ``__getattr__`` and ``__dir__`` to :func:`lazy_face`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence

__all__ = ["lazy_face"]


def lazy_face(
    package: str,
    lazy: Mapping[str, str],
    namespace: MutableMapping[str, object],
    exported: Sequence[str],
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``lazy`` maps each name to its module."""

    def getattr_(name: str) -> object:
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value: object = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(exported))

    return getattr_, dir_
