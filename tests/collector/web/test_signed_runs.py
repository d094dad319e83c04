"""An evidence run of the web app signs its bundle with the collector's key, and the API
serves ``bundle-signature.json`` like the manifest: checked, verifiable by a reviewer."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from collector.proof import fingerprint, verify_manifest_signature
from collector.web.app import create_app
from tests.collector.web.world import World, build_world

KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"web bundle key").digest())


def test_an_evidence_run_signs_its_bundle_and_the_api_serves_the_signature(
    tmp_path: Path, world: World
) -> None:
    # A world of this test's own (its runs and slots), reading the session's influxd.
    own = build_world(tmp_path, None)
    own.read_influx_of(world)
    if own.influx_url is None:
        raise AssertionError("the session's world has an influxd")
    try:
        app = create_app(own.settings, own.registry, own.influx_opener(), bundle_signer=KEY)
        with TestClient(app, base_url="http://testserver") as client:
            run = client.post("/api/v1/enterprises/e05/evidence", headers=own.headers("admin"))
            assert run.status_code == 201, run.text
            files = f"/api/v1/enterprises/e05/evidence/{run.json()['bundle_id']}/files/"
            signature = client.get(files + "bundle-signature.json", headers=own.headers("admin"))
            manifest = client.get(files + "manifest.json", headers=own.headers("admin"))
    finally:
        own.registry.close()
    assert signature.status_code == 200, signature.text
    assert signature.headers["content-type"] == "application/json"
    checked = verify_manifest_signature(signature.content, manifest.content)
    assert checked.fingerprint == fingerprint(KEY.public_key())
    assert (checked.kind, checked.enterprise) == ("enterprise", "e05")
    assert checked.manifest_sha256 == run.json()["bundle_id"]
