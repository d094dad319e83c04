"""The enterprise page's digital-level section shows the figures of the bundle's JSON (the API
and evidence.json), formatted here by hand, and says they are inputs, not the rating."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.collector.report.digital_samples import figures
from tests.collector.web.world import World


def _percent(share: float, digits: int, language: str) -> str:
    return f"{100 * share:.{digits}f}" + ("%" if language == "zh-CN" else " %")


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_page_shows_the_figures_of_the_json(
    client: TestClient, world: World, language: str
) -> None:
    client.cookies.clear()
    headers = world.headers("rev-nb")
    bundle = world.bundles["e01"].bundle_id
    base = f"/api/v1/enterprises/e01/evidence/{bundle}"
    from_api = client.get(base, headers=headers).json()["digital_level"]
    stored = json.loads(client.get(f"{base}/files/evidence.json", headers=headers).content)
    raw = stored["digital_level"]
    assert from_api == raw
    page = client.get("/enterprises/e01", params={"lang": language}, headers=headers)
    client.cookies.clear()
    assert page.status_code == 200
    shown = figures(page.text)
    assert shown["networked_share"] == _percent(raw["networked_share"], 1, language)
    assert shown["networked_share"] == ("40.0%" if language == "zh-CN" else "40.0 %")
    assert shown["networked_count"] == str(len(raw["networked_devices"])) == "2"
    assert shown["production_equipment_total"] == str(raw["production_equipment_total"])
    for period in raw["quality"]:
        role = period["role"]
        assert shown[f"monthly_mean.{role}"] == _percent(period["monthly_mean"], 2, language)
        assert shown[f"pooled.{role}"] == _percent(period["pooled"], 2, language)
    for scenario in raw["scenarios"]:
        assert shown[f"devices.{scenario['scenario']}"] == ", ".join(scenario["devices"])
    for device in raw["devices"]:
        assert shown[f"measured_days.{device['device']}"] == str(device["measured_days"])
    not_rating = "不是官方评测结果" if language == "zh-CN" else "not the official rating"
    assert not_rating in page.text


def test_a_bundle_without_the_section_shows_none(client: TestClient, world: World) -> None:
    client.cookies.clear()
    headers = world.headers("rev-nb")
    bundle = world.bundles["e02"].bundle_id
    from_api = client.get(f"/api/v1/enterprises/e02/evidence/{bundle}", headers=headers).json()
    page = client.get("/enterprises/e02", params={"lang": "en"}, headers=headers)
    client.cookies.clear()
    assert from_api["digital_level"] is None
    assert 'id="digital-level"' not in page.text and "data-figure" not in page.text
