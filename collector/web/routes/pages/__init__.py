"""Server-rendered pages (Jinja2) for reviewers and platform engineers, in zh-CN and en.

Progressive enhancement: every page is plain HTML with forms that POST and redirect (303), no
script needed. The same role table and scope checks as the API guard every page; forms carry
the session's CSRF token (auth.py). Errors on pages are pages (:mod:`.render`). One module per
resource, included here in order; what the API needs as well lives in
:mod:`collector.web.services`, never in the API's routes.
"""

from fastapi import APIRouter

from collector.web.routes.pages import (
    account,
    attachments,
    enterprise,
    operations,
    places,
    session,
)
from collector.web.routes.pages.render import install_page_errors

__all__ = ["install_page_errors", "router"]

router = APIRouter(include_in_schema=False)
for _resource in (session, account, places, enterprise, attachments, operations):
    router.include_router(_resource.router)
