"""JSON request bodies of the API, read strictly: a key twice in one object is refused.

``json.loads`` keeps the last of two equal keys, so ``{"outcome": "fail", "outcome": "pass"}``
would record a pass that a log or a proxy reading the first key saw as a fail. The API's
routes use :class:`StrictJsonRoute`, which answers such a body 422 before FastAPI parses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from collector.web.problems import Problem

__all__ = ["StrictJsonRoute", "duplicate_key"]


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def duplicate_key(body: bytes) -> str | None:
    """The first key found twice in one object of the JSON ``body``; None if there is none.

    A body that is not JSON at all is None too: FastAPI's own parsing reports it.
    """
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None
    return None


class StrictJsonRoute(APIRoute):
    """An API route whose JSON body may not hold a key twice in one object (422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, behind the duplicate-key check."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            body = await request.body()  # Starlette keeps it: the handler reads it again
            key = duplicate_key(body) if body else None
            if key is not None:
                shown = key[:100]
                raise Problem(
                    422,
                    f"body.{shown}: the key appears twice in one JSON object; send it once",
                    extra={"errors": [{"loc": ["body", shown], "msg": "duplicate key"}]},
                )
            return await handler(request)

        return strict
