"""The wire contract between agents and the collector: topics, messages, bytes, signatures.

This is the one copy: the agent builds and signs messages with it, the collector parses and
verifies them with it. It imports only the standard library, pydantic and cryptography, so the
collector installs no device library to read it. ``docs/wire-contract.md`` is its prose twin.

Messages travel as canonical JSON (:func:`canonical_bytes`): UTF-8, keys sorted, no whitespace,
finite floats in Python's shortest round-trip form, datetimes as ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
A received message must *be* canonical (re-encoding what was parsed gives the same bytes), so
no byte of it can change without either breaking that rule or changing a signed value.

Error tree (all carry ``code`` for the collector's quarantine and ``field`` where one is at fault)::

    WireError
    ├── TooLarge            code "too_large"
    ├── NotJson             code "not_json"
    ├── UnsupportedVersion  code "unsupported_version"
    ├── InvalidMessage      code "invalid"        (schema, ranges, identifiers)
    ├── NotCanonical        code "not_canonical"
    ├── BadSignature        code "bad_signature"
    └── BadTopic            code "bad_topic"
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from contract import quantities

__all__ = [
    "CONFIG_DIGEST_PATTERN",
    "IDENTIFIER_PATTERN",
    "MAX_MESSAGE_BYTES",
    "MAX_RECORDS",
    "MAX_WINDOW_S",
    "STATUS_FILTER",
    "SUMMED_FIELDS",
    "TOPIC_ROOT",
    "WINDOWS_FILTER",
    "WIRE_VERSION",
    "BadSignature",
    "BadTopic",
    "DataQuality",
    "Envelope",
    "InvalidMessage",
    "KpiWindow",
    "NotCanonical",
    "NotJson",
    "StatusMessage",
    "TooLarge",
    "TopicAddress",
    "UnsupportedVersion",
    "WireError",
    "canonical_bytes",
    "config_digest",
    "decode_envelope",
    "decode_status",
    "encode",
    "format_timestamp",
    "parse_timestamp",
    "parse_topic",
    "public_key_from_text",
    "public_key_text",
    "seal_envelope",
    "seal_envelope_bytes",
    "seal_status",
    "shared_filter",
    "status_topic",
    "validate_identifier",
    "verify",
    "verify_received",
    "windows_topic",
]

WIRE_VERSION = 1
TOPIC_ROOT = "rv/v1"
WINDOWS_FILTER = f"{TOPIC_ROOT}/+/+/+/windows"
STATUS_FILTER = f"{TOPIC_ROOT}/+/+/+/status"

#: Largest message either side accepts, in bytes. 500 records of about 600 bytes fit with room.
MAX_MESSAGE_BYTES = 512 * 1024
#: Most records in one envelope.
MAX_RECORDS = 500
#: Longest window a record may cover: a day, for imported per-shift or per-day historian rows.
MAX_WINDOW_S = 86_400
#: Largest count a record may carry: InfluxDB's int64 field range.
MAX_COUNT = 2**63 - 1
#: Largest seq: also int64, so it fits SQLite and InfluxDB.
MAX_SEQ = 2**63 - 1
#: Longest free-text field (a status message's last error).
MAX_TEXT = 500
#: Slack allowed when state times are summed against the window length (float rounding).
STATE_SUM_TOLERANCE_S = 1e-3

#: Platform, enterprise, agent and device ids: they become MQTT topic levels, InfluxDB tag values
#: and file names, so only ASCII letters, digits, ``.``, ``_`` and ``-``; no ``/ + #``, no
#: whitespace, no leading ``$`` (MQTT's system topics) or dot, 1 to 64 characters.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
CONFIG_DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
_IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_PUBLIC_KEY_PREFIX = "ed25519:"


# --- errors -------------------------------------------------------------------------------


class WireError(ValueError):
    """A message that breaks the wire contract; ``code`` says which rule, ``field`` where."""

    code = "wire"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        super().__init__(f"{field}: {detail}" if field else detail)


class TooLarge(WireError):
    code = "too_large"


class NotJson(WireError):
    code = "not_json"


class UnsupportedVersion(WireError):
    code = "unsupported_version"


class InvalidMessage(WireError):
    code = "invalid"


class NotCanonical(WireError):
    code = "not_canonical"


class BadSignature(WireError):
    code = "bad_signature"


class BadTopic(WireError):
    code = "bad_topic"


# --- identifiers and topics ---------------------------------------------------------------


def validate_identifier(value: str, *, what: str = "identifier") -> str:
    """Return ``value`` if it is a valid platform, enterprise, agent or device id; else BadTopic."""
    if not _IDENTIFIER_RE.fullmatch(value):
        raise BadTopic(
            f"{value[:80]!r} is not a valid id: expected 1-64 of A-Z a-z 0-9 . _ -, "
            "starting with a letter or digit",
            field=what,
        )
    return value


class TopicAddress(BaseModel):
    """Who a topic belongs to and which kind of message it carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: str
    enterprise: str
    agent: str
    kind: Literal["windows", "status"]


