"""Hostile messages for the fuzz test, each with the quarantine reason the collector must give.

A seeded generator, not hypothesis: the test needs ten thousand messages published in one
pipelined burst and counted by reason afterwards, and a failing seed must replay exactly.
Each kind below builds one message from a random source and names its reason code; the
reasons are the wire contract's (docs/wire-contract.md) and the ingest's own.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from contract import wire
from tests.collector.faults.harness import PLATFORM, T0, SigningAgent, seeded_key, window


@dataclass(frozen=True)
class Hostile:
    """One message to publish and the reason code it must be quarantined with."""

    kind: str
    reason: str
    topic: str
    payload: bytes


@dataclass
class Cast:
    """Who the generator can send as: honest agents, a revoked one, and the seqs used so far."""

    honest: list[SigningAgent]
    revoked: SigningAgent
    rng: random.Random
    #: Seqs each honest agent has already sent (valid traffic): replays pick from these.
    sent: dict[str, list[int]]

    def agent(self) -> SigningAgent:
        return self.rng.choice(self.honest)

    def high_seq(self) -> int:
        # Far above any valid seq: refused messages never reach the seq bookkeeping, and if one
        # slipped through it would open a gap the test sees.
        return self.rng.randrange(10**6, 10**7)

    def valid_dict(self, agent: SigningAgent | None = None) -> tuple[SigningAgent, dict[str, Any]]:
        who = agent or self.agent()
        parsed: dict[str, Any] = json.loads(who.payload(self.high_seq()))
        return who, parsed


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def malformed_json(c: Cast) -> Hostile:
    who = c.agent()
    raw = who.payload(c.high_seq())
    return Hostile("malformed_json", "not_json", who.topic, raw[: c.rng.randrange(len(raw))])


def random_bytes(c: Cast) -> Hostile:
    raw = c.rng.randbytes(c.rng.randrange(1, 2048))
    return Hostile("random_bytes", "not_json", c.agent().topic, raw)


_WRONG_TYPES: list[tuple[str, Any]] = [
    ("seq", "7"), ("seq", 7.0), ("seq", True), ("seq", 0), ("seq", None), ("records", "x"),
    ("records", []), ("sent", 1780000000), ("sent", "2026-06-01 00:00:00"), ("sig", 5),
    ("records.0.total_count", 3.0), ("records.0.total_count", "12"),
    ("records.0.total_count", -1), ("records.0.run_s", "50"), ("records.0.run_s", [50]),
    ("records.0.quality", {}), ("records.0.device", 7), ("records.0.provenance", "guessed"),
    ("records.0.start", None), ("records.0.extra", 1), ("extra", True), ("agent", ["x"]),
]  # fmt: skip


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[last] = value


def wrong_types(c: Cast) -> Hostile:
    who, document = c.valid_dict()
    path, value = c.rng.choice(_WRONG_TYPES)
    _set(document, path, value)
    return Hostile("wrong_types", "invalid", who.topic, _canonical(document))


def nan(c: Cast) -> Hostile:
    who, document = c.valid_dict()
    field = c.rng.choice(["run_s", "energy_kwh", "idle_s", "ideal_cycle_s"])
    document["records"][0][field] = 1.5
    literal = c.rng.choice([b"NaN", b"Infinity", b"-Infinity"])
    raw = _canonical(document).replace(f'"{field}":1.5'.encode(), f'"{field}":'.encode() + literal)
    return Hostile("nan", "not_json", who.topic, raw)


def huge_numbers(c: Cast) -> Hostile:
    who, document = c.valid_dict()
    field, value = c.rng.choice(
        [("total_count", 2**63), ("total_count", 10**30), ("good_count", 2**64 + 1),
         ("run_s", 1e308), ("energy_kwh", 1e13), ("samples", 10**40)]
    )  # fmt: skip
    target = document["records"][0]
    (target["quality"] if field == "samples" else target)[field] = value
    return Hostile("huge_numbers", "invalid", who.topic, _canonical(document))


def huge_number_text(c: Cast) -> Hostile:
    """A float that overflows to infinity, or an integer past Python's 4300-digit limit."""
    who, document = c.valid_dict()
    document["records"][0]["energy_kwh"] = 0.5
    raw = _canonical(document)
    if c.rng.random() < 0.5:  # json.loads gives inf; the model refuses non-finite numbers
        big, reason = b"1e400", "invalid"
    else:
        big, reason = b"9" * 5000, "not_json"
    raw = raw.replace(b'"energy_kwh":0.5', b'"energy_kwh":' + big)
    return Hostile("huge_number_text", reason, who.topic, raw)


