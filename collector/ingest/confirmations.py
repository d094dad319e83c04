"""Delivery confirmations: the collector tells each agent which of its seqs are stored (#19).

A PUBACK from the broker only says the broker has a message; mosquitto keeps queued messages
in memory between snapshots, so a broker that crashes while InfluxDB is down loses windows the
agents had already let go. So the replica confirms, per agent, the seqs it has *stored*: a
batch once its InfluxDB write succeeded (its seqs were recorded in the registry before, by
:mod:`collector.ingest.admission`), a day seal once the registry keeps it. This is the point
where the PUBACK leaves too. A duplicate is confirmed again (the agent re-sent it because the
first confirmation did not reach it).

Seqs wait here and leave as one signed :class:`contract.wire.Confirmation` per agent and
round (every ``confirm_every_s``), as ranges, QoS 1, on the agent's own topic. A round with no
broker link keeps them for the next. Nothing here is durable, and need not be: a confirmation
lost with this process is made good by the agent's re-send after its timeout, which is stored
as a duplicate and confirmed then.

Signed with the collector confirmation key, not the bundle key: the two answer to different
people and are used at different places (every replica signs confirmations all day, while the
bundle key signs what a reviewer trusts once a period), so a replica host never holds the key
whose loss would let someone forge evidence bundles, and either can be rotated alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.ingest.stats import IngestStats
from contract import wire

__all__ = ["Confirmations", "Publish"]

log = logging.getLogger("collector.ingest")  # the package's one name (see __init__)

#: ``publish(topic, payload)``: send at QoS 1; False when there is no broker link to send on.
Publish = Callable[[str, bytes], bool]
#: Who a confirmation goes to: platform, enterprise, agent.
Recipient = tuple[str, str, str]


class Confirmations:
    """Seqs stored and not yet confirmed, per agent; :meth:`send` confirms them."""

    def __init__(
        self, key: Ed25519PrivateKey, publish: Publish, stats: IngestStats, every_s: float
    ) -> None:
        self._key = key
        self._publish = publish
        self._stats = stats
        self._every_s = every_s
        self._pending: defaultdict[Recipient, set[int]] = defaultdict(set)

    def stored(self, stored: Iterable[tuple[str, str, str, int]]) -> None:
        """Note ``(platform, enterprise, agent, seq)`` as stored; confirmed next round."""
        for platform, enterprise, agent, seq in stored:
            self._pending[platform, enterprise, agent].add(seq)

    @property
    def pending(self) -> int:
        """Seqs stored and not confirmed yet."""
        return sum(len(seqs) for seqs in self._pending.values())

    async def send_forever(self) -> None:
        """Send a round every ``every_s`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self._every_s)
            self.send()

    def send(self) -> int:
        """One confirmation per agent with stored seqs (more if it has over
        :data:`contract.wire.MAX_CONFIRMED_RANGES` ranges); returns how many were published.
        An agent's seqs stay for the next round when there is no link to publish on."""
        published = 0
        now = dt.datetime.now(dt.UTC)
        sent = now.replace(microsecond=now.microsecond // 1000 * 1000)
        for recipient in list(self._pending):
            ranges = wire.seq_ranges(self._pending[recipient])
            platform, enterprise, agent = recipient
            topic = wire.confirmations_topic(platform, enterprise, agent)
            for at in range(0, len(ranges), wire.MAX_CONFIRMED_RANGES):
                chunk = ranges[at : at + wire.MAX_CONFIRMED_RANGES]
                confirmation = wire.seal_confirmation(
                    platform=platform,
                    enterprise=enterprise,
                    agent=agent,
                    sent=sent,
                    stored=chunk,
                    key=self._key,
                )
                if not self._publish(topic, wire.encode(confirmation)):
                    return published  # no link: this agent's rest and the others wait
                seqs = self._pending[recipient]
                for first, last in chunk:
                    count = last - first + 1
                    self._stats.confirmed_seqs += count
                    seqs.difference_update(range(first, last + 1))
                self._stats.confirmations_sent += 1
                published += 1
                log.debug("confirmed to %s: %s", agent, chunk[:5])
            if not self._pending[recipient]:
                del self._pending[recipient]
        return published
