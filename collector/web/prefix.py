"""The app under a path prefix (``web.root_path``): behind a reverse proxy at ``/verify/``.

:class:`PathPrefix`, the outermost middleware, puts every request in ASGI's shape for a
mounted app: ``root_path`` is the prefix and ``path`` the full path with it, whether the proxy
passed the prefix on or stripped it (a request that comes without it gets it added). Starlette
then routes on the path after the prefix, and ``request.url`` is the URL the browser used, so
links built from it (pagers, language switches) carry the prefix already.

What the app writes itself carries it too: templates start every link, form and static file
with ``root`` (collector/web/routes/pages/render.py), a redirect's ``Location`` gets it on the
way out (:func:`app_location`, called by SecurityHeaders), the session cookie's ``Path`` is
the prefix (collector/web/auth.py). Handlers keep speaking of paths inside the app
(``/login``, ``/enterprises/e1``), so none of them knows the prefix.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["PathPrefix", "app_location", "app_path", "relative_location"]


def app_path(scope: Scope) -> str:
    """The request's path inside the app (after ``root_path``)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


def app_location(location: str, root: str) -> str:
    """A ``Location`` as this site's path: an app path gets the prefix; an absolute URL
    (Starlette's trailing-slash redirect, built from the full path) loses only its host."""
    relative = relative_location(location)
    if relative != location or not root or not location.startswith("/"):
        return relative
    return root + location


class PathPrefix:
    """Set ``root_path`` to ``prefix`` and make ``path`` carry it (see the module's doc)."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.prefix:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", "/"))
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            path = self.prefix + path  # the proxy stripped the prefix
        raw = path.encode("utf-8")
        await self.app({**scope, "path": path, "raw_path": raw, "root_path": self.prefix},
                       receive, send)  # fmt: skip


def relative_location(location: str) -> str:
    """An absolute ``Location`` as a path on this site: no redirect names a host.

    The app's own redirects are paths already; Starlette's trailing-slash redirect is built
    from the request's ``Host`` and scheme, which behind a TLS proxy would also say http.
    """
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc and not location.startswith("//"):
        return location
    # "//evil.example" is a host too (a scheme-relative URL): one leading slash only.
    path = "/" + parts.path.lstrip("/")
    return urlunsplit(("", "", path, parts.query, parts.fragment))