def _topic(platform: str, enterprise: str, agent: str, kind: str) -> str:
    validate_identifier(platform, what="platform")
    validate_identifier(enterprise, what="enterprise")
    validate_identifier(agent, what="agent")
    return f"{TOPIC_ROOT}/{platform}/{enterprise}/{agent}/{kind}"


def windows_topic(platform: str, enterprise: str, agent: str) -> str:
    """``rv/v1/{platform}/{enterprise}/{agent}/windows``: signed KPI window batches, QoS 1."""
    return _topic(platform, enterprise, agent, "windows")


def status_topic(platform: str, enterprise: str, agent: str) -> str:
    """``rv/v1/{platform}/{enterprise}/{agent}/status``: retained birth and Last Will."""
    return _topic(platform, enterprise, agent, "status")


def shared_filter(group: str, kind: Literal["windows", "status"]) -> str:
    """Shared-subscription filter ``$share/{group}/rv/v1/+/+/+/{kind}`` for collector replicas."""
    validate_identifier(group, what="group")
    return f"$share/{group}/{TOPIC_ROOT}/+/+/+/{kind}"


def parse_topic(topic: str) -> TopicAddress:
    """Split a received topic into its address; raise :class:`BadTopic` for anything else."""
    levels = topic.split("/")
    if len(levels) != 6 or "/".join(levels[:2]) != TOPIC_ROOT:
        raise BadTopic(f"{topic[:200]!r} is not rv/v1/<platform>/<enterprise>/<agent>/<kind>")
    _, _, platform, enterprise, agent, kind = levels
    if kind not in ("windows", "status"):
        raise BadTopic(f"unknown message kind {kind[:40]!r}: expected windows or status")
    return TopicAddress(
        platform=validate_identifier(platform, what="platform"),
        enterprise=validate_identifier(enterprise, what="enterprise"),
        agent=validate_identifier(agent, what="agent"),
        kind="windows" if kind == "windows" else "status",
    )


# --- field types --------------------------------------------------------------------------


def format_timestamp(moment: datetime) -> str:
    """The wire form of a datetime: UTC, millisecond precision, ``Z`` suffix."""
    # Every datetime of a wire model is in UTC, and the windows of one envelope share their
    # start and end: formatting each distinct instant once took a tenth of the collector's
    # CPU off its canonical check. Equal aware datetimes are the same instant, so one text.
    return _format_utc(moment if moment.tzinfo is UTC else moment.astimezone(UTC))


