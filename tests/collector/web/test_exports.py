"""Downloads of the pages' tables: the JSON API's figures, as attachments, behind the same gates."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from tests.collector.web.world import World

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(client: TestClient, world: World, path: str, user: str, fmt: str) -> Any:
    response = client.get(path, params={"format": fmt}, headers=world.headers(user))
    assert response.status_code == 200, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=") and disposition.endswith(f'.{fmt}"')
    return response


def _sheet_rows(content: bytes) -> list[dict[str, Any]]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    assert isinstance(sheet, Worksheet)
    keys_row = next(r for r in range(1, 30) if sheet.cell(r, 1).value in ("id", "attempt"))
    keys = [str(c.value) for c in sheet[keys_row] if c.value is not None]
    return [
        {key: sheet.cell(row, i + 1).value for i, key in enumerate(keys)}
        for row in range(keys_row + 1, sheet.max_row + 1)
    ]


def test_province_workbook_has_the_api_figures(client: TestClient, world: World) -> None:
    response = _download(client, world, "/api/v1/provinces/330200/export", "rev-nb", "xlsx")
    assert response.headers["content-type"] == XLSX
    api = client.get("/api/v1/provinces/330200", headers=world.headers("rev-nb")).json()
    rows = _sheet_rows(response.content)
    assert [r["id"] for r in rows] == [p["id"] for p in api["platforms"]]
    for row, platform in zip(rows, api["platforms"], strict=True):
        assert round(row["subsidy_fen"] * 100) == platform["subsidy_fen"]
        assert row["reviewed_passed"] == platform["reviewed_passed"]
        assert row["minimum_met"] is platform["minimum_met"]


def test_platform_csv_has_the_rollup_figures(client: TestClient, world: World) -> None:
    response = _download(client, world, "/api/v1/platforms/plat-a/export", "eng-a", "csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rollup = client.get("/api/v1/platforms/plat-a/rollup", headers=world.headers("eng-a")).json()
    header, *lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    keys = [h.split(" ")[-1] for h in header]
    rows = [dict(zip(keys, line, strict=True)) for line in lines]
    assert [r["id"] for r in rows] == [e["id"] for e in rollup["enterprises"]]
    for row, item in zip(rows, rollup["enterprises"], strict=True):
        fen = item["cost_fen"]
        assert row["cost_fen"] == f"{fen // 100}.{fen % 100:02d}"
        assert row["passed"] == ("true" if item["passed"] else "false")
        assert row["evidence_status"] == (item["evidence_status"] or "")


def test_enterprise_kpis_are_those_of_its_latest_evidence_json(
    client: TestClient, world: World
) -> None:
    response = _download(client, world, "/api/v1/enterprises/e01/export", "rev-nb", "xlsx")
    bundle = world.bundles["e01"].bundle_id
    evidence = client.get(
        f"/api/v1/enterprises/e01/evidence/{bundle}/files/evidence.json",
        headers=world.headers("rev-nb"),
    ).json()
    pairs = [(a, k) for a in evidence["attempts"] for k in a["kpis"]]
    rows = _sheet_rows(response.content)
    assert len(rows) == len(pairs) > 0
    for row, (attempt, kpi) in zip(rows, pairs, strict=True):
        assert row["attempt"] == attempt["number"] and row["kpi"] == kpi["kpi"]
        assert row["status"] == kpi["status"]
        for key, figure in (
            ("baseline_value", kpi["baseline"]["value"]),
            ("reporting_value", kpi["reporting"]["value"]),
            ("change", None if kpi["change"] is None else kpi["change"]["change"]),
        ):
            # openpyxl writes a float with 16 significant digits ("%.16g").
            assert row[key] == (None if figure is None else float(f"{figure:.16g}")), key


def test_enterprise_workbook_holds_the_digital_level_of_its_evidence_json(
    client: TestClient, world: World
) -> None:
    response = _download(client, world, "/api/v1/enterprises/e01/export", "rev-nb", "xlsx")
    bundle = world.bundles["e01"].bundle_id
    evidence = client.get(
        f"/api/v1/enterprises/e01/evidence/{bundle}/files/evidence.json",
        headers=world.headers("rev-nb"),
    ).json()
    section = evidence["digital_level"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["KPIs", "Networked", "Devices", "Scenarios", "Quality"]
    networked = workbook["Networked"]
    assert isinstance(networked, Worksheet)
    keys_row = next(r for r in range(1, 30) if networked.cell(r, 1).value == "period_start")
    keys = [str(c.value) for c in networked[keys_row] if c.value is not None]
    row = {key: networked.cell(keys_row + 1, i + 1).value for i, key in enumerate(keys)}
    assert row["networked_share"] == float(f"{section['networked_share']:.16g}")
    assert row["networked_count"] == len(section["networked_devices"])
    devices = client.get(
        "/api/v1/enterprises/e01/export",
        params={"format": "csv", "table": "devices"},
        headers=world.headers("rev-nb"),
    )
    assert devices.status_code == 200
    assert 'filename="enterprise-e01-kpis-devices.csv"' in devices.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(devices.content.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == [d["device"] for d in section["devices"]]
    unknown = client.get(
        "/api/v1/enterprises/e01/export",
        params={"format": "csv", "table": "nope"},
        headers=world.headers("rev-nb"),
    )
    assert unknown.status_code == 404 and "Networked" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("path", "user", "status"),
    [
        ("/api/v1/provinces/330200/export", "eng-a", 403),  # a platform's engineer: no province
        ("/api/v1/provinces/440300/export", "rev-nb", 404),  # another province's reviewer
        ("/api/v1/platforms/plat-b/export", "eng-a", 404),  # another platform
        ("/api/v1/enterprises/b01/export", "eng-a", 404),
        ("/api/v1/enterprises/e09/export", "eng-a", 404),  # no bundle (no test runs one)
    ],
)
def test_exports_keep_the_role_and_scope_checks(
    client: TestClient, world: World, path: str, user: str, status: int
) -> None:
    response = client.get(path, headers=world.headers(user))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "content-disposition" not in response.headers


def test_exports_need_a_login_and_a_known_format(client: TestClient, world: World) -> None:
    assert client.get("/api/v1/platforms/plat-a/export").status_code == 401
    response = client.get(
        "/api/v1/platforms/plat-a/export", params={"format": "pdf"}, headers=world.headers("admin")
    )
    assert response.status_code == 422
    assert json.loads(response.text)["status"] == 422


def test_pages_link_their_downloads(client: TestClient, world: World) -> None:
    for path, href in (
        ("/provinces/330200", "/api/v1/provinces/330200/export?format=xlsx"),
        ("/platforms/plat-a", "/api/v1/platforms/plat-a/export?format=csv"),
        ("/enterprises/e01", "/api/v1/enterprises/e01/export?format=xlsx"),
    ):
        page = client.get(path, headers=world.headers("rev-cn"))
        assert page.status_code == 200 and f'href="{href}"' in page.text, path
