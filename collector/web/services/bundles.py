"""Stored bundles for a request: a checked bundle or file, or the problem that says why not.

A bundle whose bytes no longer match its manifest is 409 ``damaged``; one that is not there
(or not the enterprise's) is 404. Files go out with their SHA-256 and, for HTML and SVG, a
sandbox: the API and the pages serve them the same way.
"""

from __future__ import annotations

import hashlib
import mimetypes

from fastapi.responses import Response

from collector.bundle import BundleDamaged, LoadedBundle
from collector.web.directory import EnterpriseRef
from collector.web.problems import Problem
from collector.web.state import WebState

__all__ = ["bundle_file_response", "loaded_bundle", "media_type"]

_MEDIA_TYPES = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".pdf": "application/pdf",
    ".svg": "image/svg+xml",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


def loaded_bundle(state: WebState, ref: EnterpriseRef, bundle_id: str) -> LoadedBundle:
    """The enterprise's bundle, checked and parsed; Problem 409 if damaged, 404 if absent."""
    try:
        loaded = state.bundles.load(ref.id, bundle_id)
    except BundleDamaged as exc:
        raise Problem(409, f"{exc}: changed after it was written", kind="damaged") from None
    if loaded is None:
        raise Problem(404, f"no bundle {bundle_id[:12]}... for enterprise {ref.id}")
    return loaded


def media_type(name: str) -> str:
    """The media type a bundle file is served as, from its name's suffix."""
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    return _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def bundle_file_response(
    state: WebState, ref: EnterpriseRef, bundle_id: str, name: str
) -> Response:
    """A bundle file as a response: checked bytes, its type, and a sandbox for HTML and SVG."""
    try:
        data = state.bundles.read_file(ref.id, bundle_id, name)
    except BundleDamaged as exc:
        raise Problem(409, f"{exc}: changed after it was written", kind="damaged") from None
    if data is None:
        raise Problem(404, f"no file {name[:80]!r} in bundle {bundle_id[:12]}...")
    served_as = media_type(name)
    headers = {"X-Content-SHA256": _sha(data)}
    if served_as.startswith(("text/html", "image/svg")):
        # Bundle HTML is ours, but it quotes plan text; a sandbox keeps it inert whatever it holds.
        headers["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
        )
    if served_as == "application/octet-stream":
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(content=data, media_type=served_as, headers=headers)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