@functools.lru_cache(maxsize=1024)
def _format_utc(moment: datetime) -> str:
    if moment.year >= 1000:  # isoformat is the same text as strftime here, at half the cost
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # less "+00:00"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@functools.lru_cache(maxsize=1024)
def parse_timestamp(text: str) -> datetime:
    """Parse the wire form of a datetime exactly; raise ValueError for any other form.

    Cached (a datetime is immutable): the windows of an envelope share their times.
    """
    if not _TIMESTAMP_RE.fullmatch(text):
        raise ValueError(f"expected YYYY-MM-DDTHH:MM:SS.mmmZ, got {text[:40]!r}")
    # Python 3.11 reads the Z as UTC itself, at a tenth of the cost of replace(tzinfo=UTC).
    return datetime.fromisoformat(text)


def _utc_ms(value: datetime) -> datetime:
    """An aware datetime in UTC; ValueError if naive or finer than a millisecond."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    if value.microsecond % 1000:
        raise ValueError("sub-millisecond precision cannot be carried on the wire")
    return value.astimezone(UTC)


def _to_utc_ms(value: object) -> object:
    """Accept a wire string or an aware datetime, normalised to UTC; naive datetimes are refused."""
    if isinstance(value, str):
        return parse_timestamp(value)
    if isinstance(value, datetime):
        return _utc_ms(value)
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_to_utc_ms),
    PlainSerializer(format_timestamp, return_type=str),
]
Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]
Seconds = Annotated[float, Field(ge=0, le=MAX_WINDOW_S, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
EnergyKwh = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]


class _FieldRule(ValueError):
    """A cross-field rule broken inside a model; ``field`` names the field to blame."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        super().__init__(detail)


class _WireModel(BaseModel):
    # strict: a count sent as 3.0 or a flag sent as 1 is an error, not a coercion.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- records ------------------------------------------------------------------------------


class DataQuality(_WireModel):
    """How much of a window rests on good data; see docs/kpi.md for each field's definition."""

    samples: Count
    missed_polls: Count
    bad_values: Count
    comm_loss_s: Seconds
    scheduled_comm_loss_s: Seconds
    counter_resets: Count
    meter_resets: Count
    clock_jumps: Count


class KpiWindow(_WireModel):
    """One device's base quantities over one window ``[start, end)``.

    Never ratios: OEE and every other ratio over any period is computed from sums of these.
    A quantity the device has no signal for is ``None`` (not measured), never 0.
    """

    kind: Literal["kpi_window"] = "kpi_window"
    device: Identifier
    start: Timestamp
    end: Timestamp
    provenance: Literal["measured", "imported"]
    partial: bool = False
    config_digest: Annotated[str, Field(pattern=CONFIG_DIGEST_PATTERN)]
    scheduled_s: Seconds
    planned_s: Seconds
    run_s: Seconds | None
    idle_s: Seconds | None
    down_s: Seconds | None
    off_s: Seconds | None
    planned_stop_s: Seconds | None
    total_count: Count | None
    good_count: Count | None
    reject_count: Count | None
    energy_kwh: EnergyKwh | None
    ideal_cycle_s: Annotated[float, Field(gt=0, le=MAX_WINDOW_S, allow_inf_nan=False)] | None
    quality: DataQuality

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return (self.end - self.start).total_seconds()

    @model_validator(mode="after")
    def _times_fit_the_window(self) -> KpiWindow:
        duration = self.duration_s
        if duration <= 0:
            raise _FieldRule(
                "end",
                f"window ends at {format_timestamp(self.end)}, not after its start "
                f"{format_timestamp(self.start)}",
            )
        if duration > MAX_WINDOW_S:
            raise _FieldRule("end", f"window is {duration:g} s long, over {MAX_WINDOW_S} s")
        state_sum = 0.0  # summed in this order, as before: the tolerance sees the same float
        for name in quantities.STATE_TIMES:
            state_s: float | None = getattr(self, name)
            if state_s is not None:
                state_sum += state_s
        state_sum += self.quality.comm_loss_s
        if state_sum > duration + STATE_SUM_TOLERANCE_S:
            raise _FieldRule(
                "run_s",
                f"state times plus comm loss add up to {state_sum:g} s, more than the "
                f"window's {duration:g} s",
            )
        for name, value in (("scheduled_s", self.scheduled_s), ("planned_s", self.planned_s)):
            if value > duration + STATE_SUM_TOLERANCE_S:
                raise _FieldRule(name, f"{value:g} s is more than the window's {duration:g} s")
        if (
            self.quality.scheduled_comm_loss_s
            > min(self.quality.comm_loss_s, self.scheduled_s) + STATE_SUM_TOLERANCE_S
        ):
            raise _FieldRule(
                "quality.scheduled_comm_loss_s",
                f"{self.quality.scheduled_comm_loss_s:g} s is more than the comm loss "
                f"({self.quality.comm_loss_s:g} s) or the scheduled time ({self.scheduled_s:g} s)",
            )
        return self