def oversized(c: Cast) -> Hostile:
    who, document = c.valid_dict()
    document["padding"] = "x" * (wire.MAX_MESSAGE_BYTES + c.rng.randrange(1, 4096))
    return Hostile("oversized", "too_large", who.topic, _canonical(document))


def deep_nesting(c: Cast) -> Hostile:
    depth = c.rng.randrange(20_000, 80_000)  # 80k x 6 bytes stays under the size limit
    opener, closer = c.rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    raw = b'{"v":1,"records":' + opener * depth + b"1" + closer * depth + b"}"
    return Hostile("deep_nesting", "not_json", c.agent().topic, raw)


def bad_signature(c: Cast) -> Hostile:
    who = c.agent()
    forged = who.payload(c.high_seq(), key=seeded_key(c.rng))
    return Hostile("bad_signature", "bad_signature", who.topic, forged)


def tampered(c: Cast) -> Hostile:
    """A correctly signed envelope with one field changed after signing."""
    who, document = c.valid_dict()
    document["seq"] += 1  # still a valid envelope, but not the one the agent signed
    return Hostile("tampered", "bad_signature", who.topic, _canonical(document))


def unknown_agent(c: Cast) -> Hostile:
    ghost = SigningAgent(f"gw-ghost-{c.rng.randrange(1000)}", "ent-01", seeded_key(c.rng), ("d",))
    return Hostile("unknown_agent", "unknown_agent", ghost.topic, ghost.payload(c.high_seq()))


def revoked_key(c: Cast) -> Hostile:
    raw = c.revoked.payload(c.rng.randrange(1, 10**6))
    return Hostile("revoked_key", "revoked_key", c.revoked.topic, raw)


_BAD_LEVELS = ["gw@x", "gw x", "-gw", ".gw", "", "gw" * 40, "gw\u00e9", "$gw"]


def wrong_topic(c: Cast) -> Hostile:
    """A topic the shared subscription matches but whose levels are not valid ids."""
    who = c.agent()
    levels = [PLATFORM, who.enterprise, who.agent]
    levels[c.rng.randrange(3)] = c.rng.choice(_BAD_LEVELS)
    topic = f"rv/v1/{levels[0]}/{levels[1]}/{levels[2]}/windows"
    return Hostile("wrong_topic", "bad_topic", topic, who.payload(c.high_seq()))


def topic_mismatch(c: Cast) -> Hostile:
    """An agent's own valid envelope published on another agent's topic."""
    who, other = c.rng.sample(c.honest, 2)
    return Hostile("topic_mismatch", "identity_mismatch", other.topic, who.payload(c.high_seq()))


def impersonation(c: Cast) -> Hostile:
    """Another agent's identity, topic and payload, signed with one's own key."""
    who, victim = c.rng.sample(c.honest, 2)
    raw = victim.payload(c.high_seq(), key=who.key)
    return Hostile("impersonation", "bad_signature", victim.topic, raw)


def replayed_seq(c: Cast) -> Hostile:
    """A seq the agent already sent, with other content, correctly signed (a stolen key)."""
    who = c.rng.choice([a for a in c.honest if c.sent[a.agent]])
    seq = c.rng.choice(c.sent[who.agent])
    raw = who.payload(seq, run_s=c.rng.choice([10.0, 20.0, 30.0, 40.0]))
    return Hostile("replayed_seq", "replay", who.topic, raw)


def non_canonical(c: Cast) -> Hostile:
    who = c.agent()
    signed = json.loads(who.payload(c.high_seq()))
    style = c.rng.randrange(3)
    if style == 0:
        raw = json.dumps(signed, sort_keys=True, indent=1).encode()
    elif style == 1:
        raw = json.dumps(dict(reversed(list(signed.items()))), separators=(",", ":")).encode()
    else:
        raw = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode() + b" "
    return Hostile("non_canonical", "not_canonical", who.topic, raw)


