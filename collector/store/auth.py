"""Credentials for InfluxDB's v1 HTTP API, one kind per server generation.

=================  =========================================  =================================
server             what it checks                             use
=================  =========================================  =================================
1.x, auth on       a user and password (``CREATE USER``)      ``UserPassword(user, password)``
1.x, auth off      nothing                                    ``None``
2.x (OSS, Cloud)   an API token with read/write on the        ``Token(token)``
                   bucket the db/rp maps to (DBRP mapping)
3.x (Core,         a database or admin token                  ``Token(token)`` or
Enterprise,                                                   ``Token(token, scheme="Bearer")``
Cloud, Clustered)
=================  =========================================  =================================

``UserPassword`` goes in an HTTP Basic ``Authorization`` header by default, so the password
never appears in a URL (proxies and access logs keep URLs). ``in_query=True`` sends 1.x's
``u``/``p`` query parameters instead, for a proxy that strips Authorization headers. 2.x and
3.x also accept Basic or ``u``/``p`` with the *token as the password* (the user name is
ignored), which is what 1.x-only tools do; ``Token`` is the direct way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import httpx

__all__ = ["InfluxAuth", "Token", "UserPassword", "request_auth"]


@dataclass(frozen=True, slots=True)
class UserPassword:
    """InfluxDB 1.x user and password (``[http] auth-enabled = true``)."""

    username: str
    password: str = field(repr=False)
    in_query: bool = False


@dataclass(frozen=True, slots=True)
class Token:
    """An InfluxDB 2.x API token or 3.x database token: ``Authorization: <scheme> <token>``."""

    token: str = field(repr=False)
    scheme: Literal["Token", "Bearer"] = "Token"


InfluxAuth = UserPassword | Token


def request_auth(
    auth: InfluxAuth | None,
) -> tuple[httpx.Auth | None, dict[str, str], dict[str, str]]:
    """What to add to every request: (httpx auth, headers, query parameters)."""
    if auth is None:
        return None, {}, {}
    if isinstance(auth, Token):
        return None, {"Authorization": f"{auth.scheme} {auth.token}"}, {}
    if auth.in_query:
        return None, {}, {"u": auth.username, "p": auth.password}
    return httpx.BasicAuth(auth.username, auth.password), {}, {}
