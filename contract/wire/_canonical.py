"""Canonical JSON, the bytes a message is signed and sent as, the config digest, a seal's hash."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the models call canonical_bytes to sign: only their types are needed here
    from contract.wire._confirmation import Confirmation
    from contract.wire._day_seal import DaySeal
    from contract.wire._messages import Envelope, StatusMessage


def canonical_bytes(value: object) -> bytes:
    """Canonical JSON: UTF-8, sorted keys, no whitespace, finite numbers only.

    Raises ValueError for NaN or infinity (``allow_nan=False``).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def encode(message: Envelope | StatusMessage | DaySeal | Confirmation) -> bytes:
    """The bytes to publish for a sealed message."""
    return canonical_bytes(message.model_dump(mode="json"))


def config_digest(config_text: bytes) -> str:
    """``sha256:<hex>`` of an agent's effective configuration, carried in every window."""
    return "sha256:" + hashlib.sha256(config_text).hexdigest()


def day_seal_sha256(raw: bytes) -> str:
    """A day seal's hash: SHA-256 of its whole published bytes, ``sig`` included, in hex.

    What ``prev``, ``supersedes``, the registry and a bundle use to name a seal: it commits to
    the exact artifact a reviewer holds, signature and all.
    """
    return hashlib.sha256(raw).hexdigest()
