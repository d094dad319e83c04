"""Admission of day seals: decoded, checked as windows are, then kept in the registry.

A day seal (docs/wire-contract.md, "Day seal") is an agent's signed account of one device's
local day. In :class:`~collector.ingest.admission.Admission`'s batch, in receive order:
decoded (the exact path: seals are few, one per device and day); topic = payload = registry
identity, key not revoked; the device registered to the agent (``unknown_device``); the
signature; the seal's zone equal to the plan's zone of the enterprise (``seal_zone``: a gateway
closing days in another zone would seal days the collector never cuts); its seq recorded in
the batch's one ``record_seqs`` call (it comes from the agent's envelope counter, so a seal and
an envelope under one seq is a ``replay``). Then one registry transaction keeps it and marks
its day dirty, so the rollup refresh checks the day's row against it
(:mod:`collector.ingest.day_checks`); another seal already at its chain index is quarantined
as ``seal_conflict``. A seal is never written to InfluxDB.
"""

from __future__ import annotations

import datetime as dt

from collector.errors import NotFoundError
from collector.ingest.refusals import Refused, checked_identity
from collector.ingest.registry_calls import AgentIdentity, IngestRegistry
from contract import wire

__all__ = ["check_day_seal", "decode_day_seal", "plan_zone", "seal_conflict_detail"]


def decode_day_seal(payload: bytes) -> wire.DaySeal:
    """The seal of ``payload``; raises Refused with the wire's reason code."""
    try:
        return wire.decode_day_seal(payload)
    except wire.WireError as exc:
        raise Refused(exc.code, str(exc)) from exc


def plan_zone(registry: IngestRegistry, enterprise: str) -> str | None:
    """The enterprise's zone in the latest plan listing it, or None (its agent is then
    unknown too, which the identity check says). Runs in the registry thread."""
    try:
        return registry.enterprise_zone(enterprise)
    except NotFoundError:
        return None


def check_day_seal(
    address: wire.TopicAddress,
    payload: bytes,
    seal: wire.DaySeal,
    entry: AgentIdentity | None,
    zone: str | None,
    received_at: dt.datetime,
) -> None:
    """Identity, device, signature and zone of a decoded seal; raises Refused. No I/O."""
    entry = checked_identity(address, seal, entry, received_at)
    if entry.devices and seal.device not in entry.devices:
        raise Refused(
            "unknown_device",
            f"agent {seal.agent} sealed device {seal.device} it is not registered for",
        )
    try:
        wire.verify_received(payload, seal, entry.key())
    except wire.WireError as exc:
        raise Refused(exc.code, f"day seal of {seal.device} {seal.day}: {exc}") from exc
    if zone is not None and seal.tz != zone:
        raise Refused(
            "seal_zone",
            f"agent {seal.agent} closes days in {seal.tz}, {seal.enterprise}'s plan says "
            f"{zone}: set agent.timezone",
        )


def seal_conflict_detail(seal: wire.DaySeal, held_sha256: str) -> str:
    """The quarantine's text for a seal whose chain index another seal holds."""
    return (
        f"agent {seal.agent} device {seal.device} chain index {seal.index} (day {seal.day} "
        f"version {seal.version}) is held by another seal {held_sha256[:16]}…: two seals "
        "at one index"
    )
