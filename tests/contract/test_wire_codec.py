"""The compiled codec (msgspec) against the pydantic one, on generated and mutated messages.

The yardstick is the exact path the wire contract is written as: ``json.loads``, the pydantic
models, Python's canonical encoder. On every message both must refuse with the same error
(class, field, text) or accept with the same values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import quantities, wire
from contract.wire import _codec
from tests.contract.test_wire import INVALID, KEY, make_envelope, make_window, valid_dict
from tests.contract.wire_strategies import envelopes

Outcome = tuple[str, str | None, str] | dict[str, Any]


def _pydantic(raw: bytes) -> Outcome:
    """What the pydantic codec makes of ``raw``: its values, or its error."""
    try:
        if len(raw) > wire.MAX_MESSAGE_BYTES:
            raise wire.TooLarge(
                f"message is {len(raw)} bytes, the limit is {wire.MAX_MESSAGE_BYTES}"
            )
        message = wire._validate(wire.Envelope, wire._load_json(raw))
        if wire.encode(message) != raw:
            raise wire.NotCanonical("not canonical")
    except wire.WireError as exc:
        return (exc.code, exc.field, str(exc) if exc.code != "not_canonical" else "")
    values: dict[str, Any] = message.model_dump(mode="json")
    return values


def _compiled(raw: bytes) -> Outcome:
    """What :func:`wire.decode_windows` makes of ``raw``: its values, or its error."""
    try:
        message = wire.decode_windows(raw)
    except wire.WireError as exc:
        return (exc.code, exc.field, str(exc) if exc.code != "not_canonical" else "")
    values: dict[str, Any] = msgspec.to_builtins(message)
    return values


def _same(raw: bytes) -> None:
    assert _compiled(raw) == _pydantic(raw)
    fast = _codec.decode_compiled(wire.ReceivedEnvelope, raw)
    if fast is not None:  # the compiled path alone never accepts what the exact path refuses
        assert msgspec.to_builtins(fast) == _pydantic(raw)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes(KEY))
def test_valid_messages_decode_to_the_same_values(envelope: wire.Envelope) -> None:
    raw = wire.encode(envelope)
    assert isinstance(_pydantic(raw), dict)
    _same(raw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_changed_bytes_get_the_same_verdict(data: st.DataObject) -> None:
    raw = wire.encode(data.draw(envelopes(KEY)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    _same(raw[:position] + bytes([raw[position] ^ flip]) + raw[position + 1 :])
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    _same(raw[:cut] + raw[cut + 1 :])
    insert = data.draw(st.sampled_from([b" ", b"0", b"\\n", b'"', b",", b"e", b"-", b"\n"]))
    _same(raw[:cut] + insert + raw[cut:])


@pytest.mark.parametrize("case", sorted(INVALID))
def test_every_invalid_message_gets_the_same_error(case: str) -> None:
    mutate, _, _ = INVALID[case]
    message = valid_dict()
    mutate(message)
    _same(wire.canonical_bytes(message))


RAW = wire.encode(make_envelope())

# Where the two libraries differ in what they take for granted: each must come out the same.
EDGES = {
    "id ending in a newline": RAW.replace(b'"press-1"', b'"press-1\\n"'),
    "id spelled with an escape": RAW.replace(b'"press-1"', b'"\\u0070ress-1"'),
    "digest ending in a newline": RAW.replace(b'","device"', b'\\n","device"'),
    "year before 1000": RAW.replace(b'"2026-11-25T08:00:00.000Z"', b'"0999-11-25T08:00:00.000Z"'),
    "month 13": RAW.replace(b'"2026-11-25T08:01:00.000Z"', b'"2026-13-25T08:01:00.000Z"'),
    "30 February": RAW.replace(b'"2026-11-25T08:01:00.000Z"', b'"2026-02-30T08:01:00.000Z"'),
    "hour 24": RAW.replace(b'"2026-11-25T08:01:01.000Z"', b'"2026-11-25T24:01:01.000Z"'),
    "non-ASCII digit": RAW.replace(
        b'"2026-11-25T08:01:01.000Z"', '"2026-11-25T0٨:01:01.000Z"'.encode()
    ),
    "negative zero": RAW.replace(b'"off_s":0.0', b'"off_s":-0.0'),
    "tiny energy, Python's form": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":1e-05'),
    "tiny energy, msgspec's form": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":0.00001'),
    "tinier energy, Python's form": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":1e-07'),
    "tinier energy, msgspec's form": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":1e-7'),
    "smallest float": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":5e-324'),
    "largest energy": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":1000000000000.0'),
    "energy over the limit": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":1e+16'),
    "energy as an integer": RAW.replace(b'"energy_kwh":0.25', b'"energy_kwh":1'),
    "count as 1.0": RAW.replace(b'"total_count":12', b'"total_count":12.0'),
    "count of 2**64": RAW.replace(b'"total_count":12', b'"total_count":18446744073709551616'),
    "version as 1.0": RAW.replace(b'"v":1}', b'"v":1.0}'),
    "version as true": RAW.replace(b'"v":1}', b'"v":true}'),
    "seq as a string": RAW.replace(b'"seq":1', b'"seq":"1"'),
    "duplicate key, nested": RAW.replace(b'"samples":60', b'"samples":60,"samples":60'),
    "kind spelled out": RAW.replace(b'"kind":"kpi_window"', b'"kind":"kpi_window "'),
    "null quality": RAW.replace(b'"quality":{', b'"quality":null,"x":{'),
    "trailing newline": RAW + b"\n",
    "byte order mark": b"\xef\xbb\xbf" + RAW,
    "records not a list": RAW.replace(b'"records":[', b'"records":{"a":').replace(
        b'}],"sent"', b'}},"sent"'
    ),
    "lone surrogate in sig": RAW.replace(b'"sig":"', b'"sig":"\\ud800'),
    "escaped solidus in sig": RAW.replace(b'"sig":"', b'"sig":"\\/'),
    # An absent-is-null quantity: left out when null (RAW), written when known, never null.
    "absent-is-null key written as null": RAW.replace(
        b'"unobserved_count":null}', b'"unobserved_count":null,"unsampled_run_s":null}'
    ),
    "absent-is-null key with a value": RAW.replace(
        b'"unobserved_count":null}', b'"unobserved_count":null,"unsampled_run_s":3.5}'
    ),
    "absent-is-null key out of order": RAW.replace(
        b'"total_count":12,', b'"total_count":12,"unsampled_run_s":3.5,'
    ),
    "inferred planned time written as null": RAW.replace(
        b'"idle_s":6.5,', b'"idle_s":6.5,"inferred_planned_s":null,'
    ),
    "inferred planned time with a value": RAW.replace(
        b'"idle_s":6.5,', b'"idle_s":6.5,"inferred_planned_s":30.0,'
    ),
    "inferred planned time over the planned time": RAW.replace(
        b'"idle_s":6.5,', b'"idle_s":6.5,"inferred_planned_s":61.0,'
    ),
}


@pytest.mark.parametrize("case", sorted(EDGES))
def test_edge_cases_get_the_same_verdict(case: str) -> None:
    raw = EDGES[case]
    assert raw != RAW
    _same(raw)


def test_a_valid_tiny_float_is_accepted_the_exact_way() -> None:
    raw = wire.encode(make_envelope(records=[make_window(energy_kwh=1e-05)]))
    assert _codec.decode_compiled(wire.ReceivedEnvelope, raw) is None
    assert wire.decode_windows(raw).records[0].energy_kwh == 1e-05


def test_received_windows_carry_the_quantities_of_the_one_list() -> None:
    window = wire.decode_windows(RAW).records[0]
    names = set(window.__struct_fields__)
    for quantity in (*quantities.BASE_QUANTITIES, *quantities.REFERENCE):
        assert quantity.name in names
    assert set(window.quality.__struct_fields__) == {q.name for q in quantities.QUALITY_QUANTITIES}
    assert window.start_time == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_signed_bytes_of_a_received_envelope_are_the_pydantic_ones() -> None:
    envelope = make_envelope(
        records=[
            make_window(energy_kwh=1e-05),
            make_window(device="b"),
            make_window(device="c", unsampled_run_s=2.5),  # absent-is-null, here present
            make_window(device="d", inferred_planned_s=42.25),
        ]
    )
    raw = wire.encode(envelope)
    assert wire.decode_windows(raw).signed_bytes() == envelope.signed_bytes()
    wire.verify_received(raw, wire.decode_windows(raw), KEY.public_key())


def _status_raw(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "platform": "plat-a",
        "enterprise": "ent-01",
        "agent": "gw-01",
        "sent": datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
        "state": "online",
        "agent_version": "0.1.0",
        "config_digest": wire.config_digest(b"x"),
        "outbox_depth": 3,
        "last_error": 'broker said "no" \u2028 \x01',
        "key": KEY,
    }
    return wire.encode(wire.seal_status(**{**fields, **changes}))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_status_messages_get_the_same_verdict(data: st.DataObject) -> None:
    text = data.draw(st.none() | st.text(max_size=wire.MAX_TEXT))
    raw = _status_raw(last_error=text, outbox_depth=data.draw(st.integers(0, 2**63 - 1)))
    position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    flip = data.draw(st.integers(min_value=0, max_value=255))
    for candidate in (raw, raw[:position] + bytes([raw[position] ^ flip]) + raw[position + 1 :]):
        try:
            expected: Any = wire._validate(wire.StatusMessage, wire._load_json(candidate))
            expected = (
                expected.model_dump(mode="json") if wire.encode(expected) == candidate else None
            )
        except wire.WireError:
            expected = None
        fast = _codec.decode_compiled(wire.ReceivedStatus, candidate)
        if fast is not None or not _codec.has_tiny_float(candidate):
            assert (msgspec.to_builtins(fast) if fast is not None else None) == expected


_LADDER: dict[str, list[Any]] = {
    "float": [0.0, 1e-3, 0.5, 60.0, 86_400.0, 86_400.001, 1e12, 1.0000001e12, 1e15],
    "integer": [0, 1, 2**53, 2**63 - 1, 2**63],
}


@pytest.mark.parametrize(
    "quantity",
    [*quantities.BASE_QUANTITIES, *quantities.REFERENCE, *quantities.QUALITY_QUANTITIES],
    ids=lambda q: q.name,
)
def test_each_quantity_has_the_same_range_in_both_codecs(quantity: quantities.Quantity) -> None:
    # The compiled codec derives a quantity's range from its unit; the pydantic model states it
    # per field. A quantity added to contract/quantities.py with another range fails here.
    message = valid_dict()
    message["records"][0]["end"] = "2026-11-26T08:00:00.000Z"  # a day: seconds up to their limit
    where = message["records"][0]
    if quantity in quantities.QUALITY_QUANTITIES:
        where = where["quality"]
    for value in _LADDER[quantity.kind]:
        where[quantity.name] = value
        _same(wire.canonical_bytes(message))
