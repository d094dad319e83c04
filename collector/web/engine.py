"""Running the evidence engine from the web app: build the document, write the bundle, store it.

The engine and the bundle writer are the evidence library's (``collector.evidence``); this
module only calls them and files the bundle in the :class:`BundleStore`, so a bundle made
here is byte for byte the one ``retrofit-collector evidence`` writes from the same data.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from pathlib import Path
from typing import Any

from collector.evidence.document import EnterpriseEvidence
from collector.registry import Registry
from collector.store import InfluxStore
from collector.web.bundles import BundleInfo, BundleStore

__all__ = ["EngineUnavailable", "run_enterprise_evidence"]

log = logging.getLogger(__name__)


class EngineUnavailable(Exception):
    """This build has no evidence engine entry points (``build_enterprise_evidence``)."""


def _entry_points() -> tuple[Any, Any]:
    module = importlib.import_module("collector.evidence")
    build = getattr(module, "build_enterprise_evidence", None)
    write = getattr(module, "write_enterprise_bundle", None)
    if build is None or write is None:
        raise EngineUnavailable(
            "this build of retrofit-verify has no evidence engine entry points "
            "(collector.evidence.build_enterprise_evidence / write_enterprise_bundle)"
        )
    return build, write


async def run_enterprise_evidence(
    registry: Registry, store: InfluxStore, bundles: BundleStore, enterprise_id: str, seed: int
) -> BundleInfo:
    """Build the enterprise's evidence now and store its bundle; return the stored bundle.

    Raises EngineUnavailable, and whatever the engine raises (EvidenceError, StoreError, ...).
    """
    build, write = _entry_points()
    built = build(registry, store, enterprise_id, seed=seed)
    document: EnterpriseEvidence = await built if inspect.isawaitable(built) else built

    def write_bundle(folder: Path) -> None:
        write(document, folder)

    info = await asyncio.to_thread(bundles.store, enterprise_id, write_bundle)
    log.info("evidence for %s: bundle %s (%s)", enterprise_id, info.bundle_id, document.status)
    return info
