"""``GET /api/v1/enterprises/{id}/day-checks``: each daily row against its agent's day seal.

The world (world.py) holds e01's press-1 days sealed by e01-gw with its registered key and
checked by the ingest's own check: 06-03's seal counts more energy than was stored, 03-04 has
no seal, four days are equal.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.collector.dashboards.seals import ENERGY_ADDED_KWH
from tests.collector.web.world import DIFFERENT_DAY, UNSEALED_DAY, World

PATH = "/api/v1/enterprises/e01/day-checks"


def test_a_sealed_and_different_row_names_each_field_with_stored_and_sealed(
    client: TestClient, world: World
) -> None:
    body = client.get(
        PATH, params={"outcome": "sealed_different"}, headers=world.headers("rev-nb")
    ).json()
    assert body["total"] == 1
    (row,) = body["items"]
    assert (row["agent"], row["device"], row["provenance"], row["day"]) == (
        "e01-gw", "press-1", "measured", DIFFERENT_DAY.isoformat(),
    )  # fmt: skip
    # A full check (the Merkle root rebuilt); an evidence run's sums-only check keeps it so.
    assert row["root_checked"] is True
    assert len(row["seal_sha256"]) == 64 and row["overdue"] is False
    differences = {d["field"]: d for d in row["differences"]}
    assert set(differences) == {"energy_kwh", "merkle_root"}
    energy = differences["energy_kwh"]
    assert energy["sealed"] == pytest.approx(energy["stored"] + ENERGY_ADDED_KWH)
    assert differences["merkle_root"]["stored"] != differences["merkle_root"]["sealed"]


def test_every_row_of_the_plan_days_with_its_outcome(client: TestClient, world: World) -> None:
    body = client.get(PATH, headers=world.headers("eng-a")).json()
    outcomes = {row["day"]: row["outcome"] for row in body["items"]}
    assert outcomes == {
        "2026-03-02": "sealed_equal",
        "2026-03-03": "sealed_equal",
        UNSEALED_DAY.isoformat(): "unsealed",
        "2026-06-02": "sealed_equal",
        DIFFERENT_DAY.isoformat(): "sealed_different",
        "2026-06-04": "sealed_equal",
    }
    unsealed = next(row for row in body["items"] if row["outcome"] == "unsealed")
    assert unsealed["overdue"] is True and unsealed["seal_sha256"] is None
    equal = next(row for row in body["items"] if row["outcome"] == "sealed_equal")
    assert equal["differences"] == []


def test_range_and_paging(client: TestClient, world: World) -> None:
    headers = world.headers("admin")
    june = client.get(PATH, params={"from": "2026-06-01", "to": "2026-06-30"}, headers=headers)
    assert [row["day"] for row in june.json()["items"]] == [
        "2026-06-02",
        "2026-06-03",
        "2026-06-04",
    ]
    page = client.get(PATH, params={"limit": 2, "offset": 2}, headers=headers).json()
    assert page["total"] == 6 and [row["day"] for row in page["items"]] == [
        UNSEALED_DAY.isoformat(), "2026-06-02",
    ]  # fmt: skip
    backwards = client.get(PATH, params={"from": "2026-06-30", "to": "2026-06-01"}, headers=headers)
    assert backwards.status_code == 422
    unknown = client.get(PATH, params={"outcome": "maybe"}, headers=headers)
    assert unknown.status_code == 422


def test_an_enterprise_without_checks_answers_an_empty_list(
    client: TestClient, world: World
) -> None:
    body = client.get("/api/v1/enterprises/e02/day-checks", headers=world.headers("admin")).json()
    assert body["items"] == [] and body["total"] == 0
