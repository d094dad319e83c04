"""The day seal on the wire: round trips, signatures, every bad field named, both codecs alike.

What tests/contract/test_wire.py and test_wire_codec.py hold for envelopes, held here for
day seals; plus the rule both message kinds now share: ``-0.0`` is refused, naming the field.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contract import quantities, wire
from contract.daysums import DayAccumulator, part_from
from contract.wire import _codec
from tests.contract.test_wire import KEY, OTHER_KEY, T0, make_envelope, make_window
from tests.contract.wire_strategies import day_seals

# The property tests carry no deadline: a per-example time limit is a wall-clock assertion,
# and the machine is shared.
HASH_A = "ab" * 32
HASH_B = "cd" * 32


def make_part(provenance: str = "measured", seq: int = 3) -> wire.DaySealPart:
    accumulator = DayAccumulator()
    for i in range(3):
        start = T0 + timedelta(minutes=i)
        window = make_window(start=start, end=start + timedelta(minutes=1), provenance=provenance)
        accumulator.add(window, seq + i)
    return part_from(accumulator)


def make_seal(**changes: Any) -> wire.DaySeal:
    fields: dict[str, Any] = {
        "platform": "plat-a",
        "enterprise": "ent-01",
        "agent": "gw-01",
        "seq": 9,
        "sent": T0 + timedelta(days=1),
        "device": "press-1",
        "day": date(2026, 11, 25),
        "tz": "Asia/Shanghai",
        "version": 1,
        "supersedes": None,
        "index": 1,
        "prev": None,
        "dropped_windows": 0,
        "parts": [make_part()],
        "key": KEY,
    }
    fields.update(changes)
    return wire.seal_day_seal(**fields)


RAW = wire.encode(make_seal())


def valid_seal() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(RAW)
    return parsed


# --- round trips, hashes, signatures --------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day_seals(KEY))
def test_encode_decode_gives_the_same_seal(seal: wire.DaySeal) -> None:
    raw = wire.encode(seal)
    decoded = wire.decode_day_seal(raw)
    assert decoded == seal
    assert wire.encode(decoded) == raw
    wire.verify(decoded, KEY.public_key())
    wire.verify_received(raw, decoded, KEY.public_key())


def test_a_seal_is_named_by_the_hash_of_its_published_bytes_signature_included() -> None:
    assert wire.day_seal_sha256(RAW) == hashlib.sha256(RAW).hexdigest()
    again = wire.encode(make_seal(sent=T0 + timedelta(days=1, seconds=1)))
    assert wire.day_seal_sha256(again) != wire.day_seal_sha256(RAW)
    chained = make_seal(index=2, prev=wire.day_seal_sha256(RAW), seq=10)
    assert chained.prev == wire.day_seal_sha256(RAW)


def test_a_seal_of_about_one_and_a_half_kilobytes() -> None:
    two_parts = wire.encode(make_seal(parts=[make_part("imported", 1), make_part("measured", 4)]))
    assert 1_000 < len(RAW) < 2_000
    assert len(two_parts) < 3_500


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_change_fails_verification(data: st.DataObject) -> None:
    raw = wire.encode(data.draw(day_seals(KEY)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != raw[position])
    )
    tampered = raw[:position] + bytes([replacement]) + raw[position + 1 :]
    with pytest.raises(wire.WireError):
        wire.verify(wire.decode_day_seal(tampered), KEY.public_key())


@pytest.mark.parametrize("flip", [0x01, 0x20, 0x80])
def test_every_byte_of_a_seal_is_covered(flip: int) -> None:
    for position in range(len(RAW)):
        tampered = RAW[:position] + bytes([RAW[position] ^ flip]) + RAW[position + 1 :]
        with pytest.raises(wire.WireError):
            wire.verify(wire.decode_day_seal(tampered), KEY.public_key())


def test_a_seal_signed_by_another_key_is_refused_naming_the_agent() -> None:
    seal = wire.decode_day_seal(RAW)
    with pytest.raises(wire.BadSignature) as caught:
        wire.verify(seal, OTHER_KEY.public_key())
    assert caught.value.field == "sig"
    assert "gw-01" in str(caught.value)
    forged = wire.encode(make_seal(key=OTHER_KEY))
    with pytest.raises(wire.BadSignature):
        wire.verify_received(forged, wire.decode_day_seal(forged), KEY.public_key())


def test_sealing_refuses_out_of_contract_values() -> None:
    with pytest.raises(ValidationError, match="expected null for version 1"):
        make_seal(supersedes=HASH_A)
    with pytest.raises(ValidationError, match="5 is not after the seq 5 of the windows it seals"):
        make_seal(seq=5)  # before the windows it seals (seq 3 to 5)
    with pytest.raises(ValidationError, match="tz"):
        make_seal(tz="Asia/Shang hai")


def test_the_seal_and_the_other_kinds_never_decode_as_each_other() -> None:
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
    for other in (envelope, status):
        with pytest.raises(wire.InvalidMessage):
            wire.decode_day_seal(other)
        assert _codec.decode_compiled(wire.ReceivedDaySeal, other) is None
    assert _codec.decode_compiled(wire.ReceivedEnvelope, RAW) is None
    assert _codec.decode_compiled(wire.ReceivedStatus, RAW) is None


# --- topics ---------------------------------------------------------------------------------


def test_the_day_seals_topic_builds_parses_and_filters() -> None:
    topic = wire.day_seals_topic("plat-a", "ent-01", "gw-01")
    assert topic == "rv/v1/plat-a/ent-01/gw-01/day_seals"
    assert wire.parse_topic(topic).kind == "day_seals"
    assert wire.DAY_SEALS_FILTER == "rv/v1/+/+/+/day_seals"
    assert wire.shared_filter("c", "day_seals") == "$share/c/rv/v1/+/+/+/day_seals"
    with pytest.raises(wire.BadTopic, match="expected windows, status or day_seals"):
        wire.parse_topic("rv/v1/p/e/a/day_seal")


# --- every invalid seal, named by field -----------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _path(path: str) -> list[str | int]:
    return [
        int(p) if p.isdigit() else p for p in path.replace("]", "").replace("[", ".").split(".")
    ]


def _set(path: str, value: Any) -> Mutation:
    def mutate(message: dict[str, Any]) -> None:
        *parents, last = _path(path)
        target: Any = message
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(message: dict[str, Any]) -> None:
        *parents, last = _path(path)
        target: Any = message
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(message: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(message)

    return mutate


def _second_part(message: dict[str, Any]) -> None:
    message["parts"].append(copy.deepcopy(message["parts"][0]))


_P = "parts[0]"
_OTHER_DIGEST = wire.config_digest(b"other")

INVALID_SEALS: dict[str, tuple[Mutation, str]] = {
    "another kind": (_set("kind", "kpi_window"), "kind"),
    "no kind": (_drop("kind"), "kind"),
    "version zero": (_set("version", 0), "version"),
    "version 1 superseding": (_set("supersedes", HASH_A), "supersedes"),
    "version 2 superseding nothing": (_set("version", 2), "supersedes"),
    "index 1 with a previous seal": (_set("prev", HASH_A), "prev"),
    "index 2 without one": (_set("index", 2), "prev"),
    "previous hash in capitals": (_both(_set("index", 2), _set("prev", HASH_A.upper())), "prev"),
    "previous hash too short": (_both(_set("index", 2), _set("prev", HASH_A[:-2])), "prev"),
    "30 February": (_set("day", "2026-02-30"), "day"),
    "day with a time": (_set("day", "2026-11-25T00:00:00.000Z"), "day"),
    "day as a number": (_set("day", 20261125), "day"),
    "zone with a space": (_set("tz", "Asia/Shang hai"), "tz"),
    "zone as an offset": (_set("tz", "+08:00"), "tz"),
    "device with a slash": (_set("device", "press/1"), "device"),
    "negative dropped windows": (_set("dropped_windows", -1), "dropped_windows"),
    "no parts": (_set("parts", []), "parts"),
    "one provenance twice": (_second_part, "parts"),
    "sealed before its windows": (_set("seq", 5), "seq"),
    "unknown provenance": (_set(f"{_P}.provenance", "guessed"), f"{_P}.provenance"),
    "no windows": (_set(f"{_P}.windows", 0), f"{_P}.windows"),
    "more partial than windows": (_set(f"{_P}.partial_windows", 4), f"{_P}.partial_windows"),
    "ends before it starts": (_set(f"{_P}.last_end", "2026-11-25T07:00:00.000Z"), f"{_P}.last_end"),
    "seq range reversed": (_set(f"{_P}.seq_first", 6), f"{_P}.seq_last"),
    "more digests than windows": (
        _set(f"{_P}.config_digest_count", 4),
        f"{_P}.config_digest_count",
    ),
    "digests miscounted": (_set(f"{_P}.config_digest_count", 2), f"{_P}.config_digests"),
    "first digest not listed": (
        _set(f"{_P}.config_digest_first", _OTHER_DIGEST),
        f"{_P}.config_digest_first",
    ),
    "digest of another form": (
        _set(f"{_P}.config_digest_last", "md5:00"),
        f"{_P}.config_digest_last",
    ),
    "measured count missing": (_drop(f"{_P}.measured_windows.run_s"), f"{_P}.measured_windows"),
    "measured in more windows than there are": (
        _set(f"{_P}.measured_windows.run_s", 4),
        f"{_P}.measured_windows.run_s",
    ),
    "a sum no window measured": (
        _set(f"{_P}.measured_windows.run_s", 0),
        f"{_P}.sums.run_s",
    ),
    "a measured sum left null": (_set(f"{_P}.sums.run_s", None), f"{_P}.sums.run_s"),
    "a negative sum": (_set(f"{_P}.sums.run_s", -1.0), f"{_P}.sums.run_s"),
    "negative zero": (_set(f"{_P}.sums.run_s", -0.0), f"{_P}.sums.run_s"),
    "a count as a float": (_set(f"{_P}.sums.total_count", 36.0), f"{_P}.sums.total_count"),
    "a count past int64": (_set(f"{_P}.sums.total_count", 2**63), f"{_P}.sums.total_count"),
    "a sum missing": (_drop(f"{_P}.sums.energy_kwh"), f"{_P}.sums.energy_kwh"),
    "an unknown sum": (_set(f"{_P}.sums.oee", 0.5), f"{_P}.sums.oee"),
    "an unknown part field": (_set(f"{_P}.oee", 0.5), f"{_P}.oee"),
    "overflow of a float": (
        _both(_set(f"{_P}.sums.run_s", None), _set(f"{_P}.overflowed", ["run_s"])),
        f"{_P}.overflowed",
    ),
    "overflow of a sum that is there": (
        _set(f"{_P}.overflowed", ["total_count"]),
        f"{_P}.overflowed",
    ),
    "less time than windows": (_set(f"{_P}.sums.duration_ms", 2), f"{_P}.sums.duration_ms"),
    "ideal cycle range reversed": (_set(f"{_P}.ideal_cycle_s_min", 4.0), f"{_P}.ideal_cycle_s_max"),
    "ideal cycle without one measured": (
        _set(f"{_P}.measured_windows.ideal_cycle_s", 0),
        f"{_P}.ideal_cycle_s_min",
    ),
    "root of another form": (_set(f"{_P}.merkle_root", "sha256:" + HASH_A), f"{_P}.merkle_root"),
    # A sum added after the first seals: absent from measured_windows means no window had it.
    "a later sum without its measured count": (
        _both(
            _drop(f"{_P}.measured_windows.inferred_planned_s"),
            _set(f"{_P}.sums.inferred_planned_s", 5.0),
        ),
        f"{_P}.sums.inferred_planned_s",
    ),
    "a later sum no window measured": (
        _set(f"{_P}.sums.inferred_planned_s", 5.0),
        f"{_P}.sums.inferred_planned_s",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_SEALS))
def test_invalid_seals_are_refused_naming_the_field(case: str) -> None:
    mutate, field = INVALID_SEALS[case]
    message = valid_seal()
    mutate(message)
    raw = wire.canonical_bytes(message)
    with pytest.raises(wire.InvalidMessage) as caught:
        wire.decode_day_seal(raw)
    assert caught.value.field == field, str(caught.value)
    assert str(caught.value).startswith(field)
    _same(raw)


def test_a_seal_in_another_form_is_not_canonical() -> None:
    pretty = json.dumps(valid_seal(), sort_keys=True, indent=1).encode()
    with pytest.raises(wire.NotCanonical):
        wire.decode_day_seal(pretty)
    head = b'{"agent":"gw-01",'
    assert RAW.startswith(head)
    reordered = b"{" + RAW[len(head) : -1] + b',"agent":"gw-01"}'
    with pytest.raises(wire.NotCanonical):
        wire.decode_day_seal(reordered)


# --- -0.0, in windows and seals -------------------------------------------------------------


def test_negative_zero_is_refused_in_a_window_naming_the_field() -> None:
    raw = wire.encode(make_envelope()).replace(b'"off_s":0.0', b'"off_s":-0.0')
    for decode in (wire.decode_envelope, wire.decode_windows):
        with pytest.raises(wire.InvalidMessage, match=r"-0\.0 is not a wire number") as caught:
            decode(raw)
        assert caught.value.field == "records[0].off_s"


def test_negative_zero_is_refused_in_a_seal_naming_the_field() -> None:
    raw = RAW.replace(b'"comm_loss_s":0.0', b'"comm_loss_s":-0.0', 1)
    with pytest.raises(wire.InvalidMessage, match=r"-0\.0 is not a wire number") as caught:
        wire.decode_day_seal(raw)
    assert caught.value.field == "parts[0].sums.comm_loss_s"


def test_negative_zero_in_free_text_is_only_text() -> None:
    status = wire.seal_status(
        platform="plat-a",
        enterprise="ent-01",
        agent="gw-01",
        sent=T0,
        state="offline",
        agent_version="1.0",
        config_digest=wire.config_digest(b"x"),
        outbox_depth=0,
        last_error='device said {"x":-0.0}',
        key=KEY,
    )
    raw = wire.encode(status)
    assert b'":-0.0' in raw  # a false alarm: the message goes the exact way, which accepts it
    assert wire.decode_status(raw) == status


# --- both codecs alike ----------------------------------------------------------------------


def _exact(raw: bytes) -> dict[str, Any] | None:
    """The exact path's values for ``raw``, or None if it refuses it."""
    try:
        message = wire._validate(wire.DaySeal, wire._load_json(raw))
    except wire.WireError:
        return None
    if wire.encode(message) != raw:
        return None
    values: dict[str, Any] = message.model_dump(mode="json")
    return values


