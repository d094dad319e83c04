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
    """Seqs stored or refused and not yet confirmed, per agent; :meth:`send` confirms them."""

    def __init__(
        self, key: Ed25519PrivateKey, publish: Publish, stats: IngestStats, every_s: float
    ) -> None:
        self._key = key
        self._publish = publish
        self._stats = stats
        self._every_s = every_s
        self._stored: defaultdict[Recipient, set[int]] = defaultdict(set)
        self._refused: defaultdict[Recipient, dict[int, str]] = defaultdict(dict)

    def stored(self, stored: Iterable[tuple[str, str, str, int]]) -> None:
        """Note ``(platform, enterprise, agent, seq)`` as stored; confirmed next round."""
        for platform, enterprise, agent, seq in stored:
            self._stored[platform, enterprise, agent].add(seq)

    def refused(self, platform: str, enterprise: str, agent: str, seq: int, reason: str) -> None:
        """Note a seq as refused for good, with its quarantine code; confirmed next round.

        Only for a message whose signature verified under the agent's registered key and
        whose refusal the same bytes sent again cannot change (``replay``: the registry holds
        other content for the seq; ``seal_conflict``: another seal holds its chain index),
        kept in the quarantine first: the agent then deletes its copy, and nothing is lost.
        A forged message never gets here, so no one can make an agent delete a batch.
        """
        self._refused[platform, enterprise, agent].setdefault(seq, reason)

    @property
    def pending(self) -> int:
        """Seqs stored or refused and not confirmed yet."""
        stored = sum(len(seqs) for seqs in self._stored.values())
        return stored + sum(len(seqs) for seqs in self._refused.values())

    async def send_forever(self) -> None:
        """Send a round every ``every_s`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self._every_s)
            self.send()

    def send(self) -> int:
        """One confirmation per agent with seqs to confirm (more if it has over
        :data:`contract.wire.MAX_CONFIRMED_RANGES` ranges of either); returns how many were
        published. An agent's seqs stay for the next round when there is no link."""
        published = 0
        now = dt.datetime.now(dt.UTC)
        sent = now.replace(microsecond=now.microsecond // 1000 * 1000)
        for recipient in list(self._stored.keys() | self._refused.keys()):
            stored = self._stored.pop(recipient, set())
            refused = self._refused.pop(recipient, {})
            # A seq stored (by an earlier copy) is stored: the refusal of a later one adds
            # nothing for the agent, and one message may not name a seq twice.
            for seq in stored & refused.keys():
                del refused[seq]
            chunks = _chunks(wire.seq_ranges(stored), wire.refusal_ranges(refused.items()))
            for at, (stored_chunk, refused_chunk) in enumerate(chunks):
                if not self._publish_one(recipient, sent, stored_chunk, refused_chunk):
                    self._keep(recipient, chunks[at:])  # no link: the rest waits
                    return published
                published += 1
        return published

    def _publish_one(
        self,
        recipient: Recipient,
        sent: dt.datetime,
        stored: list[tuple[int, int]],
        refused: list[tuple[int, int, str]],
    ) -> bool:
        platform, enterprise, agent = recipient
        confirmation = wire.seal_confirmation(
            platform=platform,
            enterprise=enterprise,
            agent=agent,
            sent=sent,
            stored=stored,
            refused=refused,
            key=self._key,
        )
        topic = wire.confirmations_topic(platform, enterprise, agent)
        if not self._publish(topic, wire.encode(confirmation)):
            return False
        self._stats.confirmed_seqs += sum(last - first + 1 for first, last in stored)
        self._stats.refused_seqs += sum(last - first + 1 for first, last, _ in refused)
        self._stats.confirmations_sent += 1
        log.debug("confirmed to %s: stored %s refused %s", agent, stored[:5], refused[:5])
        return True

    def _keep(self, recipient: Recipient, chunks: list[_Chunk]) -> None:
        """Put back what was not published, for the next round."""
        for stored, refused in chunks:
            for first, last in stored:
                self._stored[recipient].update(range(first, last + 1))
            for first, last, reason in refused:
                for seq in range(first, last + 1):
                    self._refused[recipient].setdefault(seq, reason)


#: One confirmation's stored ranges and refused ranges.
_Chunk = tuple[list[tuple[int, int]], list[tuple[int, int, str]]]


def _chunks(stored: list[tuple[int, int]], refused: list[tuple[int, int, str]]) -> list[_Chunk]:
    """The ranges split into messages of at most MAX_CONFIRMED_RANGES of each."""
    size = wire.MAX_CONFIRMED_RANGES
    count = max(-(-len(stored) // size), -(-len(refused) // size))
    return [(stored[i * size : (i + 1) * size], refused[i * size : (i + 1) * size])
            for i in range(count)]  # fmt: skip
