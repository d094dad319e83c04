"""``/api/v1/.../export``: the pages' tables as ``.xlsx`` or CSV downloads (docs/exports.md).

A province's platforms, a platform's enterprises, an enterprise's KPIs: the same figures as
the pages and the JSON API, as files a reviewer can file. The pages link here; a script uses
its token. Role and scope as for the page; each download is an attachment with nosniff.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from collector.web.auth import CurrentUser
from collector.web.jsonbody import StrictJsonRoute
from collector.web.routes.common import EnterprisePath, PlatformPath, ProvincePath, State
from collector.web.services import (
    ExportFormat,
    enterprise_export,
    export_response,
    platform_export,
    province_export,
)

__all__ = ["router"]

router = APIRouter(route_class=StrictJsonRoute)

FormatQuery = Annotated[
    ExportFormat, Query(alias="format", description="xlsx (numbers with formats) or csv.")
]
_DOWNLOADS: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            "text/csv": {},
        },
        "description": "The table as a file (Content-Disposition: attachment).",
    }
}


@router.get(
    "/provinces/{code}/export",
    name="api.provinces.export",
    summary="A province's platforms as a workbook or CSV",
    response_class=Response,
    responses=_DOWNLOADS,
)
def province(
    code: ProvincePath, user: CurrentUser, state: State, output_format: FormatQuery = "xlsx"
) -> Response:
    """Each platform's passes against the minimum of 10 and subsidy, by review decision."""
    return export_response(province_export(state, user, code), output_format, f"province-{code}")


@router.get(
    "/platforms/{platform_id}/export",
    name="api.platforms.export",
    summary="A platform's enterprises as a workbook or CSV",
    response_class=Response,
    responses=_DOWNLOADS,
)
def platform(
    platform_id: PlatformPath, user: CurrentUser, state: State, output_format: FormatQuery = "xlsx"
) -> Response:
    """Each enterprise's verdict, decision, coverage and subsidy."""
    table = platform_export(state, user, platform_id)
    return export_response(table, output_format, f"platform-{platform_id}")


@router.get(
    "/enterprises/{enterprise_id}/export",
    name="api.enterprises.export",
    summary="An enterprise's KPI verdicts and digital-level inputs (latest bundle), xlsx or CSV",
    response_class=Response,
    responses=_DOWNLOADS,
)
def enterprise(
    enterprise_id: EnterprisePath,
    user: CurrentUser,
    state: State,
    output_format: FormatQuery = "xlsx",
    table: Annotated[
        str | None,
        Query(
            max_length=40,
            description="CSV only: KPIs (default), Networked, Devices, Scenarios or Quality "
            "(the digital-level section); the workbook holds them all.",
        ),
    ] = None,
) -> Response:
    """The KPI and digital-level tables of the latest bundle, as its evidence.json holds them;
    404 without one."""
    tables = enterprise_export(state, user, enterprise_id)
    return export_response(tables, output_format, f"enterprise-{enterprise_id}-kpis", table)
