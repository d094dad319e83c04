"""Identifiers and MQTT topics: ``rv/v1/{platform}/{enterprise}/{agent}/{kind}``.

Kinds: ``windows`` (signed KPI window batches), ``status`` (retained birth and Last Will),
``day_seals`` (signed day seals); and, the other way, ``confirmations`` (the collector's
signed delivery confirmations to one agent).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from contract.wire._errors import BadTopic

TOPIC_ROOT = "rv/v1"
WINDOWS_FILTER = f"{TOPIC_ROOT}/+/+/+/windows"
STATUS_FILTER = f"{TOPIC_ROOT}/+/+/+/status"
DAY_SEALS_FILTER = f"{TOPIC_ROOT}/+/+/+/day_seals"

#: The kind of message a topic carries: its last level.
TopicKind = Literal["windows", "status", "day_seals"]
_KINDS: tuple[TopicKind, ...] = ("windows", "status", "day_seals")

#: Platform, enterprise, agent and device ids: they become MQTT topic levels, InfluxDB tag values
#: and file names, so only ASCII letters, digits, ``.``, ``_`` and ``-``; no ``/ + #``, no
#: whitespace, no leading ``$`` (MQTT's system topics) or dot, 1 to 64 characters.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)


def validate_identifier(value: str, *, what: str = "identifier") -> str:
    """Return ``value`` if it is a valid platform, enterprise, agent or device id; else BadTopic."""
    if not _IDENTIFIER_RE.fullmatch(value):
        raise BadTopic(
            f"{value[:80]!r} is not a valid id: expected 1-64 of A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit",
            field=what,
        )
    return value


class TopicAddress(BaseModel):
    """Who a topic belongs to and which kind of message it carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: str
    enterprise: str
    agent: str
    kind: TopicKind


def _topic(platform: str, enterprise: str, agent: str, kind: str) -> str:
    validate_identifier(platform, what="platform")
    validate_identifier(enterprise, what="enterprise")
    validate_identifier(agent, what="agent")
    return f"{TOPIC_ROOT}/{platform}/{enterprise}/{agent}/{kind}"


def windows_topic(platform: str, enterprise: str, agent: str) -> str:
    """``rv/v1/{platform}/{enterprise}/{agent}/windows``: signed KPI window batches, QoS 1."""
    return _topic(platform, enterprise, agent, "windows")


def status_topic(platform: str, enterprise: str, agent: str) -> str:
    """``rv/v1/{platform}/{enterprise}/{agent}/status``: retained birth and Last Will."""
    return _topic(platform, enterprise, agent, "status")


def day_seals_topic(platform: str, enterprise: str, agent: str) -> str:
    """``rv/v1/{platform}/{enterprise}/{agent}/day_seals``: signed day seals, QoS 1."""
    return _topic(platform, enterprise, agent, "day_seals")


def confirmations_topic(platform: str, enterprise: str, agent: str) -> str:
    """``rv/v1/{platform}/{enterprise}/{agent}/confirmations``: the collector's signed delivery
    confirmations for this agent, QoS 1. Only the collector writes it and only this agent
    reads it (collector.broker.acl); the collector never receives it, so it is no
    :data:`TopicKind` and :func:`parse_topic` refuses it."""
    return _topic(platform, enterprise, agent, "confirmations")


def shared_filter(group: str, kind: TopicKind) -> str:
    """Shared-subscription filter ``$share/{group}/rv/v1/+/+/+/{kind}`` for collector replicas."""
    validate_identifier(group, what="group")
    return f"$share/{group}/{TOPIC_ROOT}/+/+/+/{kind}"


def parse_topic(topic: str) -> TopicAddress:
    """Split a received topic into its address; raise :class:`BadTopic` for anything else."""
    levels = topic.split("/")
    if len(levels) != 6 or "/".join(levels[:2]) != TOPIC_ROOT:
        raise BadTopic(f"{topic[:200]!r} is not rv/v1/<platform>/<enterprise>/<agent>/<kind>")
    _, _, platform, enterprise, agent, kind = levels
    known = next((k for k in _KINDS if k == kind), None)
    if known is None:
        raise BadTopic(f"unknown message kind {kind[:40]!r}: expected windows, status or day_seals")
    return TopicAddress(
        platform=validate_identifier(platform, what="platform"),
        enterprise=validate_identifier(enterprise, what="enterprise"),
        agent=validate_identifier(agent, what="agent"),
        kind=known,
    )
