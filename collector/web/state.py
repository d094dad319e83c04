"""What every request of the web app shares: settings, registry, store, bundles, metrics."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Request

from collector.accounts import TotpSealer
from collector.attachments import AttachmentSettings
from collector.bundle import BundleInfo, BundleStore
from collector.errors import IdCollisionError
from collector.registry import Registry
from collector.store import InfluxStore
from collector.web.directory import Directory, DirectoryCache
from collector.web.metrics import WebMetrics
from collector.web.problems import Problem
from collector.web.settings import WebSettings

__all__ = ["WebState", "replica_id", "web_state"]


def replica_id() -> str:
    """Who holds an evidence slot: host, process and a random tag (a restart is another)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


log = logging.getLogger(__name__)


@dataclass
class WebState:
    """The app's shared objects; one per app, in ``app.state.web``."""

    settings: WebSettings
    registry: Registry
    store: InfluxStore | None
    bundles: BundleStore
    directories: DirectoryCache
    metrics: WebMetrics = field(default_factory=WebMetrics)
    #: The collector's bundle key (``bundle.signing_key_path``): evidence runs sign with it.
    bundle_signer: Ed25519PrivateKey | None = None
    #: Seals TOTP secrets at rest (``web.totp_key_path``); None: no second factor enrols.
    totp_sealer: TotpSealer | None = None
    #: Enterprise files (``attachments:``): the largest document accepted.
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)
    #: This replica's name on the evidence slots it holds (collector/registry/runs.py).
    replica: str = field(default_factory=replica_id)
    #: Evidence runs computed at once here (``web.evidence_workers``): a run is CPU-bound
    #: (bootstrap replicates) and the machine also ingests. Admission is the registry's.
    evidence_workers: asyncio.Semaphore = field(init=False)
    #: Runs in progress, kept referenced until they end (a request may have stopped waiting).
    run_tasks: set[asyncio.Task[BundleInfo]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.evidence_workers = asyncio.Semaphore(self.settings.evidence_workers)

    def directory(self) -> Directory:
        """The plans as they are now.

        Problem 503 if two plans claim one id (a registry loaded before ids were checked
        across plans, or by an older collector since ``serve`` started): the operator must
        resolve it; the app never guesses which province an enterprise belongs to.
        """
        try:
            return self.directories.current()
        except IdCollisionError as exc:
            log.error("%s", exc)
            raise Problem(
                503,
                "the registry holds ids that more than one plan claims; the operator must "
                "resolve it before these pages can be served",
                kind="id-collision",
            ) from None


def web_state(request: Request) -> WebState:
    """The app's :class:`WebState` (a FastAPI dependency)."""
    state: WebState = request.app.state.web
    return state
