"""Document uploads, limited per user and per source, counted in the registry so every web
replica counts the same uploads (the login throttle's table and counting rule:
collector/registry/sql/login_failures.py).

Each upload request counts once under ``upload:user:<user id>`` and once under
``upload:addr:<client address>`` (:func:`~collector.web.throttle.client_address`: behind a
trusted proxy, the client's; IPv6 by its /64) before its body is read or checked. At
``attachments.uploads_per_user`` (or ``uploads_per_source``) uploads within
``attachments.upload_window_s`` the key is held back for that window: further uploads are
answered **429** with ``Retry-After`` and nothing is read, checked or stored. Accepted,
refused and duplicate uploads all count: each one was received and checked (a PDF's check
starts a child process, collector/attachments/pdf_guard.py).
"""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import Request

from collector.registry import ThrottleLimits
from collector.registry.core import utc_now
from collector.web.principal import Principal
from collector.web.problems import Problem
from collector.web.state import WebState
from collector.web.throttle import client_address, retry_after_s

__all__ = ["take_upload"]

log = logging.getLogger(__name__)


def _refusal(whose: str, limit: int, window_s: int, until: dt.datetime) -> Problem:
    after = retry_after_s(until, utc_now())
    return Problem(
        429,
        f"too many uploads {whose} ({limit} within {window_s} s); try again in {after} s",
        kind="too-many-uploads",
        headers={"Retry-After": str(after)},
        extra={"retry_after_s": after, "limit": limit, "window_s": window_s},
    )


def take_upload(state: WebState, user: Principal, request: Request) -> None:
    """Count this upload for the user and the source; Problem 429 (``Retry-After``) if
    either is at its limit (nothing counted then)."""
    rules = state.attachments
    address = client_address(request, state.settings)
    user_key, addr_key = f"upload:user:{user.user_id}", f"upload:addr:{address}"
    window = rules.upload_window_s
    held = state.registry.take_upload(
        {
            user_key: ThrottleLimits(rules.uploads_per_user, window, window),
            addr_key: ThrottleLimits(rules.uploads_per_source, window, window),
        }
    )
    if not held:
        return
    log.warning("uploads held back: %s", sorted(held))
    if user_key in held:
        raise _refusal("by you", rules.uploads_per_user, window, held[user_key])
    raise _refusal("from your address", rules.uploads_per_source, window, held[addr_key])
