"""The wire contract between agents and the collector: topics, messages, bytes, signatures.

This is the one copy: the agent builds and signs messages with it, the collector parses and
verifies them with it. It imports only the standard library, pydantic, msgspec and
cryptography, so the collector installs no device library to read it.
``docs/wire-contract.md`` is its prose twin.

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

Rooms (private modules; use this face): ``_limits`` (version, sizes, ranges), ``_errors``,
``_topics`` (identifiers and topics), ``_time`` (the wire's timestamps), ``_messages`` (the
models), ``_day_seal`` (the day seal's models), ``_rules`` (cross-field rules of a window and
a day seal), ``_canonical`` (canonical bytes),
``_confirmation`` (the collector's delivery confirmation), ``_signing`` (keys, sealing,
verifying), ``_codec`` (the compiled codec: msgspec Structs of a
received message, the collector's hot path), ``_decode`` (bytes to a validated message).
"""

from contract.wire._canonical import canonical_bytes, config_digest, day_seal_sha256, encode
from contract.wire._codec import (
    ReceivedConfirmation,
    ReceivedDaySeal,
    ReceivedEnvelope,
    ReceivedStatus,
    ReceivedWindow,
    decode_window_compiled,
)
from contract.wire._confirmation import Confirmation, Refusal, SeqRange
from contract.wire._day_seal import DaySeal, DaySealPart, DaySums
from contract.wire._decode import _decode_canonical as _decode_canonical
from contract.wire._decode import _load_json as _load_json
from contract.wire._decode import _validate as _validate
from contract.wire._decode import (
    decode_confirmation,
    decode_day_seal,
    decode_envelope,
    decode_status,
    decode_windows,
)
from contract.wire._errors import (
    BadSignature,
    BadTopic,
    InvalidMessage,
    NotCanonical,
    NotJson,
    TooLarge,
    UnsupportedVersion,
    WireError,
)
from contract.wire._limits import (
    CONFIG_DIGEST_PATTERN,
    MAX_CONFIRMED_RANGES,
    MAX_MESSAGE_BYTES,
    MAX_RECORDS,
    MAX_WINDOW_S,
    WIRE_VERSION,
)
from contract.wire._limits import MAX_COUNT as MAX_COUNT
from contract.wire._limits import MAX_SEQ as MAX_SEQ
from contract.wire._limits import MAX_TEXT as MAX_TEXT
from contract.wire._messages import SUMMED_FIELDS, DataQuality, Envelope, KpiWindow, StatusMessage
from contract.wire._signing import (
    public_key_from_text,
    public_key_text,
    refusal_ranges,
    seal_confirmation,
    seal_day_seal,
    seal_envelope,
    seal_envelope_bytes,
    seal_status,
    seq_ranges,
    verify,
    verify_confirmation,
    verify_received,
)
from contract.wire._time import format_timestamp, parse_timestamp
from contract.wire._topics import (
    DAY_SEALS_FILTER,
    IDENTIFIER_PATTERN,
    STATUS_FILTER,
    TOPIC_ROOT,
    WINDOWS_FILTER,
    TopicAddress,
    TopicKind,
    confirmations_topic,
    day_seals_topic,
    parse_topic,
    shared_filter,
    status_topic,
    validate_identifier,
    windows_topic,
)

# Also on this face, as before the split, though not in __all__ (hence ``X as X``): MAX_COUNT,
# MAX_SEQ and MAX_TEXT (the registry and the tests' strategies read them), and the exact
# decoding path's steps, the yardstick for the fast path in tests/contract/test_wire.py.

__all__ = [
    "CONFIG_DIGEST_PATTERN",
    "DAY_SEALS_FILTER",
    "IDENTIFIER_PATTERN",
    "MAX_CONFIRMED_RANGES",
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
    "Confirmation",
    "DataQuality",
    "DaySeal",
    "DaySealPart",
    "DaySums",
    "Envelope",
    "InvalidMessage",
    "KpiWindow",
    "NotCanonical",
    "NotJson",
    "ReceivedConfirmation",
    "ReceivedDaySeal",
    "ReceivedEnvelope",
    "ReceivedStatus",
    "ReceivedWindow",
    "Refusal",
    "SeqRange",
    "StatusMessage",
    "TooLarge",
    "TopicAddress",
    "TopicKind",
    "UnsupportedVersion",
    "WireError",
    "canonical_bytes",
    "config_digest",
    "confirmations_topic",
    "day_seal_sha256",
    "day_seals_topic",
    "decode_confirmation",
    "decode_day_seal",
    "decode_envelope",
    "decode_status",
    "decode_window_compiled",
    "decode_windows",
    "encode",
    "format_timestamp",
    "parse_timestamp",
    "parse_topic",
    "public_key_from_text",
    "public_key_text",
    "refusal_ranges",
    "seal_confirmation",
    "seal_day_seal",
    "seal_envelope",
    "seal_envelope_bytes",
    "seal_status",
    "seq_ranges",
    "shared_filter",
    "status_topic",
    "validate_identifier",
    "verify",
    "verify_confirmation",
    "verify_received",
    "windows_topic",
]
