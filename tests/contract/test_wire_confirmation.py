"""The delivery confirmation on the wire: ranges, signatures, every bad field named, both codecs.

What tests/contract/test_wire_day_seal.py holds for day seals, held here for the collector's
delivery confirmation (#19): it is signed with the collector confirmation key, and an agent
deletes batches on it, so no changed byte may pass and no other kind may decode as it.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contract import wire
from contract.wire import _codec
from tests.contract.test_wire import KEY, OTHER_KEY, T0, make_envelope
from tests.contract.wire_strategies import confirmations

# No deadline on the property tests: a per-example time limit is a wall-clock assertion.


def make_confirmation(
    stored: list[tuple[int, int]] | None = None, **changes: Any
) -> wire.Confirmation:
    fields: dict[str, Any] = {
        "platform": "plat-a",
        "enterprise": "ent-01",
        "agent": "gw-01",
        "sent": T0,
        "stored": stored if stored is not None else [(1, 3), (7, 7), (9, 10)],
        "key": KEY,
    }
    return wire.seal_confirmation(**{**fields, **changes})


RAW = wire.encode(make_confirmation())


def assert_refused_naming(field: str, detail: str, **changes: Any) -> None:
    """RAW with ``changes`` is refused by both codecs, the exact one naming ``field``."""
    raw = wire.canonical_bytes({**json.loads(RAW), **changes})
    with pytest.raises(wire.InvalidMessage, match=detail) as caught:
        wire.decode_confirmation(raw)
    assert (caught.value.field or "").startswith(field)
    assert _codec.decode_compiled(wire.ReceivedConfirmation, raw) is None


def test_a_confirmation_is_compact_canonical_json() -> None:
    assert json.loads(RAW)["stored"] == [
        {"first": 1, "last": 3},
        {"first": 7, "last": 7},
        {"first": 9, "last": 10},
    ]
    assert json.loads(RAW)["kind"] == "confirmation"
    assert wire.decode_confirmation(RAW) == make_confirmation()


@given(st.sets(st.integers(min_value=1, max_value=200), min_size=1, max_size=60))
def test_seq_ranges_cover_exactly_the_seqs_merged(seqs: set[int]) -> None:
    ranges = wire.seq_ranges(list(seqs) + list(seqs))  # a seq twice is one seq
    covered = {seq for first, last in ranges for seq in range(first, last + 1)}
    assert covered == seqs
    # Ascending, and neither overlapping nor touching: one spelling per set of seqs.
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
    make_confirmation(stored=ranges)  # and the contract accepts them


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(confirmations(KEY))
def test_encode_decode_gives_the_same_confirmation(confirmation: wire.Confirmation) -> None:
    raw = wire.encode(confirmation)
    decoded = wire.decode_confirmation(raw)
    assert decoded == confirmation
    wire.verify_confirmation(decoded, [KEY.public_key()])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_change_fails_verification(data: st.DataObject) -> None:
    raw = wire.encode(data.draw(confirmations(KEY)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != raw[position])
    )
    tampered = raw[:position] + bytes([replacement]) + raw[position + 1 :]
    with pytest.raises(wire.WireError):
        wire.verify_confirmation(wire.decode_confirmation(tampered), [KEY.public_key()])


@pytest.mark.parametrize("flip", [0x01, 0x20, 0x80])
def test_every_byte_of_a_confirmation_is_covered(flip: int) -> None:
    for position in range(len(RAW)):
        tampered = RAW[:position] + bytes([RAW[position] ^ flip]) + RAW[position + 1 :]
        with pytest.raises(wire.WireError):
            wire.verify_confirmation(wire.decode_confirmation(tampered), [KEY.public_key()])


def test_only_a_pinned_key_verifies_and_any_pinned_one_does() -> None:
    confirmation = wire.decode_confirmation(RAW)
    with pytest.raises(wire.BadSignature) as caught:
        wire.verify_confirmation(confirmation, [OTHER_KEY.public_key()])
    assert caught.value.field == "sig"
    assert "gw-01" in str(caught.value)
    with pytest.raises(wire.BadSignature):
        wire.verify_confirmation(confirmation, [])
    # A key rotation pins the old and the new key for a while: either verifies.
    wire.verify_confirmation(confirmation, [OTHER_KEY.public_key(), KEY.public_key()])


def test_a_confirmation_for_another_agent_is_a_different_signed_message() -> None:
    # The agent is inside the signed bytes: moving a confirmation to another agent's name
    # breaks its signature (an agent also checks the name is its own).
    moved = RAW.replace(b'"agent":"gw-01"', b'"agent":"gw-02"')
    with pytest.raises(wire.BadSignature):
        wire.verify_confirmation(wire.decode_confirmation(moved), [KEY.public_key()])


@pytest.mark.parametrize(
    ("stored", "detail"),
    [
        ([], "at least one seq, stored or refused"),
        ([{"first": 3, "last": 1}], "range 0: first 3 is after last 1"),
        ([{"first": 5, "last": 6}, {"first": 1, "last": 2}], "expected ascending, merged"),
        ([{"first": 1, "last": 5}, {"first": 5, "last": 6}], "expected ascending, merged"),
        ([{"first": 1, "last": 2}, {"first": 3, "last": 4}], "expected ascending, merged"),
        ([{"first": 0, "last": 2}], "greater than or equal to 1"),
        ([{"first": 1, "last": 2**63}], "less than or equal to"),
        ([{"first": 1}], "Field required"),
        ([{"first": 1, "last": 1, "extra": 1}], "Extra inputs"),
        ([{"first": 2 * i + 1, "last": 2 * i + 1} for i in range(1001)], "at most 1000"),
    ],
    ids=[
        "empty",
        "backwards",
        "unsorted",
        "overlapping",
        "touching",
        "seq-zero",
        "past-max-seq",
        "missing-last",
        "extra-key",
        "too-many",
    ],
)
def test_invalid_ranges_are_refused_naming_stored(stored: list[Any], detail: str) -> None:
    assert_refused_naming("stored", detail, stored=stored)


REFUSING = wire.encode(
    make_confirmation(stored=[(1, 3)], refused=[(4, 4, "replay"), (5, 6, "seal_conflict")])
)


def test_refusals_travel_signed_and_no_refusal_leaves_the_key_out() -> None:
    value = json.loads(REFUSING)
    assert value["refused"] == [
        {"first": 4, "last": 4, "reason": "replay"},
        {"first": 5, "last": 6, "reason": "seal_conflict"},
    ]
    decoded = wire.decode_confirmation(REFUSING)
    wire.verify_confirmation(decoded, [KEY.public_key()])
    assert decoded.refused is not None and decoded.refused[1].reason == "seal_conflict"
    # No refusal: the key is left out, so a stored-only confirmation is the bytes it always was.
    assert b"refused" not in RAW
    assert wire.decode_confirmation(RAW).refused is None
    only_refused = make_confirmation(stored=[], refused=[(9, 9, "replay")])
    assert wire.decode_confirmation(wire.encode(only_refused)) == only_refused
    # null written out, or an empty list, is another spelling of "none": refused by both codecs.
    for spelling, error in ((None, wire.NotCanonical), ([], wire.InvalidMessage)):
        value = json.loads(RAW)
        value["refused"] = spelling
        with pytest.raises(error):
            wire.decode_confirmation(wire.canonical_bytes(value))
        assert (
            _codec.decode_compiled(wire.ReceivedConfirmation, wire.canonical_bytes(value)) is None
        )


@pytest.mark.parametrize(
    ("stored", "refused", "detail"),
    [
        ([], [{"first": 3, "last": 1, "reason": "replay"}], "first 3 is after last 1"),
        (
            [],
            [
                {"first": 5, "last": 6, "reason": "replay"},
                {"first": 1, "last": 2, "reason": "replay"},
            ],
            "expected ascending",
        ),
        (
            [],
            [
                {"first": 1, "last": 2, "reason": "replay"},
                {"first": 3, "last": 4, "reason": "replay"},
            ],
            "merged when the reason is the same",
        ),
        ([{"first": 1, "last": 4}], [{"first": 4, "last": 5, "reason": "replay"}], "seq 4 is both"),
        ([], [{"first": 1, "last": 1, "reason": "Replay"}], "pattern"),
        ([], [{"first": 1, "last": 1, "reason": "x" * 41}], "pattern"),
        ([], [{"first": 1, "last": 1}], "Field required"),
    ],
    ids=[
        "backwards",
        "unsorted",
        "touching-same-reason",
        "stored-and-refused",
        "upper",
        "long",
        "no-reason",
    ],
)
def test_invalid_refusals_are_refused_naming_refused(
    stored: list[Any], refused: list[Any], detail: str
) -> None:
    assert_refused_naming("refused", detail, stored=stored, refused=refused)


def test_touching_refusals_with_different_reasons_stay_apart() -> None:
    ranges = wire.refusal_ranges([(4, "replay"), (3, "replay"), (5, "seal_conflict"), (3, "x")])
    assert ranges == [(3, 4, "replay"), (5, 5, "seal_conflict")]
    make_confirmation(stored=[], refused=ranges)


def test_sealing_refuses_ranges_out_of_contract() -> None:
    with pytest.raises(ValidationError, match="expected ascending, merged"):
        make_confirmation(stored=[(1, 2), (3, 4)])
    with pytest.raises(ValidationError, match="sent"):
        make_confirmation(sent=T0 + timedelta(microseconds=1))


def test_the_confirmation_and_the_other_kinds_never_decode_as_each_other() -> None:
    envelope = wire.encode(make_envelope())
    status = wire.encode(
        wire.seal_status(
            platform="plat-a",
            enterprise="ent-01",
            agent="gw-01",
            sent=T0,
            state="online",
            agent_version="1.0",
            config_digest=wire.config_digest(b"x"),
            outbox_depth=0,
            key=KEY,
        )
    )
    for decode in (wire.decode_envelope, wire.decode_windows, wire.decode_status):
        with pytest.raises(wire.InvalidMessage):
            decode(RAW)
    with pytest.raises(wire.InvalidMessage):
        wire.decode_day_seal(RAW)
    for other in (envelope, status):
        with pytest.raises(wire.InvalidMessage):
            wire.decode_confirmation(other)
        assert _codec.decode_compiled(wire.ReceivedConfirmation, other) is None
    assert _codec.decode_compiled(wire.ReceivedEnvelope, RAW) is None
    assert _codec.decode_compiled(wire.ReceivedStatus, RAW) is None
    assert _codec.decode_compiled(wire.ReceivedDaySeal, RAW) is None


def test_the_confirmations_topic_is_the_agents_own_and_never_an_ingest_kind() -> None:
    topic = wire.confirmations_topic("plat-a", "ent-01", "gw-01")
    assert topic == "rv/v1/plat-a/ent-01/gw-01/confirmations"
    with pytest.raises(wire.BadTopic):  # the collector never takes one in
        wire.parse_topic(topic)
    with pytest.raises(wire.BadTopic):
        wire.confirmations_topic("plat-a", "ent-01", "gw/01")


# --- both codecs alike ------------------------------------------------------------------------


def _exact(raw: bytes) -> dict[str, Any] | None:
    """What the exact path (json.loads, pydantic, Python's encoder) makes of ``raw``."""
    try:
        message = wire._validate(wire.Confirmation, wire._load_json(raw))
    except wire.WireError:
        return None
    if wire.encode(message) != raw:
        return None
    values: dict[str, Any] = message.model_dump(mode="json")
    return values


def _same(raw: bytes) -> None:
    exact = _exact(raw)
    fast = _codec.decode_compiled(wire.ReceivedConfirmation, raw)
    assert (msgspec.to_builtins(fast) if fast is not None else None) == exact
    try:
        decoded: dict[str, Any] | None = wire.decode_confirmation(raw).model_dump(mode="json")
    except wire.WireError:
        decoded = None
    assert decoded == exact


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(confirmations(KEY))
def test_valid_confirmations_decode_to_the_same_values(confirmation: wire.Confirmation) -> None:
    raw = wire.encode(confirmation)
    assert _exact(raw) is not None
    _same(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_changed_bytes_get_the_same_verdict(data: st.DataObject) -> None:
    raw = wire.encode(data.draw(confirmations(KEY)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    _same(raw[:position] + bytes([raw[position] ^ flip]) + raw[position + 1 :])
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    _same(raw[:cut] + raw[cut + 1 :])
    insert = data.draw(st.sampled_from([b" ", b"0", b"\\n", b'"', b",", b"e", b"-", b"\n"]))
    _same(raw[:cut] + insert + raw[cut:])
