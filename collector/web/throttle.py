"""Failed logins slowed and audited: the login form and bearer tokens (issue 14, finding 4).

Every failed login (a token the form or an ``Authorization: Bearer`` header sent that proves
no one) counts in the registry (collector/registry/throttle.py), so every replica sees the
same counts, under two keys:

- the **client address** (:func:`client_address`; an IPv6 address counts by its /64, which one
  machine usually holds whole). ``web.login_max_failures`` failures within
  ``web.login_window_s`` lock the address for ``web.login_lockout_s``: every login from it,
  right or wrong, is answered 429 with ``Retry-After`` without checking anything. Requests
  that come with a page session cookie are not affected (a logged-in user keeps working);
- the **token id** the text names (``rvt_<id>_...``), if any. When that id is locked, a
  *wrong* secret for it is answered 429, but the right one still logs in: token ids are not
  secret (the audit log and ``users tokens`` show them), so knowing one must not let anyone
  lock its owner out.

Refusing (429, ``Retry-After``) rather than sleeping before the answer: a delay would hold a
server worker per attempt, so an attacker could tie the app up with slow failures, while a
refusal costs one indexed read. Token secrets are 256 bits and cannot be guessed either way;
the point is to keep the noise down and leave a trace. The audit log gets one ``auth.failure``
row per failed attempt until a key locks, one ``auth.lock`` row then, and nothing more until
the lock ends.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
import re

from fastapi import Request

from collector.registry import ThrottleLimits
from collector.registry.core import utc_now
from collector.web.problems import Problem
from collector.web.settings import WebSettings
from collector.web.state import WebState

__all__ = ["check_not_locked", "client_address", "login_failed", "retry_after_s"]

log = logging.getLogger(__name__)

_TOKEN_ID_RE = re.compile(r"^rvt_([0-9a-f]{12})_")
_IPV6_PREFIX = 64


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, settings: WebSettings) -> bool:
    return any(address in network for network in settings.trusted_proxies)


def client_address(request: Request, settings: WebSettings) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy
    (``web.trusted_proxies``), the nearest ``X-Forwarded-For`` entry that is not one.

    IPv6 addresses are cut to their /64. Only entries added by trusted proxies are believed:
    whatever a client writes into the header itself sits left of them and is never reached.
    """
    peer = request.client.host if request.client is not None else "unknown"
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer[:100]
    forwarded = [
        hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",") if hop.strip()
    ]
    while _trusted(address, settings) and forwarded:
        try:
            address = ipaddress.ip_address(forwarded.pop())
        except ValueError:
            break  # a proxy wrote something that is no address: keep the last one we know
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return str(address)


def _limits(settings: WebSettings) -> ThrottleLimits:
    return ThrottleLimits(
        limit=settings.login_max_failures,
        window_s=settings.login_window_s,
        lockout_s=settings.login_lockout_s,
    )


def retry_after_s(until: dt.datetime, now: dt.datetime | None = None) -> int:
    """Whole seconds from now until ``until``, at least 1 (a ``Retry-After`` value)."""
    return max(1, math.ceil((until - (now or utc_now())).total_seconds()))


def _refusal(what: str, until: dt.datetime, settings: WebSettings) -> Problem:
    after = retry_after_s(until)
    return Problem(
        429,
        f"too many failed logins {what} ({settings.login_max_failures} within "
        f"{settings.login_window_s} s); try again in {after} s",
        kind="too-many-logins",
        headers={"Retry-After": str(after)},
        extra={"retry_after_s": after},
    )


def check_not_locked(state: WebState, address: str) -> None:
    """Raise Problem 429 if the address is locked (nothing else is checked then)."""
    locks = state.registry.login_locks([f"addr:{address}"])
    if locks:
        state.metrics.count(state.metrics.auth_failures, "locked")
        raise _refusal("from your address", locks[f"addr:{address}"], state.settings)


def login_failed(state: WebState, address: str, token_text: str, via: str) -> Problem | None:
    """Count and audit a failed login; the 429 to answer if it locked (or was locked), or None."""
    keys = [f"addr:{address}"]
    match = _TOKEN_ID_RE.match(token_text.strip())
    token_id = None if match is None else match.group(1)
    if token_id is not None:
        keys.append(f"token:{token_id}")
    outcome = state.registry.record_login_failure(
        keys,
        limits=_limits(state.settings),
        subject=f"login:{address}",
        detail={"address": address, "token_id": token_id, "via": via},
    )
    if outcome.newly_locked:
        log.warning("login locked: %s after repeated failures via %s", outcome.newly_locked, via)
    if keys[0] in outcome.locked:
        return _refusal("from your address", outcome.locked[keys[0]], state.settings)
    if token_id is not None and keys[1] in outcome.locked:
        return _refusal(f"with token id {token_id}", outcome.locked[keys[1]], state.settings)
    return None
