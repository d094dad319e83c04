"""The JSON API under ``/api/v1``: every route named, role-gated (access.py) and scoped.

One module per resource, each with its own router, included here in the order the OpenAPI
document lists them. Handlers that only read the registry are plain functions (FastAPI runs
them in its thread pool: sqlite3 blocks); those that ask InfluxDB are async. Every id in a path
is resolved with :mod:`collector.web.scope`, which answers 404 for what the caller may not see.
What the pages need as well lives in :mod:`collector.web.services`, never here.
"""

from fastapi import APIRouter

from collector.web.jsonbody import StrictJsonRoute
from collector.web.routes.api import (
    attachments,
    audit,
    decisions,
    enterprises,
    evidence,
    exports,
    fleet,
    me,
    places,
    quarantine,
    users,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["api"], route_class=StrictJsonRoute)
_RESOURCES = (
    me,
    places,
    enterprises,
    evidence,
    decisions,
    attachments,
    exports,
    fleet,
    quarantine,
    audit,
    users,
)
for _resource in _RESOURCES:
    router.include_router(_resource.router)