#: The KpiWindow fields that add up over time and devices: every KPI is a ratio of their sums
#: (docs/kpi.md). Merging windows, daily rollups and evidence all sum exactly these, and every
#: DataQuality field. Defined once, with their units, in :mod:`contract.quantities`.
SUMMED_FIELDS = quantities.SUMMED_FIELDS


# --- signed messages ----------------------------------------------------------------------


class _Signed(_WireModel):
    v: int
    platform: Identifier
    enterprise: Identifier
    agent: Identifier
    sent: Timestamp
    sig: Annotated[str, Field(min_length=1, max_length=200)]

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers: the whole message without ``sig``."""
        return canonical_bytes(self.model_dump(mode="json", exclude={"sig"}))


class Envelope(_Signed):
    """A signed batch of records from one agent: ``{v, platform, enterprise, agent, seq, sent,
    records[], sig}``. ``seq`` is per agent, starts at 1 and is never reused."""

    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    records: Annotated[list[KpiWindow], Field(min_length=1, max_length=MAX_RECORDS)]


class StatusMessage(_Signed):
    """An agent's retained birth (``online``) or Last Will (``offline``)."""

    state: Literal["online", "offline"]
    agent_version: Annotated[str, Field(max_length=64)]
    config_digest: Annotated[str, Field(pattern=CONFIG_DIGEST_PATTERN)]
    outbox_depth: Count
    outbox_full: bool = False
    last_error: Annotated[str, Field(max_length=MAX_TEXT)] | None = None


# --- canonical encoding -------------------------------------------------------------------


def canonical_bytes(value: object) -> bytes:
    """Canonical JSON: UTF-8, sorted keys, no whitespace, finite numbers only.

    Raises ValueError for NaN or infinity (``allow_nan=False``).
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def encode(message: Envelope | StatusMessage) -> bytes:
    """The bytes to publish for a sealed message."""
    return canonical_bytes(message.model_dump(mode="json"))


def config_digest(config_text: bytes) -> str:
    """``sha256:<hex>`` of an agent's effective configuration, carried in every window."""
    return "sha256:" + hashlib.sha256(config_text).hexdigest()


# --- keys and signatures ------------------------------------------------------------------