def unknown_device(c: Cast) -> Hostile:
    who = c.agent()
    stranger = SigningAgent(who.agent, who.enterprise, who.key, ("press-99",))
    return Hostile("unknown_device", "unknown_device", who.topic, stranger.payload(c.high_seq()))


def wrong_version(c: Cast) -> Hostile:
    who, document = c.valid_dict()
    document["v"] = c.rng.choice([0, 2, 99, "1", None])
    return Hostile("wrong_version", "unsupported_version", who.topic, _canonical(document))


def status_garbage(c: Cast) -> Hostile:
    who = c.agent()
    topic = wire.status_topic(PLATFORM, who.enterprise, who.agent)
    return Hostile("status_garbage", "not_json", topic, c.rng.randbytes(c.rng.randrange(1, 300)))


def _seal(c: Cast, who: SigningAgent, **changes: Any) -> bytes:
    """A day seal of one window of ``who``'s first device, at a seq far above valid ones."""
    seq = c.high_seq()
    device = changes.pop("device", who.devices[0])
    start = T0 + timedelta(minutes=c.rng.randrange(600))
    chain = who.seal_chain(device)
    key = changes.pop("key", None)
    return chain.seal(start.date(), [(seq, window(device, start))], seq=seq + 1, key=key, **changes)


def seal_garbage(c: Cast) -> Hostile:
    who = c.agent()
    return Hostile(
        "seal_garbage", "not_json", who.seals_topic, c.rng.randbytes(c.rng.randrange(1, 300))
    )


def seal_as_windows(c: Cast) -> Hostile:
    """A valid day seal on the windows topic, or a valid envelope on the day seals topic."""
    who = c.agent()
    if c.rng.random() < 0.5:
        return Hostile("seal_as_windows", "invalid", who.topic, _seal(c, who))
    return Hostile("seal_as_windows", "invalid", who.seals_topic, who.payload(c.high_seq()))


def seal_forged(c: Cast) -> Hostile:
    """A day seal signed by another key, or a signed one with its day changed afterwards."""
    who = c.agent()
    if c.rng.random() < 0.5:
        raw = _seal(c, who, key=seeded_key(c.rng))
    else:
        document = json.loads(_seal(c, who))
        document["day"] = "2026-05-01"
        raw = _canonical(document)
    return Hostile("seal_forged", "bad_signature", who.seals_topic, raw)


def seal_zone(c: Cast) -> Hostile:
    who = c.agent()
    raw = _seal(c, who, tz=c.rng.choice(["Europe/Berlin", "UTC", "Asia/Tokyo"]))
    return Hostile("seal_zone", "seal_zone", who.seals_topic, raw)


def seal_unknown_device(c: Cast) -> Hostile:
    who = c.agent()
    return Hostile(
        "seal_unknown_device", "unknown_device", who.seals_topic, _seal(c, who, device="press-99")
    )


#: Each kind and its weight: oversized and deep nesting are few, as they are large.
KINDS: list[tuple[Callable[[Cast], Hostile], int]] = [
    (malformed_json, 10), (random_bytes, 10), (wrong_types, 10), (nan, 6), (huge_numbers, 6),
    (huge_number_text, 4), (oversized, 1), (deep_nesting, 1), (bad_signature, 8), (tampered, 6),
    (unknown_agent, 6), (revoked_key, 6), (wrong_topic, 6), (topic_mismatch, 6),
    (impersonation, 6), (replayed_seq, 6), (non_canonical, 6), (unknown_device, 4),
    (wrong_version, 4), (status_garbage, 3), (seal_garbage, 3), (seal_as_windows, 3),
    (seal_forged, 4), (seal_zone, 3), (seal_unknown_device, 2),
]  # fmt: skip


def hostile(cast: Cast) -> Hostile:
    """One hostile message of a kind chosen by weight."""
    makers = [maker for maker, _ in KINDS]
    weights = [weight for _, weight in KINDS]
    chosen: Callable[[Cast], Hostile] = cast.rng.choices(makers, weights)[0]
    return chosen(cast)