def _same(raw: bytes) -> None:
    """The compiled codec accepts what the exact path accepts, with the same values."""
    exact = _exact(raw)
    fast = _codec.decode_compiled(wire.ReceivedDaySeal, raw)
    if fast is None:
        # The exact path decides tiny floats and -0.0 (as for envelopes), and sums of 1e16 and
        # more, which msgspec writes 1e16 where Python writes 1e+16 (a day's sums have no cap).
        deferred = _codec.has_tiny_float(raw) or _codec.has_negative_zero(raw) or b"e+" in raw
        assert exact is None or deferred
    else:
        assert msgspec.to_builtins(fast) == exact
    try:
        decoded: dict[str, Any] | None = wire.decode_day_seal(raw).model_dump(mode="json")
    except wire.WireError:
        decoded = None
    assert decoded == exact


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(day_seals(KEY))
def test_valid_seals_decode_to_the_same_values(seal: wire.DaySeal) -> None:
    raw = wire.encode(seal)
    assert _exact(raw) is not None
    _same(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_changed_bytes_get_the_same_verdict(data: st.DataObject) -> None:
    raw = wire.encode(data.draw(day_seals(KEY)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    _same(raw[:position] + bytes([raw[position] ^ flip]) + raw[position + 1 :])
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    _same(raw[:cut] + raw[cut + 1 :])
    insert = data.draw(st.sampled_from([b" ", b"0", b"\\n", b'"', b",", b"e", b"-", b"\n"]))
    _same(raw[:cut] + insert + raw[cut:])


_LADDER: dict[str, list[Any]] = {
    "float": [0.0, 5e-324, 1e-05, 1e-3, 0.5, 86_400.0, 1e12, 1e300, -1.0, None, 1],
    "integer": [0, 1, 2**53, 2**63 - 1, 2**63, -1, None, 1.0],
}


@pytest.mark.parametrize("quantity", quantities.DAY_SUMS, ids=lambda q: q.name)
def test_each_sum_has_the_same_range_in_both_codecs(quantity: quantities.Quantity) -> None:
    for value in _LADDER[quantity.kind]:
        message = valid_seal()
        message["parts"][0]["sums"][quantity.name] = value
        if value is None and quantity.kind == "integer":
            message["parts"][0]["overflowed"] = [quantity.name]
        _same(wire.canonical_bytes(message))


# --- a sum added after the first seals: absent is null (docs/wire-contract.md) -------------


def _seal_before(name: str) -> bytes:
    """A seal as an agent that predates ``name`` signs it: no sum, no measured count for it."""
    part = make_part().model_dump(mode="json")
    assert name not in part["sums"]  # no window measured it: the None is left out
    del part["measured_windows"][name]
    return wire.encode(make_seal(parts=[wire.DaySealPart.model_validate(part)]))


@pytest.mark.parametrize("name", quantities.DAY_SUMS_ABSENT_IS_NULL)
def test_a_seal_made_before_a_later_sum_is_accepted_and_verifies(name: str) -> None:
    raw = _seal_before(name)
    assert name.encode() not in raw
    exact = wire.decode_day_seal(raw)
    assert getattr(exact.parts[0].sums, name) is None
    assert name not in exact.parts[0].measured_windows
    assert wire.encode(exact) == raw
    wire.verify(exact, KEY.public_key())
    wire.verify_received(raw, exact, KEY.public_key())
    fast = _codec.decode_compiled(wire.ReceivedDaySeal, raw)
    assert fast is not None and getattr(fast.parts[0].sums, name) is None
    _same(raw)


@pytest.mark.parametrize("name", quantities.DAY_SUMS_ABSENT_IS_NULL)
def test_a_later_sum_travels_when_measured_and_is_never_written_null(name: str) -> None:
    accumulator = DayAccumulator()
    for i in range(2):
        start = T0 + timedelta(minutes=i)
        window = make_window(start=start, end=start + timedelta(minutes=1), **{name: 20.5})
        accumulator.add(window, 3 + i)
    part = part_from(accumulator)
    assert getattr(part.sums, name) == 41.0 and part.measured_windows[name] == 2
    raw = wire.encode(make_seal(parts=[part]))
    assert f'"{name}":41.0'.encode() in raw
    wire.verify(wire.decode_day_seal(raw), KEY.public_key())
    _same(raw)
    # A new agent's part where no window measured it: counted 0, the sum left out.
    assert make_part().measured_windows[name] == 0
    assert name.encode() + b'":0' in RAW and f'"{name}":null'.encode() not in RAW
    message = valid_seal()
    message["parts"][0]["sums"][name] = None
    with pytest.raises(wire.NotCanonical):
        wire.decode_day_seal(wire.canonical_bytes(message))
    _same(wire.canonical_bytes(message))