def public_key_text(key: Ed25519PublicKey) -> str:
    """The registry's form of a public key: ``ed25519:`` + base64 of the 32 raw bytes."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _PUBLIC_KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Parse ``ed25519:<base64>``; raise ValueError naming what is wrong."""
    text = text.strip()
    if not text.startswith(_PUBLIC_KEY_PREFIX):
        raise ValueError(f"public key must start with {_PUBLIC_KEY_PREFIX!r}")
    try:
        raw = base64.b64decode(text[len(_PUBLIC_KEY_PREFIX) :], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"public key is not valid base64: {exc}") from exc
    if len(raw) != 32:
        raise ValueError(f"public key has {len(raw)} bytes, expected 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def _sign(fields: dict[str, Any], key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.sign(canonical_bytes(fields))).decode("ascii")


_M = TypeVar("_M", Envelope, StatusMessage)


def _seal(model: type[_M], fields: dict[str, Any], key: Ed25519PrivateKey) -> _M:
    unsigned = model.model_validate({**fields, "sig": "-"})
    body = unsigned.model_dump(mode="json", exclude={"sig"})
    return unsigned.model_copy(update={"sig": _sign(body, key)})


def seal_envelope(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    seq: int,
    sent: datetime,
    records: Sequence[KpiWindow],
    key: Ed25519PrivateKey,
) -> Envelope:
    """Build and sign an envelope; raises pydantic ValidationError if a field is out of contract."""
    fields = {
        "v": WIRE_VERSION,
        "platform": platform,
        "enterprise": enterprise,
        "agent": agent,
        "seq": seq,
        "sent": sent,
        "records": list(records),
    }
    return _seal(Envelope, fields, key)


def seal_envelope_bytes(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    seq: int,
    sent: datetime,
    records: Sequence[bytes],
    key: Ed25519PrivateKey,
) -> bytes:
    """The same bytes as ``encode(seal_envelope(...))``, from records already canonical.

    The agent's outbox stores each window as its canonical bytes when it closes; sealing a
    batch then only joins them, so no record is parsed, validated or encoded twice. The
    caller guarantees each item is ``canonical_bytes`` of a valid :class:`KpiWindow` (the
    outbox wrote them so); everything else is checked here. Raises ValueError.
    """
    for name, value in (("platform", platform), ("enterprise", enterprise), ("agent", agent)):
        validate_identifier(value, what=name)
    if not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"seq {seq} out of 1..{MAX_SEQ}")
    if not 1 <= len(records) <= MAX_RECORDS:
        raise ValueError(f"{len(records)} records, expected 1..{MAX_RECORDS}")
    # Canonical JSON sorts keys: agent, enterprise, platform, records, sent, seq, sig, v.
    head = canonical_bytes({"agent": agent, "enterprise": enterprise, "platform": platform})[:-1]
    middle = b',"records":[' + b",".join(records) + b"]"
    sent_text = format_timestamp(_utc_ms(sent))
    tail = b',"sent":' + canonical_bytes(sent_text) + b',"seq":' + str(seq).encode()
    version = b',"v":' + str(WIRE_VERSION).encode() + b"}"
    signature = base64.b64encode(key.sign(head + middle + tail + version))
    return head + middle + tail + b',"sig":"' + signature + b'"' + version


def seal_status(
    *,
    platform: str,
    enterprise: str,
    agent: str,
    sent: datetime,
    state: Literal["online", "offline"],
    agent_version: str,
    config_digest: str,
    outbox_depth: int,
    outbox_full: bool = False,
    last_error: str | None = None,
    key: Ed25519PrivateKey,
) -> StatusMessage:
    """Build and sign a status message (birth or Last Will)."""
    fields = {
        "v": WIRE_VERSION,
        "platform": platform,
        "enterprise": enterprise,
        "agent": agent,
        "sent": sent,
        "state": state,
        "agent_version": agent_version,
        "config_digest": config_digest,
        "outbox_depth": outbox_depth,
        "outbox_full": outbox_full,
        "last_error": last_error[:MAX_TEXT] if last_error else None,
    }
    return _seal(StatusMessage, fields, key)


def verify_received(
    raw: bytes | bytearray, message: Envelope | StatusMessage, key: Ed25519PublicKey
) -> None:
    """:func:`verify` for ``message`` as just decoded from exactly ``raw``, without re-encoding.

    A decoded message was proven canonical, so the bytes its signature covers are ``raw``
    without the ``sig`` member: keys are sorted and ``sig`` is never first, and inside a JSON
    string a quote is escaped, so the member's text cannot occur in a value. This saves
    encoding every message a second time on the collector's hot path. ``message`` must be
    what :func:`decode_envelope` / :func:`decode_status` returned for ``raw``. Raises
    BadSignature.
    """
    member = b',"sig":"' + message.sig.encode("ascii") + b'"'
    raw = bytes(raw)
    if raw.count(member) != 1:
        verify(message, key)  # not the bytes of this message: take the long way
        return
    _check_signature(message, key, raw.replace(member, b"", 1))


