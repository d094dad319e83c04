"""Bytes to a validated message: size, JSON, version, schema, then the canonical-form check."""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
from pydantic import ValidationError

from contract.wire._canonical import encode
from contract.wire._codec import (
    ReceivedConfirmation,
    ReceivedDaySeal,
    ReceivedEnvelope,
    ReceivedStatus,
    decode_accepted,
    decode_compiled,
    has_negative_zero,
    has_tiny_float,
)
from contract.wire._confirmation import Confirmation
from contract.wire._day_seal import DaySeal, MessageT
from contract.wire._errors import (
    FieldRule,
    InvalidMessage,
    NotCanonical,
    NotJson,
    TooLarge,
    UnsupportedVersion,
    WireError,
)
from contract.wire._limits import MAX_MESSAGE_BYTES, WIRE_VERSION
from contract.wire._messages import Envelope, StatusMessage


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"duplicate keys {dupes[:5]}")
    return dict(pairs)


def _load_json(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise TooLarge(f"message is {len(raw)} bytes, the limit is {MAX_MESSAGE_BYTES}")
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicate_keys
        )
    except UnicodeDecodeError as exc:
        raise NotJson(f"not UTF-8 at byte {exc.start}") from exc
    except RecursionError as exc:
        raise NotJson("nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, duplicates, int digit limit
        raise NotJson(str(exc)[:200]) from exc
    if not isinstance(value, dict):
        raise NotJson(f"expected a JSON object, got {type(value).__name__}")
    return value


def _field_path(loc: tuple[int | str, ...], rule: object) -> str:
    parts = [*loc, rule.field] if isinstance(rule, FieldRule) else list(loc)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "message"


def _negative_zero(value: object, loc: tuple[int | str, ...] = ()) -> tuple[int | str, ...] | None:
    """Where ``value`` (parsed JSON) holds -0.0, or None."""
    if isinstance(value, float):
        return loc if value == 0 and math.copysign(1.0, value) < 0 else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found = _negative_zero(item, (*loc, key))
        if found is not None:
            return found
    return None


def _validate(model: type[MessageT], value: dict[str, Any]) -> MessageT:
    version = value.get("v")
    if version != WIRE_VERSION or isinstance(version, bool):
        raise UnsupportedVersion(
            f"got {str(version)[:20]!r}, this side speaks v={WIRE_VERSION}", field="v"
        )
    where = _negative_zero(value)
    if where is not None:
        # InfluxDB's JSON writes -0.0 as -0, read back as the integer 0: a stored window would
        # no longer rebuild to its signed bytes (docs/wire-contract.md).
        raise InvalidMessage("-0.0 is not a wire number: send 0.0", field=_field_path(where, None))
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        rule = first.get("ctx", {}).get("error")
        detail = str(rule) if isinstance(rule, FieldRule) else first["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidMessage(detail + more, field=_field_path(first["loc"], rule)) from exc


def _decode(model: type[MessageT], raw: bytes | bytearray) -> MessageT:
    raw = bytes(raw)  # paho hands payloads over as bytes or bytearray
    if len(raw) <= MAX_MESSAGE_BYTES and (message := _decode_canonical(model, raw)) is not None:
        return message
    # Not a valid canonical message: the path below finds which rule it breaks, and decides.
    return _decode_exact(model, raw)


def _decode_exact(model: type[MessageT], raw: bytes) -> MessageT:
    """json.loads, the models, Python's encoder: the rules as written; names the rule broken."""
    message = _validate(model, _load_json(raw))
    if encode(message) != raw:
        raise NotCanonical(
            "message is not in canonical form (sorted keys, no whitespace, shortest numbers, "
            "timestamps as YYYY-MM-DDTHH:MM:SS.mmmZ)"
        )
    return message


#: The compiled codec's twin of each model.
_RECEIVED: dict[type[Any], type[Any]] = {
    Envelope: ReceivedEnvelope,
    StatusMessage: ReceivedStatus,
    DaySeal: ReceivedDaySeal,
    Confirmation: ReceivedConfirmation,
}


def _decode_canonical(model: type[MessageT], raw: bytes) -> MessageT | None:
    """The message ``raw`` encodes if it is valid and canonical, else None; never raises.

    The compiled codec decides (:mod:`contract.wire._codec`: parsed, checked and re-encoded
    in C, held equal to the exact path by tests/contract/test_wire_codec.py); pydantic then
    only builds the model, with no second encoding. Anything else returns None and goes the
    exact way, which names the rule broken.
    """
    checked = decode_compiled(_RECEIVED[model], raw)
    if checked is None:
        # msgspec writes tiny floats unlike Python, and -0.0 is refused only by the exact path:
        # a message holding either is decided there.
        if has_tiny_float(raw) or has_negative_zero(raw):
            try:
                return _decode_exact(model, raw)
            except WireError:
                return None
        return None
    try:
        return model.model_validate_json(raw)
    except ValueError:  # never seen: the codecs are held equal; the exact path decides
        return None


def decode_envelope(raw: bytes | bytearray) -> Envelope:
    """Parse and validate a windows message; raise a :class:`WireError` naming the rule broken.

    Does not check the signature: that needs the sender's registered key (:func:`verify`).
    """
    return _decode(Envelope, raw)


def decode_windows(raw: bytes | bytearray) -> ReceivedEnvelope:
    """:func:`decode_envelope` for the collector's hot path: the compiled codec's Structs.

    The same rules, the same errors (a message the compiled codec does not accept goes the
    exact way, which names the rule broken); ``tests/contract/test_wire_codec.py`` holds it.
    """
    raw = bytes(raw)
    if len(raw) <= MAX_MESSAGE_BYTES:
        message = decode_compiled(ReceivedEnvelope, raw)
        if message is not None:
            return message
    _decode_exact(Envelope, raw)
    # Valid and canonical, but holding a float below 1e-4 (msgspec writes those otherwise).
    try:
        return decode_accepted(ReceivedEnvelope, raw)
    except (msgspec.DecodeError, ValueError) as exc:  # the codecs disagree: refuse, say so
        raise InvalidMessage(f"refused by the compiled codec: {str(exc)[:200]}") from exc


def decode_status(raw: bytes | bytearray) -> StatusMessage:
    """Parse and validate a status message; raise a :class:`WireError` naming the rule broken."""
    return _decode(StatusMessage, raw)


def decode_day_seal(raw: bytes | bytearray) -> DaySeal:
    """Parse and validate a day seal; raise a :class:`WireError` naming the rule broken.

    Does not check the signature (:func:`verify` with the agent's registered key), nor that
    its zone is the enterprise's or its chain is whole: those need the plan and the registry.
    """
    return _decode(DaySeal, raw)


def decode_confirmation(raw: bytes | bytearray) -> Confirmation:
    """Parse and validate a delivery confirmation; raise a :class:`WireError` naming the rule
    broken.

    Does not check the signature: the agent verifies it with the collector confirmation keys
    it pins (:func:`verify_confirmation`).
    """
    return _decode(Confirmation, raw)
