"""The wire contract: round trips, signatures, and every kind of bad message named by field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import quantities, wire
from tests.contract.wire_strategies import envelopes, kpi_windows

KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def make_window(**changes: Any) -> wire.KpiWindow:
    fields: dict[str, Any] = {
        "device": "press-1",
        "start": T0,
        "end": T0 + timedelta(seconds=60),
        "provenance": "measured",
        "config_digest": wire.config_digest(b"agent.yaml"),
        "scheduled_s": 60.0,
        "planned_s": 60.0,
        "run_s": 48.5,
        "idle_s": 6.5,
        "down_s": 5.0,
        "off_s": 0.0,
        "planned_stop_s": 0.0,
        "total_count": 12,
        "good_count": 11,
        "reject_count": 1,
        "energy_kwh": 0.25,
        "ideal_cycle_s": 3.5,
        "quality": wire.DataQuality(
            samples=60,
            missed_polls=0,
            bad_values=0,
            comm_loss_s=0.0,
            scheduled_comm_loss_s=0.0,
            counter_resets=0,
            meter_resets=0,
            clock_jumps=0,
        ),
    }
    fields.update(changes)
    return wire.KpiWindow(**fields)


def make_envelope(seq: int = 1, records: list[wire.KpiWindow] | None = None) -> wire.Envelope:
    return wire.seal_envelope(
        platform="plat-a",
        enterprise="ent-01",
        agent="gw-01",
        seq=seq,
        sent=T0 + timedelta(seconds=61),
        records=records or [make_window()],
        key=KEY,
    )


def valid_dict() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(wire.encode(make_envelope()))
    return parsed


# --- round trips and signatures -----------------------------------------------------------


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes(KEY))
def test_encode_decode_gives_the_same_envelope(envelope: wire.Envelope) -> None:
    raw = wire.encode(envelope)
    decoded = wire.decode_envelope(raw)
    assert decoded == envelope
    assert wire.encode(decoded) == raw
    wire.verify(decoded, KEY.public_key())


@given(kpi_windows())
def test_window_records_are_deterministic_bytes(window: wire.KpiWindow) -> None:
    first = wire.canonical_bytes(window.model_dump(mode="json"))
    again = wire.canonical_bytes(
        wire.KpiWindow.model_validate(json.loads(first)).model_dump(mode="json")
    )
    assert first == again
    assert b" " not in first.replace(b'" "', b"")  # no whitespace between tokens


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_change_fails_verification(data: st.DataObject) -> None:
    raw = wire.encode(data.draw(envelopes(KEY)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    replacement = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != raw[position])
    )
    tampered = raw[:position] + bytes([replacement]) + raw[position + 1 :]
    with pytest.raises(wire.WireError):
        wire.verify(wire.decode_envelope(tampered), KEY.public_key())


def test_signature_by_another_key_is_refused() -> None:
    envelope = wire.decode_envelope(wire.encode(make_envelope()))
    with pytest.raises(wire.BadSignature) as caught:
        wire.verify(envelope, OTHER_KEY.public_key())
    assert caught.value.field == "sig"
    assert "gw-01" in str(caught.value)


def test_a_record_moved_to_another_envelope_breaks_its_signature() -> None:
    first, second = make_envelope(seq=1), make_envelope(seq=2)
    spliced = first.model_copy(update={"records": second.records, "seq": 2})
    with pytest.raises(wire.BadSignature):
        wire.verify(spliced, KEY.public_key())


def test_status_messages_round_trip_and_verify() -> None:
    status = wire.seal_status(
        platform="plat-a",
        enterprise="ent-01",
        agent="gw-01",
        sent=T0,
        state="online",
        agent_version="0.1.0",
        config_digest=wire.config_digest(b"x"),
        outbox_depth=3,
        last_error="broker refused: not authorised " * 40,
        key=KEY,
    )
    assert status.last_error is not None and len(status.last_error) == wire.MAX_TEXT
    decoded = wire.decode_status(wire.encode(status))
    assert decoded == status
    wire.verify(decoded, KEY.public_key())
    with pytest.raises(wire.InvalidMessage):  # a status is not a windows message
        wire.decode_envelope(wire.encode(status))


def test_public_key_text_round_trips() -> None:
    text = wire.public_key_text(KEY.public_key())
    assert text.startswith("ed25519:")
    assert wire.public_key_text(wire.public_key_from_text(text)) == text
    for bad in ("rsa:AAAA", "ed25519:not base64!", "ed25519:" + "A" * 20):
        with pytest.raises(ValueError):
            wire.public_key_from_text(bad)


# --- topics -------------------------------------------------------------------------------


def test_topics_build_and_parse() -> None:
    topic = wire.windows_topic("plat-a", "ent-01", "gw-01")
    assert topic == "rv/v1/plat-a/ent-01/gw-01/windows"
    address = wire.parse_topic(topic)
    assert (address.platform, address.enterprise, address.agent, address.kind) == (
        "plat-a",
        "ent-01",
        "gw-01",
        "windows",
    )
    assert wire.parse_topic(wire.status_topic("p", "e", "a")).kind == "status"
    assert wire.shared_filter("collectors", "windows") == "$share/collectors/rv/v1/+/+/+/windows"


@pytest.mark.parametrize(
    "bad_id",
    ["a/b", "a+b", "a#b", "a b", "tab\there", "x" * 65, "", "$SYS", ".hidden", "新昌", "a\x00b"],
)
def test_identifiers_that_would_break_a_topic_are_refused(bad_id: str) -> None:
    with pytest.raises(wire.BadTopic) as caught:
        wire.windows_topic("plat-a", bad_id, "gw-01")
    assert caught.value.field == "enterprise"


@pytest.mark.parametrize(
    "topic",
    [
        "rv/v1/p/e/a",
        "rv/v2/p/e/a/windows",
        "rv/v1/p/e/a/windows/extra",
        "rv/v1/p/e/a/commands",
        "rv/v1/p/e+/a/windows",
        "rv/v1/p//a/windows",
    ],
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(wire.BadTopic):
        wire.parse_topic(topic)


# --- every invalid input, named by field --------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(message: dict[str, Any]) -> None:
        target: Any = message
        *parents, last = path.replace("]", "").replace("[", ".").split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(message: dict[str, Any]) -> None:
        parent, last = path.rsplit(".", 1)
        _walk(message, parent).pop(last)

    return mutate


def _walk(message: dict[str, Any], path: str) -> Any:
    target: Any = message
    for part in path.replace("]", "").replace("[", ".").split("."):
        target = target[int(part)] if part.isdigit() else target[part]
    return target


INVALID = {
    "unknown version": (_set("v", 2), wire.UnsupportedVersion, "v"),
    "version as string": (_set("v", "1"), wire.UnsupportedVersion, "v"),
    "version as bool": (_set("v", True), wire.UnsupportedVersion, "v"),
    "negative run time": (_set("records[0].run_s", -1.0), wire.InvalidMessage, "records[0].run_s"),
    "negative comm loss": (
        _set("records[0].quality.comm_loss_s", -0.5),
        wire.InvalidMessage,
        "records[0].quality.comm_loss_s",
    ),
    "fractional count": (
        _set("records[0].total_count", 3.5),
        wire.InvalidMessage,
        "records[0].total_count",
    ),
    "count as float": (
        _set("records[0].good_count", 3.0),
        wire.InvalidMessage,
        "records[0].good_count",
    ),
    "count as string": (
        _set("records[0].reject_count", "1"),
        wire.InvalidMessage,
        "records[0].reject_count",
    ),
    "count as bool": (
        _set("records[0].reject_count", True),
        wire.InvalidMessage,
        "records[0].reject_count",
    ),
    "negative count": (
        _set("records[0].total_count", -1),
        wire.InvalidMessage,
        "records[0].total_count",
    ),
    "count over int64": (
        _set("records[0].total_count", 2**63),
        wire.InvalidMessage,
        "records[0].total_count",
    ),
    "window ends before it starts": (
        _set("records[0].end", "2026-11-25T07:59:00.000Z"),
        wire.InvalidMessage,
        "records[0].end",
    ),
    "zero-length window": (
        _set("records[0].end", "2026-11-25T08:00:00.000Z"),
        wire.InvalidMessage,
        "records[0].end",
    ),
    "window over a day": (
        _set("records[0].end", "2026-11-27T08:00:00.000Z"),
        wire.InvalidMessage,
        "records[0].end",
    ),
    "more state time than the window": (
        _set("records[0].run_s", 59.0),
        wire.InvalidMessage,
        "records[0].run_s",
    ),
    "scheduled longer than the window": (
        _set("records[0].scheduled_s", 60.5),
        wire.InvalidMessage,
        "records[0].scheduled_s",
    ),
    "scheduled comm loss over comm loss": (
        _set("records[0].quality.scheduled_comm_loss_s", 1.0),
        wire.InvalidMessage,
        "records[0].quality.scheduled_comm_loss_s",
    ),
    "planned longer than the window": (
        _set("records[0].planned_s", 61.0),
        wire.InvalidMessage,
        "records[0].planned_s",
    ),
    "timestamp without zone": (
        _set("records[0].start", "2026-11-25T08:00:00.000"),
        wire.InvalidMessage,
        "records[0].start",
    ),
    "timestamp as number": (_set("sent", 1764057600000), wire.InvalidMessage, "sent"),
    "agent id with slash": (_set("agent", "gw/01"), wire.InvalidMessage, "agent"),
    "platform with plus": (_set("platform", "plat+"), wire.InvalidMessage, "platform"),
    "enterprise with hash": (_set("enterprise", "ent#1"), wire.InvalidMessage, "enterprise"),
    "device with space": (
        _set("records[0].device", "press 1"),
        wire.InvalidMessage,
        "records[0].device",
    ),
    "agent id of 65 chars": (_set("agent", "g" * 65), wire.InvalidMessage, "agent"),
    "unknown provenance": (
        _set("records[0].provenance", "guessed"),
        wire.InvalidMessage,
        "records[0].provenance",
    ),
    "unknown field": (_set("records[0].oee", 0.8), wire.InvalidMessage, "records[0].oee"),
    "missing field": (_drop("records[0].planned_s"), wire.InvalidMessage, "records[0].planned_s"),
    "seq zero": (_set("seq", 0), wire.InvalidMessage, "seq"),
    "no records": (_set("records", []), wire.InvalidMessage, "records"),
    "bad digest": (
        _set("records[0].config_digest", "md5:abc"),
        wire.InvalidMessage,
        "records[0].config_digest",
    ),
    "ideal cycle zero": (
        _set("records[0].ideal_cycle_s", 0.0),
        wire.InvalidMessage,
        "records[0].ideal_cycle_s",
    ),
    "missed run time over the time held not running": (
        _set("records[0].unsampled_run_s", 11.6),  # idle 6.5 + down 5.0 = 11.5 s
        wire.InvalidMessage,
        "records[0].unsampled_run_s",
    ),
    "negative missed run time": (
        _set("records[0].unsampled_run_s", -1.0),
        wire.InvalidMessage,
        "records[0].unsampled_run_s",
    ),
    "missed run time as a string": (
        _set("records[0].unsampled_run_s", "1.0"),
        wire.InvalidMessage,
        "records[0].unsampled_run_s",
    ),
    "inferred planned time over the planned time": (
        _set("records[0].inferred_planned_s", 60.5),  # planned_s = 60.0 s
        wire.InvalidMessage,
        "records[0].inferred_planned_s",
    ),
    "negative inferred planned time": (
        _set("records[0].inferred_planned_s", -1.0),
        wire.InvalidMessage,
        "records[0].inferred_planned_s",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_messages_are_refused_naming_the_field(case: str) -> None:
    mutate, error, field = INVALID[case]
    message = valid_dict()
    mutate(message)
    with pytest.raises(error) as caught:
        wire.decode_envelope(wire.canonical_bytes(message))
    assert caught.value.field == field, str(caught.value)
    assert str(caught.value).startswith(field)


@pytest.mark.parametrize(
    ("replace", "by"),
    [
        (b'"run_s":48.5', b'"run_s":NaN'),
        (b'"run_s":48.5', b'"run_s":Infinity'),
        (b'"run_s":48.5', b'"run_s":-Infinity'),
    ],
)
def test_non_finite_numbers_are_refused(replace: bytes, by: bytes) -> None:
    raw = wire.encode(make_envelope())
    assert replace in raw
    with pytest.raises(wire.NotJson, match="finite"):
        wire.decode_envelope(raw.replace(replace, by))


def test_too_many_records_are_refused() -> None:
    message = valid_dict()
    message["records"] = message["records"] * (wire.MAX_RECORDS + 1)
    raw = wire.canonical_bytes(message)
    with pytest.raises((wire.InvalidMessage, wire.TooLarge)):
        wire.decode_envelope(raw)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", wire.NotJson),
        (b"\xff\xfe{}", wire.NotJson),
        (b"[1,2,3]", wire.NotJson),
        (b'{"v":1,"v":1}', wire.NotJson),
        (b"[" * 300_000 + b"]" * 300_000, wire.TooLarge),
        (b"[" * 50_000 + b"]" * 50_000, wire.NotJson),
        (b'{"v":' + b"9" * 5000 + b"}", wire.NotJson),
        (b" " * (wire.MAX_MESSAGE_BYTES + 1), wire.TooLarge),
        (b'{"v":1}', wire.InvalidMessage),
    ],
)
def test_hostile_bytes_get_a_wire_error(raw: bytes, error: type[wire.WireError]) -> None:
    with pytest.raises(error):
        wire.decode_envelope(raw)


def test_non_canonical_forms_are_refused() -> None:
    raw = wire.encode(make_envelope())
    pretty = json.dumps(json.loads(raw), indent=2).encode()
    with pytest.raises(wire.NotCanonical):
        wire.decode_envelope(pretty)
    with pytest.raises(wire.NotCanonical):
        wire.decode_envelope(raw.replace(b'"run_s":48.5', b'"run_s":4.85e1'))


def test_size_limit_leaves_room_for_a_full_batch() -> None:
    # A full batch of ordinary windows must fit the limit the collector enforces.
    records = [make_window(device=f"device-{i:03d}") for i in range(wire.MAX_RECORDS)]
    raw = wire.encode(make_envelope(records=records))
    assert len(raw) <= wire.MAX_MESSAGE_BYTES
    assert wire.decode_envelope(raw).records[-1].device == "device-499"


def test_sealing_refuses_out_of_contract_values() -> None:
    with pytest.raises(ValueError):
        make_envelope(seq=0)
    with pytest.raises(ValueError):
        make_window(start=datetime(2026, 1, 1))  # naive datetime
    with pytest.raises(ValueError):
        make_window(run_s=float("nan"))


@pytest.mark.parametrize("flip", [0x01, 0x20, 0x80])
def test_every_byte_of_a_message_is_covered(flip: int) -> None:
    # Exhaustive companion to the property test: change each byte in turn, with bit flips that
    # include the upper/lower-case flip (0x20) that JSON exponents and base64 are sensitive to.
    raw = wire.encode(make_envelope())
    for position in range(len(raw)):
        tampered = raw[:position] + bytes([raw[position] ^ flip]) + raw[position + 1 :]
        with pytest.raises(wire.WireError):
            wire.verify(wire.decode_envelope(tampered), KEY.public_key())


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes(KEY))
def test_sealing_from_record_bytes_gives_the_same_bytes(envelope: wire.Envelope) -> None:
    # The outbox seals from stored canonical records; the result must be the envelope itself.
    records = [wire.canonical_bytes(r.model_dump(mode="json")) for r in envelope.records]
    raw = wire.seal_envelope_bytes(
        platform=envelope.platform,
        enterprise=envelope.enterprise,
        agent=envelope.agent,
        seq=envelope.seq,
        sent=envelope.sent,
        records=records,
        key=KEY,
    )
    assert raw == wire.encode(envelope)
    wire.verify(wire.decode_envelope(raw), KEY.public_key())


def test_sealing_from_record_bytes_checks_what_it_can() -> None:
    record = wire.canonical_bytes(make_window().model_dump(mode="json"))
    fields = {"platform": "p", "enterprise": "e", "agent": "a", "seq": 1, "sent": T0, "key": KEY}
    for bad in ({"agent": "a/b"}, {"seq": 0}, {"sent": datetime(2026, 1, 1)}):
        with pytest.raises(ValueError):
            wire.seal_envelope_bytes(**{**fields, **bad, "records": [record]})  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        wire.seal_envelope_bytes(**fields, records=[])  # type: ignore[arg-type]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_verifying_from_the_received_bytes_agrees_with_verify(data: st.DataObject) -> None:
    # The collector verifies from the bytes it received (no second encoding); any single
    # changed byte must still fail, exactly as with verify().
    raw = wire.encode(data.draw(envelopes(KEY)))
    wire.verify_received(raw, wire.decode_envelope(raw), KEY.public_key())
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    tampered = raw[:position] + bytes([raw[position] ^ flip]) + raw[position + 1 :]
    with pytest.raises(wire.WireError):
        wire.verify_received(tampered, wire.decode_envelope(tampered), KEY.public_key())
    with pytest.raises(wire.BadSignature):
        wire.verify_received(raw, wire.decode_envelope(raw), OTHER_KEY.public_key())


def _exact_decode(raw: bytes) -> wire.Envelope | None:
    """What the exact (json.loads, then validate, then re-encode) path accepts, else None."""
    try:
        message = wire._validate(wire.Envelope, wire._load_json(raw))
    except wire.WireError:
        return None
    return message if wire.encode(message) == raw else None


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_fast_decoding_path_accepts_exactly_what_the_exact_path_accepts(
    data: st.DataObject,
) -> None:
    # decode_envelope tries pydantic's one-pass JSON validation first; it must never let
    # through what the exact path refuses, nor turn the same bytes into another message.
    raw = wire.encode(data.draw(envelopes(KEY)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    tampered = raw[:position] + bytes([raw[position] ^ flip]) + raw[position + 1 :]
    for candidate in (raw, tampered):
        assert wire._decode_canonical(wire.Envelope, candidate) == _exact_decode(candidate)


@pytest.mark.parametrize("case", sorted(INVALID))
def test_the_fast_decoding_path_refuses_every_invalid_message(case: str) -> None:
    mutate, _, _ = INVALID[case]
    message = valid_dict()
    mutate(message)
    assert wire._decode_canonical(wire.Envelope, wire.canonical_bytes(message)) is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"v":1,"v":1}',
        json.dumps(json.loads(wire.encode(make_envelope())), indent=2).encode(),
        wire.encode(make_envelope()).replace(b'"run_s":48.5', b'"run_s":4.85e1'),
        wire.encode(make_envelope()).replace(b'"run_s":48.5', b'"run_s":NaN'),
        wire.encode(make_envelope()).replace(b'"v":1}', b'"v":1,"v":1}'),
        wire.encode(make_envelope()).replace(b'"partial":false,', b""),
        wire.encode(make_envelope()).replace(b'"planned_s":60.0', b'"planned_s":60'),
    ],
)
def test_the_fast_decoding_path_refuses_what_is_not_canonical(raw: bytes) -> None:
    assert wire._decode_canonical(wire.Envelope, raw) is None
    with pytest.raises(wire.WireError):
        wire.decode_envelope(raw)


# --- a quantity added after v1's agents: absent is null (docs/wire-contract.md) -------------


@pytest.mark.parametrize("name", quantities.ABSENT_IS_NULL)
def test_a_window_from_an_agent_before_the_quantity_is_accepted_and_verifies(name: str) -> None:
    # An agent built before the quantity existed writes no key for it: the bytes below are
    # what it sends (make_window sets no value, the model leaves the None out).
    raw = wire.encode(make_envelope())
    assert name.encode() not in raw
    assert name not in json.loads(raw)["records"][0]
    exact, compiled = wire.decode_envelope(raw), wire.decode_windows(raw)
    assert getattr(exact.records[0], name) is None
    assert getattr(compiled.records[0], name) is None
    wire.verify_received(raw, compiled, KEY.public_key())
    wire.verify(exact, KEY.public_key())


@pytest.mark.parametrize("name", quantities.ABSENT_IS_NULL)
def test_an_absent_is_null_quantity_travels_when_known_and_is_signed(name: str) -> None:
    # 11.5 s fits both rules: idle + down for unsampled_run_s, planned_s for inferred_planned_s.
    raw = wire.encode(make_envelope(records=[make_window(**{name: 11.5})]))
    key = f'"{name}":'.encode()
    assert key + b"11.5" in raw
    compiled = wire.decode_windows(raw)
    assert getattr(compiled.records[0], name) == 11.5
    assert getattr(wire.decode_envelope(raw).records[0], name) == 11.5
    wire.verify_received(raw, compiled, KEY.public_key())
    tampered = raw.replace(key + b"11.5", key + b"1.5")
    with pytest.raises(wire.BadSignature):
        wire.verify_received(tampered, wire.decode_windows(tampered), KEY.public_key())


@pytest.mark.parametrize("name", quantities.ABSENT_IS_NULL)
def test_an_absent_is_null_quantity_written_as_null_is_not_canonical(name: str) -> None:
    # One spelling per message: null is written by leaving the key out, on both codecs.
    message = valid_dict()
    message["records"][0][name] = None
    raw = wire.canonical_bytes(message)
    with pytest.raises(wire.NotCanonical):
        wire.decode_envelope(raw)
    with pytest.raises(wire.NotCanonical):
        wire.decode_windows(raw)


def test_only_absent_is_null_quantities_may_be_left_out() -> None:
    # Every other key is written, null or not: leaving one out is not canonical (or invalid
    # where the model has no default), as before.
    assert quantities.ABSENT_IS_NULL == ("unsampled_run_s", "inferred_planned_s")
    for name in ("ideal_good_s", "unobserved_count", "kind", "partial"):
        message = valid_dict()
        del message["records"][0][name]
        with pytest.raises(wire.NotCanonical):
            wire.decode_windows(wire.canonical_bytes(message))
    with pytest.raises(ValueError, match="only an optional quantity"):
        quantities.Quantity("x_s", "s", "float", "sum", False, "x", absent_is_null=True)
