"""§4 B on the pipeline's own bundle: each tamper named by the verifier, none ``verified``.

The attacker holds what a collector operator holds: the bundle, the collector's bundle key (or
a new one), InfluxDB. Each tamper works on a copy of ent-01's bundle (or, for the InfluxDB
edit, on a bundle built again after the edit) with tests/collector/verify/forge.py's tools,
and the verifier runs as a subprocess with the reviewer's plan, pinned to the bundle key the
operator published.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.proof import fingerprint
from collector.registry import Registry
from contract import days, keys, wire
from tests.collector.store_helpers import open_store
from tests.collector.verify.forge import edit_evidence, remanifest, resign_chains, rewrite_seals
from tests.collector.web.serving import serving
from tests.pipeline.harness import PLATFORM, WHOLE_DAYS, ZONE_NAME, Pipeline, VerifierRun

pytestmark = pytest.mark.timeout(600)

ENTERPRISE = "ent-01"
AGENT = "ent-01-gw1"
DEVICE = "ent-01-press"
DAY = WHOLE_DAYS[1].isoformat()


@pytest.fixture
def bundle(pipeline: Pipeline, tmp_path: Path) -> Path:
    """A copy of ent-01's honest bundle, for one test to tamper with."""
    return Path(shutil.copytree(pipeline.bundles / ENTERPRISE, tmp_path / ENTERPRISE))


def _collector_key(pipeline: Pipeline) -> Ed25519PrivateKey:
    path = Path(pipeline.collector_config["bundle"]["signing_key_path"])
    return keys.load_private_key(path, create_with="retrofit-collector bundle-key generate")


