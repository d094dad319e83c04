"""The reviewer and platform web app: FastAPI API, roles, review decisions, pages (docs/web.md).

The application is built by :func:`collector.web.app.create_app`; importing this package
imports no web framework, so the collector's configuration can name :class:`WebSettings`.
"""

from collector.web.settings import WebSettings

__all__ = ["WebSettings"]
