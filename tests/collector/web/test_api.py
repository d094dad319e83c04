"""The API's behaviour: lists, details, KPI series, evidence, decisions, problems."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib

from fastapi.testclient import TestClient

from collector.bundle import BundleStore
from collector.web.directory import DirectoryCache
from tests.collector.web.documents import evidence_document, write_bundle
from tests.collector.web.world import ON_BOTH_REGISTRIES, World

pytestmark = ON_BOTH_REGISTRIES


def test_without_a_token_every_api_call_is_a_problem_401(client: TestClient) -> None:
    response = client.get("/api/v1/platforms")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthenticated")
    assert body["instance"] == "/api/v1/platforms"


def test_province_overview_counts_passes_by_review(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/provinces/330200", headers=world.headers("rev-nb"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [p["id"] for p in body["platforms"]] == ["plat-a", "plat-b"]
    plat_a = body["platforms"][0]
    assert (plat_a["enterprises"], plat_a["evidence_passed"], plat_a["minimum"]) == (10, 1, 10)


def test_kpi_series_comes_from_the_daily_rollups(client: TestClient, world: World) -> None:
    response = client.get(
        "/api/v1/enterprises/e01/kpis/availability",
        params={"from": "2026-03-01", "to": "2026-06-30"},
        headers=world.headers("eng-a"),
    )
    assert response.status_code == 200, response.text
    points = response.json()["points"]
    assert [(p["day"], p["place"]) for p in points][:1] == [("2026-03-02", "baseline")]
    values = {p["day"]: round(p["value"], 4) for p in points}
    # 8 windows of 3600 s planned with 2700 s (baseline) or 3060 s (reporting) running.
    assert values["2026-03-03"] == 0.75 and values["2026-06-03"] == 0.85


def test_a_range_too_long_or_reversed_is_422(client: TestClient, world: World) -> None:
    for params in (
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "2026-05-01", "to": "2026-04-01"},
    ):
        response = client.get(
            "/api/v1/enterprises/e01/coverage", params=params, headers=world.headers("admin")
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


def test_a_reviewer_records_a_decision_on_a_bundle_and_it_is_audited(
    client: TestClient, world: World
) -> None:
    bundle = world.bundles["e02"].bundle_id
    response = client.post(
        "/api/v1/enterprises/e02/decisions",
        json={
            "bundle_id": bundle,
            "outcome": "rectify",
            "comment": "报告期 OEE 提升不足，整改后复核",
        },
        headers=world.headers("rev-nb"),
    )
    assert response.status_code == 201, response.text
    decision = response.json()
    assert (decision["outcome"], decision["evidence_status"], decision["decided_by"]) == (
        "rectify",
        "fail",
        "rev-nb",
    )
    audit = client.get(
        "/api/v1/audit", params={"action": "decision.record"}, headers=world.headers("rev-nb")
    ).json()
    assert audit["items"][0]["subject"] == "plat-a/e02"
    assert audit["items"][0]["detail"]["bundle"] == bundle
    rect = client.get("/api/v1/enterprises/e02/rectifications", headers=world.headers("eng-a"))
    assert [d["id"] for d in rect.json()["requested"]] == [decision["id"]]


def test_mass_assignment_is_refused(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/enterprises/e01/decisions",
        json={
            "bundle_id": world.bundles["e01"].bundle_id,
            "outcome": "pass",
            "comment": "ok",
            "decided_by": "someone-else",
            "platform": "plat-b",
        },
        headers=world.headers("rev-nb"),
    )
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["errors"]} >= {
        ("body", "decided_by"),
        ("body", "platform"),
    }


def test_a_decision_on_another_enterprises_bundle_is_404(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/enterprises/e01/decisions",
        json={"bundle_id": world.bundles["b01"].bundle_id, "outcome": "pass", "comment": "x"},
        headers=world.headers("rev-nb"),
    )
    assert response.status_code == 404


def test_bundle_files_are_served_checked_and_a_changed_file_is_409(
    client: TestClient, world: World
) -> None:
    # A bundle of its own (c02): the others stay intact for the other tests.
    ref = DirectoryCache(world.registry).current().enterprises["c02"]
    document = evidence_document(ref, "fail")
    info = BundleStore(world.settings.evidence_dir).store(
        "c02", functools.partial(write_bundle, document)
    )
    base = f"/api/v1/enterprises/c02/evidence/{info.bundle_id}/files"
    listing = client.get(base, headers=world.headers("admin")).json()
    assert {f["name"] for f in listing} == {
        "evidence.json",
        "manifest.json",
        "report.en.html",
        "report.zh-CN.html",
    }
    report = client.get(base + "/report.en.html", headers=world.headers("admin"))
    assert report.status_code == 200 and "sandbox" in report.headers["content-security-policy"]
    manifest = client.get(base + "/manifest.json", headers=world.headers("admin")).content
    assert hashlib.sha256(manifest).hexdigest() == info.bundle_id
    path = world.settings.evidence_dir / "c02" / info.bundle_id / "report.en.html"
    path.write_bytes(path.read_bytes() + b"<!-- edited -->")
    changed = client.get(base + "/report.en.html", headers=world.headers("admin"))
    assert changed.status_code == 409 and changed.json()["type"].endswith("/damaged")


def test_pages_are_bounded(client: TestClient, world: World) -> None:
    too_many = client.get("/api/v1/audit", params={"limit": 201}, headers=world.headers("admin"))
    assert too_many.status_code == 422
    page = client.get(
        "/api/v1/fleet", params={"limit": 2, "offset": 1}, headers=world.headers("admin")
    ).json()
    assert (len(page["items"]), page["total"], page["offset"]) == (2, 30, 1)


def test_fleet_shows_online_offline_and_gaps(client: TestClient, world: World) -> None:
    agents = client.get(
        "/api/v1/fleet", params={"platform": "plat-a", "limit": 200}, headers=world.headers("eng-a")
    ).json()["items"]
    e01 = next(a for a in agents if a["agent_id"] == "e01-gw")
    assert (e01["state"], e01["outbox_depth"], e01["open_gaps"], e01["missing_seqs"]) == (
        "online",
        3,
        1,
        4,
    )
    last_window = dt.datetime.fromisoformat(e01["last_window_end"])
    assert dt.timedelta(0) < dt.datetime.now(dt.UTC) - last_window < dt.timedelta(hours=1)
    b01 = client.get("/api/v1/agents/b01-gw", headers=world.headers("eng-b")).json()
    assert b01["state"] == "offline"  # said online, but two hours ago


def test_an_oversized_body_is_413_before_the_handler(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/enterprises/e01/decisions",
        content=b'{"comment": "' + b"x" * 70_000 + b'"}',
        headers={**world.headers("rev-nb"), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_health_and_metrics(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health == {"status": "ok", "checks": {"registry": "ok", "influx": "ok"}}
    # /metrics has its own loopback listener (test_middleware.py), not the app's port.
    assert client.get("/metrics").status_code == 404
    text = client.app.state.web.metrics.render()  # type: ignore[attr-defined]  # Starlette's app is typed as ASGIApp
    assert "rv_web_requests_total{" in text and 'route="healthz"' in text


def test_an_evidence_run_stores_a_real_bundle_once_and_audits_it(
    client: TestClient, world: World
) -> None:
    first = client.post("/api/v1/enterprises/e04/evidence", headers=world.headers("rev-nb"))
    assert first.status_code == 201, first.text
    bundle = first.json()
    # e04 has no data in InfluxDB: the engine says so, it does not invent a verdict.
    assert bundle["status"] == "insufficient_data"
    assert {"evidence.json", "report.zh-CN.pdf", "report.en.html"} <= set(bundle["files"])
    again = client.post(
        "/api/v1/enterprises/e04/evidence", json={}, headers=world.headers("eng-a")
    ).json()
    assert again["bundle_id"] == bundle["bundle_id"]  # same data, same seed, same bytes
    listed = client.get("/api/v1/enterprises/e04/evidence", headers=world.headers("obs-nb"))
    assert [b["bundle_id"] for b in listed.json()] == [bundle["bundle_id"]]
    runs = client.get(
        "/api/v1/audit",
        params={"action": "evidence.run", "subject": "plat-a/e04"},
        headers=world.headers("admin"),
    ).json()["items"]
    assert [(r["actor"], r["detail"]["bundle"]) for r in runs] == [
        ("eng-a", bundle["bundle_id"]),
        ("rev-nb", bundle["bundle_id"]),
    ]


def test_the_docs_page_lists_every_operation_with_its_roles(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in paths:
        assert f"<code>{path}</code>" in page.text
    assert "<td>reviewer</td>" in page.text  # POST .../decisions