def _device_day(tree: dict[str, Any], device: str, day: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = tree["device_days"]
    return next(r for r in rows if r["device"] == device and r["day"] == day)


def _found(run: VerifierRun, code: str, **where: Any) -> list[dict[str, Any]]:
    assert run.exit_code == 1, run.output
    assert all(report["result"] != "verified" for report in run.reports())
    return [
        f
        for f in run.findings()
        if f["code"] == code and all(f[key] == value for key, value in where.items())
    ]


def test_an_edited_number_in_evidence_json_is_named_with_both_values(
    pipeline: Pipeline, bundle: Path
) -> None:
    honest: dict[str, Any] = {}

    def edit(tree: dict[str, Any]) -> None:
        row = _device_day(tree, DEVICE, DAY)
        honest.update(row)
        row["total_count"] += 50

    edit_evidence(bundle, edit)
    remanifest(bundle, _collector_key(pipeline))
    run = pipeline.verify(bundle)
    [finding] = _found(run, "device_day_differs", device=DEVICE, day=DAY, field="total_count")
    assert (finding["enterprise"], finding["agent"]) == (ENTERPRISE, AGENT)
    assert finding["bundle_value"] == honest["total_count"] + 50
    assert finding["expected_value"] == honest["total_count"]


def test_a_dropped_device_day_is_named(pipeline: Pipeline, bundle: Path) -> None:
    edit_evidence(bundle, lambda tree: tree["device_days"].remove(_device_day(tree, DEVICE, DAY)))
    remanifest(bundle, _collector_key(pipeline))
    run = pipeline.verify(bundle)
    [missing] = _found(run, "sealed_day_missing", device=DEVICE, day=DAY)
    assert (missing["agent"], missing["field"]) == (AGENT, "provenance measured")


def test_a_device_day_without_a_seal_is_named(pipeline: Pipeline, bundle: Path) -> None:
    def add(tree: dict[str, Any]) -> None:
        tree["device_days"].append(dict(_device_day(tree, DEVICE, DAY), provenance="imported"))

    edit_evidence(bundle, add)
    remanifest(bundle, _collector_key(pipeline))
    run = pipeline.verify(bundle)
    [unsealed] = _found(run, "device_day_unsealed", device=DEVICE, day=DAY)
    assert (unsealed["agent"], unsealed["field"]) == (AGENT, "provenance imported")


def test_an_agent_key_replaced_and_everything_re_signed_is_caught(
    pipeline: Pipeline, bundle: Path
) -> None:
    new_agent, new_collector = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    new_text = wire.public_key_text(new_agent.public_key())
    keys_path = bundle / "agent-keys.json"
    registered = json.loads(keys_path.read_bytes())
    old_text = next(a["public_key"] for a in registered["agents"] if a["agent"] == AGENT)
    keys_path.write_bytes(keys_path.read_bytes().replace(old_text.encode(), new_text.encode()))
    rewrite_seals(bundle, lambda lines: resign_chains(lines, new_agent))
    remanifest(bundle, new_collector)

    pinned = pipeline.verify(bundle)  # pinned to the bundle key the operator published
    [mismatch] = _found(pinned, "collector_key_mismatch")
    assert fingerprint(new_collector.public_key()) in str(mismatch["bundle_value"])
    # The plan's keys are the trust root: even pinned to the new collector key, every seal
    # fails under the agent's registered key, whatever agent-keys.json now says.
    repinned = pipeline.verify(bundle, collector_key=fingerprint(new_collector.public_key()))
    bad = _found(repinned, "seal_bad_signature", agent=AGENT)
    sealed = len((bundle / "day-seals.jsonl").read_bytes().splitlines())
    assert len(bad) == sealed and all(new_text in f["detail"] for f in bad)
    assert not _found(repinned, "collector_key_mismatch")


@pytest.fixture
def edited_run_s(pipeline: Pipeline) -> Iterator[tuple[float, float]]:
    """ent-01-press's ``run_s`` on :data:`DAY` raised by 1,800 s in InfluxDB's ``kpi_daily``
    by line protocol, as whoever runs InfluxDB could; (stored before, after). Put back after."""
    midnight = days.day_bounds(dt.date.fromisoformat(DAY), days.zone(ZONE_NAME))[0]
    time_ms = int(midnight.timestamp() * 1000)
    rows = pipeline.influx.query_rows(
        "rv",
        f'SELECT run_s FROM "rv"."rollup"."kpi_daily" WHERE device = \'{DEVICE}\' '  # noqa: S608
        f"AND provenance = 'measured' AND time = {time_ms}ms",
        epoch="ms",
    )
    [row] = rows
    stored = float(row["run_s"])

    def write(run_s: float) -> None:
        line = (
            f"kpi_daily,agent={AGENT},device={DEVICE},enterprise={ENTERPRISE},platform={PLATFORM},"
            f"provenance=measured run_s={run_s!r} {time_ms}"
        )

        async def put() -> None:
            async with open_store(pipeline.influx) as store:
                await store.write_lines([line], retention_policy="rollup")

        asyncio.run(put())

    write(stored + 1800.0)
    try:
        yield stored, stored + 1800.0
    finally:
        write(stored)


def test_a_kpi_daily_field_edited_in_influxdb_is_named_by_the_bundle_the_web_app_and_the_verifier(
    pipeline: Pipeline, edited_run_s: tuple[float, float], tmp_path: Path
) -> None:
    stored, edited = edited_run_s
    out = tmp_path / "rebuilt"
    pipeline.evidence(out)
    evidence = json.loads((out / ENTERPRISE / "evidence.json").read_bytes())
    [flag] = [f for f in evidence["flags"] if f["check"] == "day_seal_differs"]
    assert (flag["device"], flag["days"]) == (DEVICE, [DAY])
    assert _device_day(evidence, DEVICE, DAY)["run_s"] == edited

    # The web app (a real `retrofit-collector serve`) names the device-day and the field.
    with Registry(pipeline.registry_path) as registry:
        registry.add_user("auditor", display_name="审核 auditor", role="admin", by="test")
        token = registry.issue_token("auditor", label="pipeline", by="test").text
    web = tmp_path / "web"
    web.mkdir()
    with serving(web, pipeline.collector_config) as url:
        answer = httpx.get(
            f"{url}/api/v1/enterprises/{ENTERPRISE}/day-checks",
            params={"outcome": "sealed_different"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["items"]
    assert (row["agent"], row["device"], row["day"], row["provenance"]) == (
        AGENT, DEVICE, DAY, "measured",
    )  # fmt: skip
    [difference] = row["differences"]
    assert difference["field"] == "run_s" and difference["stored"] == edited
    sealed = difference["sealed"]
    assert sealed == pytest.approx(stored)

    # The verifier, on the bundle built after the edit, names it with both values.
    run = pipeline.verify(out / ENTERPRISE)
    [finding] = _found(run, "device_day_differs", device=DEVICE, day=DAY, field="run_s")
    assert (finding["agent"], finding["bundle_value"]) == (AGENT, edited)
    assert finding["expected_value"] == pytest.approx(sealed, rel=1e-12)
