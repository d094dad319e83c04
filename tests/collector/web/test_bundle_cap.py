"""The bundle cap (collector/web/runs.py prune_bundles): old bundles go, cited ones stay."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from collector.bundle import BundleStore
from collector.web.directory import DirectoryCache
from collector.web.runs import prune_bundles
from tests.collector.web.documents import evidence_document, write_bundle
from tests.collector.web.world import build_world


def test_the_cap_deletes_the_oldest_uncited_bundles_and_keeps_every_cited_one(
    tmp_path: Path,
) -> None:
    world = build_world(tmp_path, None)
    try:
        ref = DirectoryCache(world.registry).current().enterprises["e07"]
        store = BundleStore(world.settings.evidence_dir)
        ids = []
        for age, (status, version) in enumerate(
            [("pass", 1), ("fail", 1), ("insufficient_data", 1), ("pass", 2), ("fail", 2)]
        ):
            document = evidence_document(ref, status, plan_version=version)
            info = store.store("e07", functools.partial(write_bundle, document))
            stamp = 1_700_000_000 + age * 60  # oldest first, a minute apart
            os.utime(store.root / "e07" / info.bundle_id / "manifest.json", (stamp, stamp))
            ids.append(info.bundle_id)
        assert len(set(ids)) == 5
        oldest, second = ids[0], ids[1]
        world.registry.record_decision(
            platform="plat-a",
            enterprise="e07",
            bundle_sha256=oldest,
            evidence_status="pass",
            outcome="rectify",
            comment="整改后复核",
            by="rev-nb",
        )
        removed = prune_bundles(world.registry, store, "e07", ids[-1], keep=2)
        assert sorted(removed) == sorted(ids[1:3])
        kept = {b.bundle_id for b in store.bundles("e07")}
        assert kept == {oldest, ids[3], ids[4]}  # the cited one survives the cap
        assert store.load("e07", oldest) is not None
        assert second not in kept
    finally:
        world.registry.close()
