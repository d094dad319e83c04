"""Registry calls made from the event loop: in a worker thread, waited for a bounded time.

The registry's drivers block (sqlite3, psycopg). One blocking call on the event loop stalls
every request of the replica, ``/healthz`` and static files included, for as long as the call
waits: a PostgreSQL server that is stopped or hung keeps its TCP connections up and the kernel
acknowledges what is sent, so no TCP bound fires and the call waits as long as the server does.

Handlers written as plain ``def`` already run in the worker threads (FastAPI's pool). Every
registry call from an ``async def`` (the :func:`~collector.web.auth.authorize` dependency in
front of every route that needs a login, ``/healthz``, the page error handler, the async
handlers) goes through :func:`registry_call` instead: it runs in the same pool (anyio's
threads, which sync handlers use) and is waited for at most ``web.registry_wait_s``; after that
the request is answered as a registry that is unavailable (503 with ``Retry-After``,
collector/web/problems.py). The thread itself cannot be stopped: it is left to finish when the
database answers (or its connection breaks), and what it returns is dropped. A write left that
way may still commit once the server resumes: the client was told to try again, and the
registry's writes from the web are safe to repeat (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from anyio import to_thread

from collector.errors import RegistryUnavailable
from collector.web.state import WebState

__all__ = ["HEALTHZ_WAIT_S", "call_within", "registry_call"]

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: ``/healthz`` waits at most this long for the registry (or ``web.registry_wait_s`` if
#: shorter): a load balancer's probe gives up after a few seconds, and a late 503 is no answer.
HEALTHZ_WAIT_S = 5.0


async def call_within(
    wait_s: float, location: str, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """``call(*args, **kwargs)`` in a worker thread, waited for at most ``wait_s`` seconds.

    Raises what the call raises, or RegistryUnavailable (retryable) naming ``location`` (the
    registry's file or URL, for the log) if it has not returned by then.
    """
    bound = functools.partial(call, *args, **kwargs)
    try:
        async with asyncio.timeout(wait_s):
            # abandon_on_cancel: the timeout ends the wait, not the thread (it cannot be
            # interrupted inside the driver); without it anyio shields the wait from the timeout.
            return await to_thread.run_sync(bound, abandon_on_cancel=True)
    except TimeoutError:
        log.warning(
            "registry %s: no answer within %g s; the request is answered 503", location, wait_s
        )
        raise RegistryUnavailable(
            f"registry {location}: no answer within {wait_s:g} s; retry later", retryable=True
        ) from None


async def registry_call(
    state: WebState, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """``call(*args, **kwargs)`` off the event loop, waited for at most ``web.registry_wait_s``
    (:func:`call_within`)."""
    wait_s = state.settings.registry_wait_s
    return await call_within(wait_s, str(state.registry.path), call, *args, **kwargs)
