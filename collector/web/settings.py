"""The web app's settings: the ``web:`` section of the collector's configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, StringConstraints

__all__ = ["LANGUAGES", "Language", "WebSettings"]

Language = Literal["zh-CN", "en"]
#: A host name or address as a ``Host`` header names it, without the port; ``*`` allows any.
HostName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        pattern=r"^(\*|[A-Za-z0-9.-]{1,253}|[0-9A-Fa-f:.]{2,45})$",
    ),
]
#: The languages of every page; the first is the default when the browser says nothing.
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")


class WebSettings(BaseModel):
    """Where ``retrofit-collector serve`` listens, where bundles live, how sessions behave.

    Every key is in docs/web.md, "Configuration".
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: Annotated[str, Field(min_length=1, max_length=253)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    #: The host names the app answers to (the ``Host`` header, port ignored); any other is 400.
    #: Behind a reverse proxy, list the name reviewers type. Redirects never use the header.
    allowed_hosts: Annotated[tuple[HostName, ...], Field(min_length=1)] = (
        "127.0.0.1",
        "localhost",
        "::1",
    )
    #: ``/metrics`` (Prometheus) on its own listener on 127.0.0.1 at this port, never on the
    #: app's port; None: no metrics listener.
    metrics_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    #: Evidence bundles, one folder per enterprise and bundle (its manifest's SHA-256).
    evidence_dir: Path = Path("evidence")
    #: Send the session cookie only over HTTPS (``Secure``, ``__Host-`` name). Turn off only
    #: for plain HTTP on loopback (tests, a laptop demo).
    cookie_secure: bool = True
    #: A page session ends this long after login (or when its token expires or is revoked).
    session_ttl_s: Annotated[int, Field(ge=60, le=7 * 86_400)] = 8 * 3600
    default_language: Language = "zh-CN"
    #: Largest request body accepted, in bytes; a decision's comment is at most 4000 characters.
    max_body_bytes: Annotated[int, Field(ge=1024, le=10 * 1024 * 1024)] = 64 * 1024
    #: An agent whose last status is older than this is shown offline, whatever it last said.
    agent_offline_after_s: Annotated[int, Field(ge=30, le=86_400)] = 300
    #: How long a request waits on one registry call before it is answered 503 with
    #: ``Retry-After`` (``/healthz``: at most 5 s): a stopped or hung PostgreSQL acknowledges
    #: TCP and never answers, so without a bound the request would wait as long as it hangs.
    #: Above the registry's lock timeout (30 s) and its pool's wait, so those answer first.
    registry_wait_s: Annotated[float, Field(gt=0, le=3600)] = 45.0
    #: How long one evidence request waits for its run; the run goes on and keeps its slot.
    evidence_timeout_s: Annotated[float, Field(gt=0, le=3600)] = 600.0
    # --- limits (docs/web.md, "Limits"); the counters live in the registry, shared by replicas
    #: Evidence runs one user may have queued (waiting or running) at once, on all replicas.
    evidence_runs_per_user: Annotated[int, Field(ge=1, le=100)] = 2
    #: Evidence runs one enterprise may have queued at once: a second is refused, not queued.
    evidence_runs_per_enterprise: Annotated[int, Field(ge=1, le=10)] = 1
    #: Evidence runs queued at once in all (waiting and running), on all replicas.
    evidence_queue_size: Annotated[int, Field(ge=1, le=1000)] = 4
    #: Evidence runs computed at once by this replica (each takes a core); others wait.
    evidence_workers: Annotated[int, Field(ge=1, le=64)] = 1
    #: A queued run's lease; its replica renews it every third of this while the run lasts.
    #: A crashed replica's slots come back this long after it stopped renewing.
    evidence_lease_s: Annotated[float, Field(ge=5, le=3600)] = 60.0
    #: The ``Retry-After`` of a refused run, in seconds: about one run's duration.
    evidence_retry_after_s: Annotated[int, Field(ge=1, le=3600)] = 60
    #: Bundles kept per enterprise: after a run, the oldest beyond this are deleted, except
    #: those a review decision cites (those are never deleted).
    bundles_per_enterprise: Annotated[int, Field(ge=1, le=10_000)] = 20
    #: Failed logins (form or bearer token) from one client address, or with one token id,
    #: within ``login_window_s`` that lock it for ``login_lockout_s``.
    login_max_failures: Annotated[int, Field(ge=1, le=1000)] = 10
    login_window_s: Annotated[int, Field(ge=1, le=86_400)] = 300
    login_lockout_s: Annotated[int, Field(ge=1, le=86_400)] = 300
    #: Peers (addresses or networks) whose ``X-Forwarded-For`` names the client: the TLS
    #: reverse proxy in front. Empty: the peer itself is the client.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    # --- people's logins (docs/web.md, "Accounts"); the counts live in the registry
    #: Failed password or TOTP attempts that cost nothing (typing mistakes), per key.
    login_delay_free: Annotated[int, Field(ge=0, le=100)] = 3
    #: The first delay after the free failures; each further failure doubles it ...
    login_delay_base_s: Annotated[float, Field(gt=0, le=3600)] = 1.0
    #: ... up to this. The most a reviewer can be made to wait (docs/web.md says why).
    login_delay_max_s: Annotated[float, Field(ge=1, le=86_400)] = 300.0
    #: A key's failures are forgotten this long after its last one.
    login_delay_forget_s: Annotated[float, Field(ge=60, le=30 * 86_400)] = 3600.0
    #: The key TOTP secrets are sealed with at rest (AES-256-GCM; 32 bytes base64, mode 0600;
    #: ``retrofit-collector users totp-key PATH``). None: no one can enrol a second factor.
    totp_key_path: Path | None = None
    #: Keys being rotated out: secrets sealed with them still open, and are sealed again with
    #: ``totp_key_path`` at their user's next login (docs/web.md, "TOTP secrets at rest").
    totp_previous_key_paths: tuple[Path, ...] = ()
    #: A login's second step (a TOTP code, a new password) must come within this.
    login_step_ttl_s: Annotated[int, Field(ge=30, le=3600)] = 300
    #: The path the reverse proxy serves the app under, e.g. ``/verify``; "" at the host
    #: root. Every link, redirect, form, cookie and static file then carries it; the proxy may
    #: pass the path with the prefix or strip it (docs/operations.md, "Behind a path prefix").
    root_path: Annotated[str, StringConstraints(pattern=r"^(/[A-Za-z0-9._~-]+)*$")] = ""
