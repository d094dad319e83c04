"""Delivery confirmed end to end: batches kept until the collector says they are stored (#19).

The publisher (:mod:`agent.publish`) calls in at four points: the broker's PUBACK
(:meth:`Delivery.acked`: forget the batch, or keep it awaiting confirmation), a message on the
agent's confirmations topic (:meth:`Delivery.received`), each publishing round
(:meth:`Delivery.due_again`: batches awaiting confirmation past ``resend_after_s``), and before
sealing new batches (:meth:`Delivery.room`). The outbox holds every state
(:mod:`agent.outbox`: ``batches.acked_ms``), so a restart loses no awaited batch.

A confirmation deletes batches only when it decodes under the wire contract, is signed by a
pinned collector confirmation key and names this agent: the seqs it says are stored, and those
it says are refused for good (a verified message the collector keeps in its quarantine and
that the same bytes sent again could never get stored: counted by reason,
``rv_agent_batches_refused_total``, and logged as an error). Anything else is ignored and counted
by reason (``rv_agent_confirmations_ignored_total``): a forged confirmation would make the
agent delete what the collector never stored.

``confirm: auto`` turns into ``required`` at the first valid confirmation and stays so across
restarts (a flag in the outbox file); docs/configuration.md, ``delivery``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from agent.config import DeliveryConfig
from agent.outbox import Outbox, SealedBatch
from contract import wire

__all__ = ["Delivery", "DeliveryState"]

log = logging.getLogger(__name__)

#: The outbox counter that remembers a collector confirmed once (``confirm: auto``).
_CONFIRMED_FLAG = "collector_confirmed"


@dataclass
class DeliveryState:
    """What status, metrics and health report about confirmations."""

    #: Valid confirmations received, and the batches they let the outbox forget.
    confirmations: int = 0
    batches_confirmed: int = 0
    #: Confirmations ignored, by reason: ``invalid`` (not a confirmation under the contract),
    #: ``bad_signature`` (no pinned key verifies it), ``other_agent`` (not for this agent).
    ignored: Counter[str] = field(default_factory=Counter)
    #: Batches the collector refused for good (kept in its quarantine), by reason; forgotten.
    refused: Counter[str] = field(default_factory=Counter)
    #: Batches sent again because no confirmation came within ``resend_after_s``.
    resent: int = 0
    #: True once batches are kept until confirmed (``required``, or ``auto`` after a
    #: collector confirmed).
    keeping: bool = False


class Delivery:
    """Confirmations for one agent's outbox; the outbox lock guards every call into it."""

    def __init__(
        self,
        config: DeliveryConfig,
        identity: tuple[str, str, str],
        outbox: Outbox,
        outbox_lock: asyncio.Lock,
    ) -> None:
        self.config = config
        self._identity = identity
        self._outbox = outbox
        self._lock = outbox_lock
        self._keys = [wire.public_key_from_text(text) for text in config.collector_keys]
        self.state = DeliveryState()
        #: The topic the collector confirms on; None when confirmations are off.
        self.topic = None if config.confirm == "off" else wire.confirmations_topic(*identity)

    async def start(self) -> None:
        """Read what the outbox remembers; with ``off``, forget batches kept awaiting
        confirmation by an earlier run (a PUBACK is enough again)."""
        async with self._lock:
            if self.config.confirm == "off":
                forgotten = await asyncio.to_thread(self._outbox.forget_awaiting)
                if forgotten:
                    log.info("confirmations off: %d batches the broker had are forgotten",
                             forgotten)  # fmt: skip
                return
            confirmed = await asyncio.to_thread(self._outbox.flag, _CONFIRMED_FLAG)
        self.state.keeping = self.config.confirm == "required" or confirmed

    async def acked(self, seq: int) -> None:
        """The broker acknowledged ``seq``: forget it, or keep it awaiting confirmation.

        Raises OutboxError when the outbox cannot be written.
        """
        async with self._lock:
            if self.state.keeping:
                acked_ms = round(time.time() * 1000)
                await asyncio.to_thread(self._outbox.await_confirmation, seq, acked_ms)
            else:
                await asyncio.to_thread(self._outbox.ack, seq)

    async def received(self, payload: bytes) -> int:
        """Handle a message of the confirmations topic; the batches it let the outbox forget.

        Raises OutboxError when the outbox cannot be written (the confirmation is then lost;
        its batches go again after ``resend_after_s`` and are confirmed again).
        """
        try:
            confirmation = wire.decode_confirmation(payload)
            wire.verify_confirmation(confirmation, self._keys)
        except wire.BadSignature as exc:
            return self._ignore("bad_signature", str(exc))
        except wire.WireError as exc:
            return self._ignore("invalid", f"{exc.code}: {exc}")
        named = (confirmation.platform, confirmation.enterprise, confirmation.agent)
        if named != self._identity:
            return self._ignore("other_agent", f"confirmation for {'/'.join(named)}")
        stored = [(r.first, r.last) for r in confirmation.stored]
        refused = [(r.first, r.last, r.reason) for r in confirmation.refused or []]
        async with self._lock:
            counts = await asyncio.to_thread(
                self._outbox.confirm, [*stored, *((first, last) for first, last, _ in refused)]
            )
            if not self.state.keeping:  # auto: the collector confirms; keep from now on
                await asyncio.to_thread(self._outbox.set_flag, _CONFIRMED_FLAG)
                log.info("the collector confirms deliveries: batches are kept until confirmed")
                self.state.keeping = True
        forgotten, dropped = sum(counts[: len(stored)]), counts[len(stored) :]
        # Every counter moves at once, after the outbox: one reading sees all of them or none.
        self.state.confirmations += 1
        self.state.batches_confirmed += forgotten
        for (first, last, reason), count in zip(refused, dropped, strict=True):
            self._refused(first, last, reason, count)
        log.debug("confirmation of %s: %d batches forgotten", stored[:5], forgotten)
        return forgotten

    def _refused(self, first: int, last: int, reason: str, dropped: int) -> None:
        """Count and report batches the collector refused for good (they are forgotten)."""
        self.state.refused[reason] += dropped
        if dropped:
            log.error(
                "the collector refused seq %d..%d for good (%s) and keeps them in its "
                "quarantine: %d batches forgotten here (retrofit-collector quarantine list "
                "shows them; a replay means this outbox reused seqs, e.g. restored from an "
                "old backup)", first, last, reason, dropped,
            )  # fmt: skip

    def _ignore(self, reason: str, detail: str) -> int:
        self.state.ignored[reason] += 1
        log.warning("confirmation ignored (%s), no batch forgotten: %s", reason, detail[:200])
        return 0

    async def due_again(self, limit: int, in_flight: set[int]) -> list[SealedBatch]:
        """Batches awaiting confirmation past ``resend_after_s``, not in flight, up to
        ``limit``: to publish again (same seq and bytes)."""
        if not self.state.keeping or limit <= 0:
            return []
        before_ms = round((time.time() - self.config.resend_after_s) * 1000)
        async with self._lock:
            due = await asyncio.to_thread(
                self._outbox.unconfirmed, before_ms, limit + len(in_flight)
            )
        again = [batch for batch in due if batch.seq not in in_flight][:limit]
        if again:
            self.state.resent += len(again)
            log.info("%d batches not confirmed within %d s, sent again (seq %d..%d)",
                     len(again), self.config.resend_after_s, again[0].seq,
                     again[-1].seq)  # fmt: skip
        return again

    async def room(self, in_flight: int) -> int:
        """How many more batches may be sealed: ``max_awaiting_batches`` less those awaiting
        confirmation and the ``in_flight`` ones (each will await once acknowledged)."""
        if not self.state.keeping:
            return sys.maxsize
        async with self._lock:
            awaiting = await asyncio.to_thread(self._outbox.awaiting_confirmation)
        return max(0, self.config.max_awaiting_batches - awaiting - in_flight)