def verify(message: Envelope | StatusMessage, key: Ed25519PublicKey) -> None:
    """Check the message's signature against the agent's registered key; raise BadSignature."""
    _check_signature(message, key, message.signed_bytes())


def _check_signature(
    message: Envelope | StatusMessage, key: Ed25519PublicKey, signed: bytes
) -> None:
    try:
        signature = base64.b64decode(message.sig, validate=True)
    except binascii.Error as exc:
        raise BadSignature("signature is not valid base64", field="sig") from exc
    # Base64 has spare bits in its last character: refuse any spelling but the canonical one,
    # or a changed byte in the signature could still verify.
    if base64.b64encode(signature).decode("ascii") != message.sig:
        raise BadSignature("signature is not in canonical base64", field="sig")
    try:
        key.verify(signature, signed)
    except InvalidSignature as exc:
        raise BadSignature(
            f"signature does not match agent {message.agent}'s registered key", field="sig"
        ) from exc


# --- decoding -----------------------------------------------------------------------------


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
    parts = [*loc, rule.field] if isinstance(rule, _FieldRule) else list(loc)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "message"


def _validate(model: type[_M], value: dict[str, Any]) -> _M:
    version = value.get("v")
    if version != WIRE_VERSION or isinstance(version, bool):
        raise UnsupportedVersion(
            f"got {str(version)[:20]!r}, this side speaks v={WIRE_VERSION}", field="v"
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        rule = first.get("ctx", {}).get("error")
        detail = str(rule) if isinstance(rule, _FieldRule) else first["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InvalidMessage(detail + more, field=_field_path(first["loc"], rule)) from exc


def _decode(model: type[_M], raw: bytes | bytearray) -> _M:
    raw = bytes(raw)  # paho hands payloads over as bytes or bytearray
    if len(raw) <= MAX_MESSAGE_BYTES and (message := _decode_canonical(model, raw)) is not None:
        return message
    # Not a valid canonical message: the path below finds which rule it breaks, and decides.
    message = _validate(model, _load_json(raw))
    if encode(message) != raw:
        raise NotCanonical(
            "message is not in canonical form (sorted keys, no whitespace, shortest numbers, "
            "timestamps as YYYY-MM-DDTHH:MM:SS.mmmZ)"
        )
    return message


def _decode_canonical(model: type[_M], raw: bytes) -> _M | None:
    """The message ``raw`` encodes if it is valid and canonical, else None; never raises.

    The collector's hot path: pydantic parses and validates the bytes in one pass (no Python
    object tree, no duplicate-key hook). It accepts exactly what the path in :func:`_decode`
    accepts: anything it lets through re-encodes to ``raw`` itself, and canonical bytes hold
    no duplicate key, non-finite number or lone surrogate, so ``json.loads`` reads them as
    the same values and strict validation of those gives this same message. Anything else
    returns None and goes the exact way, which names the rule broken.
    """
    try:
        message = model.model_validate_json(raw)
        if message.v != WIRE_VERSION or encode(message) != raw:
            return None
    except (ValueError, RecursionError):  # ValidationError and encoding errors are ValueErrors
        return None
    return message


def decode_envelope(raw: bytes | bytearray) -> Envelope:
    """Parse and validate a windows message; raise a :class:`WireError` naming the rule broken.

    Does not check the signature: that needs the sender's registered key (:func:`verify`).
    """
    return _decode(Envelope, raw)


def decode_status(raw: bytes | bytearray) -> StatusMessage:
    """Parse and validate a status message; raise a :class:`WireError` naming the rule broken."""
    return _decode(StatusMessage, raw)
