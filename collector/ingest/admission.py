"""Admission: which received messages may be written, and the quarantine for the rest.

Every message, in order: size limit, wire decoding (canonical, strict), topic = payload
identity = registry entry, agent not revoked, devices registered, signature, seq
(new / duplicate / replay). Duplicates are counted and written again (idempotent: same series,
same timestamp); replays (an old seq with new content) are quarantined; gaps are recorded by
the registry and close when the missing seq arrives. Status messages are checked the same way
and recorded in the registry here; they are never written to InfluxDB. Day seals are checked
the same way too, plus their zone (:mod:`collector.ingest.day_seals`), their seqs recorded with
the batch's envelopes, and kept in the registry here; never written to InfluxDB either.

A refused message is kept in the registry's quarantine with its reason code (counted, and
logged within :mod:`collector.ingest.quarantine_log`'s limits), then settled: acknowledged
once every message received before it is settled too (:mod:`collector.ingest.acks`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from collector.ingest.day_seals import (
    check_day_seal,
    decode_day_seal,
    plan_zone,
    seal_conflict_detail,
)
from collector.ingest.quarantine_log import QuarantineLog
from collector.ingest.refusals import Refused as _Refused
from collector.ingest.refusals import checked_identity as _identity
from collector.ingest.registry_calls import AgentIdentity, IngestRegistry, RegistryCalls
from collector.ingest.settings import IngestSettings
from collector.ingest.stats import IngestStats
from collector.store import WindowRecord, window_records
from contract import wire

__all__ = ["Accepted", "Admission", "Quarantine", "Received", "Settle", "Verified"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)


@dataclass
class Received:
    """One message as paho handed it over, stamped when it arrived."""

    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: dt.datetime
    #: Which broker connection delivered it (the replica's count of lost links): ``mid`` is a
    #: packet id, and names this message only on that connection.
    link: int = 0


#: A windows message admitted, with the points to write for it.
Accepted = tuple[Received, list[WindowRecord]]
#: ``settle(messages)``: these are stored or quarantined; acknowledge them in receive order.
Settle = Callable[[list[Received]], object]


class Quarantine:
    """Keeps refused messages: counted, logged within limits, stored in the registry."""

    def __init__(
        self,
        settings: IngestSettings,
        registry: IngestRegistry,
        calls: RegistryCalls,
        stats: IngestStats,
    ) -> None:
        self._registry = registry
        self._calls = calls
        self._stats = stats
        self._lines = QuarantineLog(
            log,
            lambda delay_s, summarise: asyncio.get_running_loop().call_later(delay_s, summarise),
            burst=settings.quarantine_log_burst,
            every_s=settings.quarantine_log_every_s,
        )

    async def keep(self, message: Received, code: str, detail: str) -> None:
        """Count, log and store ``message`` with reason ``code`` (the caller settles it)."""
        self._stats.quarantined[code] += 1
        self._lines.quarantined(message.topic, code, detail)
        await self._calls.run(self._keep_quarantined, message, code, detail)

    def summarise(self) -> None:
        """Log the summary of the lines held back so far (at the end of a run)."""
        self._lines.summarise()

    def _keep_quarantined(self, message: Received, code: str, detail: str) -> None:
        """Store a rejected message, naming the registered agent its topic names (if any).

        Runs in the registry thread.
        """
        # The topic, not the payload: the broker's ACL lets each agent's credentials publish
        # under its own topics only. Registered under another enterprise or revoked still
        # counts: the evidence of that agent's enterprise should see what was sent in its name.
        # One indexed read, on the quarantine path only; valid messages never pay it.
        try:
            named = wire.parse_topic(message.topic).agent
        except wire.WireError:
            named = None
        registered = named is not None and self._registry.agent_identity(named) is not None
        self._registry.quarantine_add(
            message.payload,
            message.topic,
            message.received_at,
            code,
            detail,
            agent_id=named if registered else None,
        )


#: A message whose signature verified under its agent's registered key.
Verified = wire.ReceivedEnvelope | wire.DaySeal

#: A decoded message waiting for its identity check: a windows envelope or a day seal.
_Decoded = tuple[Received, wire.TopicAddress, wire.ReceivedEnvelope | wire.DaySeal]


class Admission:
    """Checks batches of received messages; what fails goes to the quarantine."""

    def __init__(
        self,
        registry: IngestRegistry,
        calls: RegistryCalls,
        stats: IngestStats,
        quarantine: Quarantine,
        settle: Settle,
        seal_stored: Callable[[wire.DaySeal], None] | None = None,
        refused_for_good: Callable[[Verified, str], None] | None = None,
    ) -> None:
        self._registry = registry
        self._calls = calls
        self._stats = stats
        self._quarantine = quarantine
        self._settle = settle
        #: Told of each day seal the registry keeps (new or again), for the confirmations.
        self._seal_stored = seal_stored
        #: Told of each verified message refused for a reason its re-send cannot change.
        self._refused_for_good = refused_for_good

    async def admit(self, batch: list[Received]) -> list[Accepted]:
        """Check a batch and record its seqs; settle what is refused; return what to write."""
        settled: list[Received] = []
        decoded: list[_Decoded] = []
        for message in batch:
            try:
                item = await self._decode(message)
            except _Refused as refused:
                await self._refuse(message, refused)
                settled.append(message)
                continue
            if item is None:  # a status message, handled
                settled.append(message)
            else:
                decoded.append(item)
        # One registry read for every agent (and seal zone) of the batch, made after the
        # messages arrived.
        entries, zones = await self._calls.run(self._identities, decoded)
        checked: list[tuple[Received, wire.ReceivedEnvelope | wire.DaySeal]] = []
        for message, address, body in decoded:
            try:
                if isinstance(body, wire.DaySeal):
                    check_day_seal(
                        address, message.payload, body, entries.get(body.agent),
                        zones.get(body.enterprise), message.received_at,
                    )  # fmt: skip
                else:
                    self._verify(message, address, body, entries.get(body.agent))
            except _Refused as refused:
                await self._refuse(message, refused)
                settled.append(message)
                continue
            checked.append((message, body))
        accepted = await self._record_seqs(checked, settled)
        self._settle(settled)
        return accepted

    async def _refuse(
        self, message: Received, refused: _Refused, *, final: Verified | None = None
    ) -> None:
        """Quarantine ``message``; ``final``: its verified body, refused for a reason the
        same bytes sent again cannot change, told to the agent once the quarantine has it."""
        if message.topic.endswith("/day_seals"):  # counted apart: seals are few and each matters
            self._stats.day_seals["quarantined"] += 1
        await self._quarantine.keep(message, refused.code, str(refused))
        if final is not None and self._refused_for_good is not None:
            self._refused_for_good(final, refused.code)

    def _identities(
        self, decoded: list[_Decoded]
    ) -> tuple[dict[str, AgentIdentity | None], dict[str, str | None]]:
        agents = {body.agent for _, _, body in decoded}
        sealed = {body.enterprise for _, _, body in decoded if isinstance(body, wire.DaySeal)}
        return (
            {agent: self._registry.agent_identity(agent) for agent in agents},
            {enterprise: plan_zone(self._registry, enterprise) for enterprise in sealed},
        )

    async def _record_seqs(
        self,
        checked: list[tuple[Received, wire.ReceivedEnvelope | wire.DaySeal]],
        settled: list[Received],
    ) -> list[Accepted]:
        """Record the seqs (one transaction, one fsync); quarantine replays into ``settled``;
        keep the day seals (settled: nothing to write)."""
        if not checked:
            return []
        items = [
            (body.agent, body.seq, hashlib.sha256(msg.payload).hexdigest()) for msg, body in checked
        ]
        outcomes = await self._calls.run(self._registry.record_seqs, items)
        accepted: list[Accepted] = []
        for (message, body), outcome in zip(checked, outcomes, strict=True):
            if outcome == "replay":
                detail = f"agent {body.agent} seq {body.seq} came before with other content"
                await self._refuse(message, _Refused("replay", detail), final=body)
                settled.append(message)
                continue
            if isinstance(body, wire.DaySeal):
                await self._keep_seal(message, body)
                settled.append(message)
                continue
            if outcome == "duplicate":
                self._stats.duplicates += 1
                log.debug("agent %s seq %d again (duplicate)", body.agent, body.seq)
            accepted.append((message, window_records(body)))
        return accepted

    async def _keep_seal(self, message: Received, seal: wire.DaySeal) -> None:
        """Keep a checked seal (its day marked dirty with it); a conflict goes to quarantine."""
        stored = await self._calls.run(
            lambda: self._registry.add_day_seal(
                seal, message.payload, received_at=message.received_at
            )
        )
        if stored.outcome == "conflict":
            detail = seal_conflict_detail(seal, stored.held_sha256)
            await self._refuse(message, _Refused("seal_conflict", detail), final=seal)
            return
        self._stats.day_seals[stored.outcome] += 1
        if self._seal_stored is not None:
            self._seal_stored(seal)
        log.info(
            "day seal of %s/%s %s version %d (index %d, seq %d): %s",
            seal.agent, seal.device, seal.day, seal.version, seal.index, seal.seq, stored.outcome,
        )  # fmt: skip

    async def _decode(self, message: Received) -> _Decoded | None:
        """A windows message's or day seal's topic address and body; None for a status
        message handled."""
        try:
            address = wire.parse_topic(message.topic)
        except wire.WireError as exc:
            self._stats.received["other"] += 1
            raise _Refused(exc.code, str(exc)) from exc
        self._stats.received[address.kind] += 1
        if address.kind == "status":
            await self._status(message, address)
            return None
        if address.kind == "day_seals":
            return message, address, decode_day_seal(message.payload)
        try:
            envelope = wire.decode_windows(message.payload)
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc
        return message, address, envelope

    def _verify(
        self,
        message: Received,
        address: wire.TopicAddress,
        envelope: wire.ReceivedEnvelope,
        entry: AgentIdentity | None,
    ) -> None:
        """Identity, devices and signature of a decoded windows message; raises _Refused."""
        entry = _identity(address, envelope, entry, message.received_at)
        unknown = sorted({r.device for r in envelope.records} - set(entry.devices))
        if entry.devices and unknown:
            raise _Refused(
                "unknown_device",
                f"agent {envelope.agent} sent devices {unknown[:5]} it is not registered for",
            )
        try:
            wire.verify_received(message.payload, envelope, entry.key())
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc

    async def _status(self, message: Received, address: wire.TopicAddress) -> None:
        try:
            status = wire.decode_status(message.payload)
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc
        found = await self._calls.run(self._registry.agent_identity, status.agent)
        entry = _identity(address, status, found, message.received_at)
        try:
            wire.verify(status, entry.key())
        except wire.WireError as exc:
            raise _Refused(exc.code, str(exc)) from exc
        await self._calls.run(self._registry.record_status, status, message.received_at)
