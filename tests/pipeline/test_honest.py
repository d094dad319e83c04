"""The honest pipeline: every evidence day sealed, checked equal, bundled and verified.

The run (tests/pipeline/harness.py) measures the reporting period's last days and imports two
baseline days from an MES; it carries §4 A's faults: an agent SIGKILLed across midnight,
the broker down across another, an MES import into a sealed day. Afterwards each seal is what
the collector stored (its check rebuilt the Merkle root from the raw windows in InfluxDB and
found it equal), the re-sealed day has its version 2, and the verifier, a subprocess with the
reviewer's plan and the pinned bundle key, says ``verified``.
"""

from __future__ import annotations

import json

import pytest

from collector.proof import read_day_seals
from tests.pipeline.harness import PLATFORM, Pipeline, expected_rows

pytestmark = pytest.mark.timeout(600)


def test_the_platform_bundle_verifies_with_the_pinned_key(pipeline: Pipeline) -> None:
    run = pipeline.verify(pipeline.bundles)
    assert run.exit_code == 0, run.output
    reports = {report["enterprise"]: report for report in run.reports()}
    assert {e.id for e in pipeline.enterprises} | {PLATFORM} <= set(reports)
    assert all(r["result"] == "verified" and r["findings"] == [] for r in reports.values())


def test_each_device_day_is_sealed_and_checked_equal(pipeline: Pipeline) -> None:
    for enterprise in pipeline.enterprises:
        checks = pipeline.checks[enterprise.id]
        got = {(c.device, c.day, c.provenance): c for c in checks}
        assert set(got) == expected_rows(enterprise)
        for check in got.values():
            assert check.outcome == "sealed_equal", check
            assert check.agent_id == enterprise.agent_id and check.seal_sha256 is not None


def test_the_bundle_carries_a_seal_of_every_device_day_of_its_evidence(
    pipeline: Pipeline,
) -> None:
    for enterprise in pipeline.enterprises:
        folder = pipeline.bundles / enterprise.id
        evidence = json.loads((folder / "evidence.json").read_bytes())
        rows = {
            (r["agent"], r["device"], r["day"], r["provenance"]) for r in evidence["device_days"]
        }
        expected = {(d, day.isoformat(), p) for d, day, p in expected_rows(enterprise)}
        assert {(d, day, p) for _, d, day, p in rows} == expected
        sealed = {
            (line.seal.agent, line.seal.device, line.seal.day.isoformat(), part.provenance)
            for line in read_day_seals((folder / "day-seals.jsonl").read_bytes())
            for part in line.seal.parts
        }
        assert rows <= sealed, rows - sealed
